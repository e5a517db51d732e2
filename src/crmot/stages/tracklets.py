"""Stage 1 as a Lightning predict stage: per-view tracklets of every object of the category.

    crmot tracklets predict [--data.root ROOT] [--model.backend ...]

One work unit is one scene (all its views on one rank, so DDP shards scenes); frames are read in
bounded windows by the backend. ``TrackletWriter`` writes ``<output_dir>/<split>/<Scene>/View<K>.txt``
(``frame,tracklet_id,x,y,w,h,score,-1,-1,-1``) and ``View<K>.masks.jsonl``, then, last and atomically,
``<output_dir>/manifests/<split>/<Scene>/manifest.json`` (every stage's layout); a re-run skips
scenes whose manifest matches the backend, prompts and inputs, unless ``--model.overwrite true``.
After all ranks finish, rank 0 writes ``<output_dir>/<split>/quality.json``
wherever the root has ground truth.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.cli import LightningCLI
from rich.console import Console

from crmot import progress
from crmot.constants import CATEGORY
from crmot.data import masks as rle
from crmot.data.crtrack import list_scenes, load_scene
from crmot.data.frames import read_frame
from crmot.io import atomic_write_json
from crmot.stages.launch import run_stage, with_packaged_config
from crmot.stages.manifest import is_done, manifest_dir, modules_of, view_fingerprint, write_manifest
from crmot.stages.scenes import SceneData
from crmot.tracklets.backends import SegmentationBackend
from crmot.tracklets.backends.classical import ClassicalBackend
from crmot.tracklets.io import read_tracklets, write_tracklets
from crmot.tracklets.quality import mean_quality, print_quality, view_quality
from crmot.tracklets.types import Tracklets, VideoSource

log = logging.getLogger(__name__)


@dataclass
class SceneTracklets:
    """What ``predict_step`` returns for one scene; the writer puts it on disk."""

    split: str
    scene: str
    output_dir: Path
    key: dict
    views: dict[int, Tracklets] = field(default_factory=dict)
    seconds: float = 0.0
    frames: int = 0
    skipped: bool = False


class TrackletData(SceneData):
    """Scenes of a CRTrack root as work units (all views of a scene on one rank)."""


class TrackletModule(L.LightningModule):
    """Runs a segmentation backend over every view of a scene."""

    def __init__(self, backend: SegmentationBackend | None = None, prompts: list[str] | None = None,
                 output_dir: str = "runs/demo/tracklets", overwrite: bool = False):
        super().__init__()
        self.backend = backend or ClassicalBackend()
        self.prompts = prompts or [CATEGORY]
        self.output_dir = Path(output_dir)
        self.overwrite = overwrite
        self.code = (__name__, *modules_of(self.backend))  # whose source an output's manifest records

    def on_predict_start(self) -> None:
        self.backend.setup(self.device)
        self.progress = progress.on_rank_zero(self.trainer, "stage 1 frames")

    def on_predict_end(self) -> None:
        progress.stop(self.progress)

    def predict_step(self, unit: dict, batch_idx: int = 0) -> SceneTracklets:
        scene = load_scene(unit["root"], unit["split"], unit["scene"])
        key = {"stage": "tracklets", "backend": self.backend.describe(), "prompts": self.prompts,
               "inputs": {v.name: view_fingerprint(v) for v in scene.views}}
        result = SceneTracklets(scene.split, scene.name, self.output_dir / scene.split / scene.name, key)
        if not self.overwrite and is_done(manifest_dir(self.output_dir, scene.split, scene.name), key, self.code):
            result.skipped = True
            return result
        start = time.perf_counter()
        total = sum(v.seqinfo.seq_length for v in scene.views)
        for view in scene.views:
            info = view.seqinfo
            done_before = result.frames
            report = None
            if getattr(self, "progress", None) is not None:
                def report(done: int, before: int = done_before) -> None:
                    self.progress.advance(f"{scene.split}/{scene.name}", before + done, total)
            video = VideoSource(info.seq_length, info.height, info.width, lambda f, view=view: read_frame(view, f),
                                path=view.frame_path, progress=report)
            result.views[view.index] = self.backend.segment_video(video, self.prompts)
            result.frames += info.seq_length
        result.seconds = time.perf_counter() - start
        return result


class TrackletWriter(BasePredictionWriter):
    """Writes each scene as soon as it is done (atomically, manifest last); rank 0 reports quality."""

    def __init__(self) -> None:
        super().__init__(write_interval="batch")

    def write_on_batch_end(self, trainer, pl_module, prediction: SceneTracklets, batch_indices, batch, batch_idx,
                           dataloader_idx=0) -> None:
        if prediction.skipped:
            log.info("%s/%s: up to date, skipped", prediction.split, prediction.scene)
            return
        for index, tracklets in prediction.views.items():
            write_tracklets(prediction.output_dir, index, tracklets)
        write_manifest(
            manifest_dir(pl_module.output_dir, prediction.split, prediction.scene), prediction.key, pl_module.code,
            pl_module.device, seconds=prediction.seconds,
            frames=prediction.frames,
            frames_per_s=prediction.frames / prediction.seconds if prediction.seconds else None,
            rows={f"View{k}": len(t.tracks) for k, t in prediction.views.items()},
        )
        log.info("%s/%s: %d frames in %.1f s with %s", prediction.split, prediction.scene, prediction.frames,
                 prediction.seconds, prediction.key["backend"]["name"])

    def on_predict_end(self, trainer, pl_module: TrackletModule) -> None:
        trainer.strategy.barrier()
        if trainer.is_global_zero:
            report_quality(trainer.datamodule.root, pl_module.output_dir, trainer.datamodule.splits,
                           pl_module.backend.name)


def report_quality(root: Path, output_dir: Path, splits: list[str], backend: str) -> None:
    """``quality.json`` per split with ground truth: per-view MOTA / IDF1 / recall / precision / mask IoU."""
    console = Console()
    for split in splits:
        items = {}
        for name in list_scenes(root, split):
            scene = load_scene(root, split, name)
            for view in scene.views:
                if view.gt is None or not (output_dir / split / name / f"View{view.index}.txt").exists():
                    continue
                tracklets = read_tracklets(output_dir / split / name, view.index)
                gt_masks = rle.read_jsonl(view.masks_path, len(view.gt)) if view.masks_path.exists() else None
                items[view.folder_name] = (view.gt, gt_masks, tracklets.tracks, tracklets.masks)
        if not items:
            continue
        per_view = view_quality(items)
        atomic_write_json(output_dir / split / "quality.json",
                          {"backend": backend, "protocol": "strict", "mean": mean_quality(per_view), "views": per_view})
        print_quality(per_view, f"stage 1 tracklets vs category GT ({split}, backend {backend})", console)


def main(args: list[str] | None = None) -> None:
    args = with_packaged_config(args, "tracklets.yaml")
    run_stage(lambda: LightningCLI(TrackletModule, TrackletData, save_config_callback=None, args=args))
