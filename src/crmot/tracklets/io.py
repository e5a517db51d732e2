"""Tracklet files of one scene: ``View<K>.txt`` (MOT rows) and ``View<K>.masks.jsonl`` (one RLE per row)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crmot.constants import PRED_TAIL, VIEW_PREFIX
from crmot.data import masks as rle
from crmot.data.tracks import Tracks, read_tracks
from crmot.io import atomic_write_text
from crmot.tracklets.types import Tracklets


def rows_path(scene_dir: Path, view_index: int) -> Path:
    return Path(scene_dir) / f"{VIEW_PREFIX}{view_index}.txt"


def masks_path(scene_dir: Path, view_index: int) -> Path:
    return Path(scene_dir) / f"{VIEW_PREFIX}{view_index}.masks.jsonl"


def write_tracklets(scene_dir: Path, view_index: int, tracklets: Tracklets) -> None:
    """``frame,tracklet_id,x,y,w,h,score,-1,-1,-1`` rows, sorted, and their masks in the same order."""
    tracklets = tracklets.sorted()
    t = tracklets.tracks
    tail = np.column_stack([t.scores, np.tile(np.asarray(PRED_TAIL, np.float64), (len(t), 1))]) if len(t) else np.zeros((0, 4))
    atomic_write_text(rows_path(scene_dir, view_index), Tracks(t.frames, t.ids, t.boxes, tail).to_text())
    rle.write_jsonl(masks_path(scene_dir, view_index), tracklets.masks)


def read_tracklets(scene_dir: Path, view_index: int) -> Tracklets:
    tracks = read_tracks(rows_path(scene_dir, view_index))
    return Tracklets(tracks, rle.read_jsonl(masks_path(scene_dir, view_index), expected_rows=len(tracks)))
