"""Tracklets as records: one per (view, tracklet id), the unit that stage 2 associates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crmot.tracklets.types import Tracklets


@dataclass
class Tracklet:
    """The rows of one tracklet of one view (frames ascending) and its masks."""

    view: int  # K of View<K>
    tid: int  # id in the view's stage-1 file (or a new one for re-prompted / split tracklets)
    frames: np.ndarray  # (N,) int, 1-based, ascending, unique
    boxes: np.ndarray  # (N, 4) xywh
    scores: np.ndarray  # (N,)
    masks: list[dict]  # N COCO RLEs
    source: str = "stage1"  # "stage1" | "split" | "reprompt"

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def first(self) -> int:
        return int(self.frames[0])

    @property
    def last(self) -> int:
        return int(self.frames[-1])

    @property
    def feet(self) -> np.ndarray:
        """(N, 2) bottom-centre pixel of each box: where the person stands."""
        return np.column_stack([self.boxes[:, 0] + self.boxes[:, 2] / 2, self.boxes[:, 1] + self.boxes[:, 3]])

    def take(self, rows: np.ndarray, tid: int | None = None, source: str | None = None) -> Tracklet:
        rows = np.asarray(rows)
        return Tracklet(self.view, self.tid if tid is None else tid, self.frames[rows], self.boxes[rows],
                        self.scores[rows], [self.masks[i] for i in rows.tolist()], source or self.source)


def split_view(view: int, tracklets: Tracklets) -> list[Tracklet]:
    """The records of one view's stage-1 file, ordered by tracklet id."""
    t = tracklets.tracks
    out = []
    for tid in np.unique(t.ids):
        rows = np.flatnonzero(t.ids == tid)
        rows = rows[np.argsort(t.frames[rows], kind="stable")]
        out.append(Tracklet(view, int(tid), t.frames[rows], t.boxes[rows], t.scores[rows],
                            [tracklets.masks[i] for i in rows.tolist()]))
    return out


def overlap_frames(a: Tracklet, b: Tracklet) -> int:
    """Number of frames in which both tracklets have a row."""
    if a.last < b.first or b.last < a.first:
        return 0
    return int(np.intersect1d(a.frames, b.frames, assume_unique=True).size)
