"""The work units every stage shares: the scenes of a CRTrack root, one per predict step.

A scene's views stay together on one rank, so DDP shards scenes (Lightning's distributed sampler
splits the list); every scene is validated up front, so bad input fails before any work.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
from torch.utils.data import DataLoader

from crmot.constants import SPLITS
from crmot.data.crtrack import CRTrackFormatError, images_dir, list_scenes, load_scene


class SceneData(L.LightningDataModule):
    def __init__(self, root: str = "data/synth", splits: list[str] | None = None, scenes: list[str] | None = None,
                 labels: bool = True):
        super().__init__()
        self.root = Path(root)
        self.labels = labels  # False: a stage that must not see ground truth validates without reading it
        self.splits = [s for s in (splits or list(SPLITS)) if images_dir(self.root, s).is_dir()]
        self.scenes = scenes
        self.units: list[dict] = []

    def setup(self, stage: str) -> None:
        self.units = []
        for split in self.splits:
            for name in list_scenes(self.root, split):
                if self.scenes is None or name in self.scenes:
                    load_scene(self.root, split, name, self.labels)  # raises CRTrackFormatError naming the file
                    self.units.append({"root": str(self.root), "split": split, "scene": name})
        if not self.units:
            raise CRTrackFormatError(self.root, f"no scene to process in splits {self.splits}")

    def predict_dataloader(self) -> DataLoader:
        return DataLoader(self.units, batch_size=1, collate_fn=lambda batch: batch[0], num_workers=0)
