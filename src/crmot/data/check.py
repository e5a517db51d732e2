"""``crmot data check``: validate a CRTrack root and summarise it."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.table import Table

from crmot.constants import SPLITS
from crmot.data import masks
from crmot.data.crtrack import CRTrackFormatError, Scene, images_dir, load_split


@dataclass(frozen=True)
class SceneSummary:
    split: str
    scene: str
    views: int
    frames: int
    boxes: int
    ids: int
    expressions: int
    calibrated: bool
    masks: bool


def check_root(root: str | os.PathLike) -> list[SceneSummary]:
    """Load every split present (raising CRTrackFormatError on the first problem) and summarise it."""
    summaries = []
    splits = [s for s in SPLITS if images_dir(root, s).is_dir()]
    if not splits:
        raise CRTrackFormatError(root, f"no images/{{{','.join(SPLITS)}}} folder: not a CRTrack root")
    for split in splits:
        for scene in load_split(root, split):
            summaries.append(_summarise(scene))
    return summaries


def _summarise(scene: Scene) -> SceneSummary:
    labelled = [v for v in scene.views if v.gt is not None]
    known = set(scene.global_ids().tolist())
    for expr in scene.expressions:
        unknown = set(expr.ids) - known
        if labelled and unknown:
            raise CRTrackFormatError(
                scene.root / "labels_with_ids_text" / scene.split / "tackled_text" / f"{scene.name}.txt",
                f"expression {expr.sentence!r} refers to ids {sorted(unknown)} absent from every view's gt.txt",
            )
    has_masks = bool(labelled) and all(v.masks_path.exists() for v in labelled)
    if has_masks:
        for view in labelled:
            masks.read_jsonl(view.masks_path, expected_rows=len(view.gt))
    return SceneSummary(
        split=scene.split,
        scene=scene.name,
        views=len(scene.views),
        frames=scene.num_frames,
        boxes=int(sum(len(v.gt) for v in labelled)),
        ids=len(known),
        expressions=len(scene.expressions),
        calibrated=scene.calibration is not None,
        masks=has_masks,
    )


def print_summary(summaries: list[SceneSummary], console: Console | None = None, title: str = "") -> None:
    console = console or Console()
    table = Table(title=title or None)
    for column in ("split", "scene", "views", "frames", "boxes", "ids", "expr", "calib", "masks"):
        table.add_column(column, justify="left" if column in ("split", "scene") else "right")
    for s in summaries:
        table.add_row(s.split, s.scene, str(s.views), str(s.frames), str(s.boxes), str(s.ids), str(s.expressions),
                      "yes" if s.calibrated else "no", "yes" if s.masks else "no")
    total = np.array([[s.views, s.boxes, s.expressions] for s in summaries]).sum(axis=0)
    table.add_row("all", f"{len(summaries)} scenes", str(total[0]), "", str(total[1]), "", str(total[2]), "", "", style="bold")
    console.print(table)
