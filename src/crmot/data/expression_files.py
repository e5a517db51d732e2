"""The evaluator's layout: per-expression GT folders (``<Scene>_<Sentence>/gt/View<K>.txt``) and
prediction folders (``<Scene>_<Sentence>/View<K>.txt``, xyxy rows), read and written."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from crmot.constants import PRED_TAIL, VIEW_PREFIX
from crmot.data.crtrack import VIEW_FILE, Scene
from crmot.data.errors import CRTrackFormatError
from crmot.data.table import format_table
from crmot.data.tracks import Tracks, read_tracks
from crmot.io import atomic_write_text

ViewTracks = dict[int, Tracks]  # view index K -> rows


def expression_gt(scene: Scene) -> dict[str, ViewTracks]:
    """Per-expression GT derived from ``gt.txt`` + ``tackled_text``: each view keeps the referred ids."""
    out: dict[str, ViewTracks] = {}
    for expr in scene.expressions:
        ids = np.asarray(expr.ids, dtype=np.int64)
        per_view = {}
        for view in scene.views:
            if view.gt is None:
                raise CRTrackFormatError(view.path / "gt" / "gt.txt", "no gt.txt: cannot derive per-expression GT")
            per_view[view.index] = view.gt.select(np.isin(view.gt.ids, ids))
        out[expr.name] = per_view
    return out


def write_expression_gt(gt_root, per_expression: dict[str, ViewTracks]) -> None:
    for name, views in per_expression.items():
        for k, tracks in views.items():
            atomic_write_text(Path(gt_root) / name / "gt" / f"{VIEW_PREFIX}{k}.txt", tracks.sorted().to_text())


def load_expression_gt(gt_root: str | os.PathLike) -> dict[str, ViewTracks]:
    """Read ``<gt_root>/<Scene>_<Sentence>/gt/View<K>.txt`` for every expression folder."""
    return _load_view_files(Path(gt_root), subdir="gt", boxes="xywh")


def load_predictions(pred_root: str | os.PathLike) -> dict[str, ViewTracks]:
    """Read ``<pred_root>/<Scene>_<Sentence>/View<K>.txt`` (xyxy rows) as xywh tracks."""
    return _load_view_files(Path(pred_root), subdir="", boxes="xyxy")


def _load_view_files(root: Path, subdir: str, boxes: str) -> dict[str, ViewTracks]:
    if not root.is_dir():
        raise CRTrackFormatError(root, "not a folder")
    out: dict[str, ViewTracks] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        files = folder / subdir if subdir else folder
        views = {}
        for path in sorted(files.glob(f"{VIEW_PREFIX}*.txt")) if files.is_dir() else []:
            if m := VIEW_FILE.match(path.name):
                views[int(m["k"])] = read_tracks(path, boxes=boxes)
        out[folder.name] = dict(sorted(views.items()))
    return out


def write_predictions(pred_root, expression_name: str, view_index: int, tracks: Tracks) -> Path:
    """Write one view of one expression as ``frame,id,x1,y1,x2,y2,score,-1,-1,-1`` rows."""
    tracks = tracks.sorted()
    x1, y1, x2, y2 = tracks.xyxy.T
    tail = np.tile(np.asarray(PRED_TAIL, dtype=np.float64), (len(tracks), 1))
    text = format_table([tracks.frames, tracks.ids, x1, y1, x2, y2, tracks.scores, *tail.T])
    path = Path(pred_root) / expression_name / f"{VIEW_PREFIX}{view_index}.txt"
    atomic_write_text(path, text)
    return path


def group_by_scene(names) -> dict[str, list[str]]:
    """Expression names grouped by scene, as the official tool does: the text before the first '_'."""
    groups: dict[str, list[str]] = defaultdict(list)
    for name in names:
        groups[name.split("_", 1)[0]].append(name)
    return dict(groups)
