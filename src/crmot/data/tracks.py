"""Tracks: the rows of one MOT-style file held as column arrays."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from crmot.data.errors import CRTrackFormatError
from crmot.data.table import format_table, read_table
from crmot.data.text import ENCODING


@dataclass(frozen=True)
class Tracks:
    """Boxes of one view: one numpy array per column, never a Python object per row.

    ``boxes`` are top-left ``x, y, w, h`` in pixels; ``frames`` are 1-based; ``ids`` are global
    identities (ground truth, pseudo labels) or per-view tracklet ids (stage 1).
    ``tail`` keeps the columns after the box (score, class, visibility, ...) so that a file
    read and written again is byte-identical.
    """

    frames: np.ndarray
    ids: np.ndarray
    boxes: np.ndarray
    tail: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.frames)
        if self.tail is None:
            object.__setattr__(self, "tail", np.zeros((n, 0), dtype=np.float64))
        if not (len(self.ids) == len(self.boxes) == len(self.tail) == n and self.boxes.shape[1:] == (4,)):
            raise ValueError(f"Tracks columns differ in length: frames {n}, ids {len(self.ids)}, "
                             f"boxes {self.boxes.shape}, tail {self.tail.shape}")

    def __len__(self) -> int:
        return len(self.frames)

    @classmethod
    def empty(cls) -> Tracks:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 4)))

    @classmethod
    def from_table(cls, table: np.ndarray) -> Tracks:
        return cls(
            frames=table[:, 0].astype(np.int64),
            ids=table[:, 1].astype(np.int64),
            boxes=np.ascontiguousarray(table[:, 2:6]),
            tail=np.ascontiguousarray(table[:, 6:]),
        )

    @property
    def scores(self) -> np.ndarray:
        """Confidence column (the 7th); 1 where the file has none."""
        return self.tail[:, 0] if self.tail.shape[1] else np.ones(len(self))

    @property
    def xyxy(self) -> np.ndarray:
        x, y, w, h = self.boxes.T
        return np.stack([x, y, x + w, y + h], axis=1)

    def select(self, mask: np.ndarray) -> Tracks:
        return Tracks(self.frames[mask], self.ids[mask], self.boxes[mask], self.tail[mask])

    def sorted(self) -> Tracks:
        """Rows ordered by (frame, id), the order every writer uses."""
        order = np.lexsort((self.ids, self.frames))
        return self.select(order)

    def to_text(self) -> str:
        cols = [self.frames, self.ids, *self.boxes.T, *self.tail.T]
        return format_table(cols)


def read_tracks(path: str | os.PathLike, *, boxes: str = "xywh", check_duplicates: bool = True) -> Tracks:
    """Read a MOT-style file (``frame,id,a,b,c,d,...``); ``boxes="xyxy"`` converts corner boxes.

    Rows must have integral frame >= 1 and id, a non-negative size, and no (frame, id) twice.
    """
    table = read_table(path, min_columns=6)
    frames, ids = table[:, 0], table[:, 1]
    _check_integral(path, frames, "frame")
    _check_integral(path, ids, "id")
    if len(frames) and frames.min() < 1:
        _raise_at(path, frames < 1, "frame numbers are 1-based; found frame < 1")
    if boxes == "xyxy":
        table = table.copy()
        table[:, 4:6] = table[:, 4:6] - table[:, 2:4]
    elif boxes != "xywh":
        raise ValueError(f"boxes must be 'xywh' or 'xyxy', not {boxes!r}")
    negative = (table[:, 4] < 0) | (table[:, 5] < 0)
    if negative.any():
        what = "x2 < x1 or y2 < y1" if boxes == "xyxy" else "negative width or height"
        _raise_at(path, negative, f"box with {what}")
    tracks = Tracks.from_table(table)
    if check_duplicates:
        _check_unique_frame_id(path, tracks)
    return tracks


def _check_integral(path, values: np.ndarray, what: str) -> None:
    bad = values != np.round(values)
    if bad.any():
        _raise_at(path, bad, f"{what} must be an integer")


def _check_unique_frame_id(path, tracks: Tracks) -> None:
    if len(tracks) < 2:
        return
    key = np.stack([tracks.frames, tracks.ids], axis=1)
    order = np.lexsort((key[:, 1], key[:, 0]))
    dup = np.flatnonzero((np.diff(key[order], axis=0) == 0).all(axis=1))
    if dup.size:
        row = int(order[dup[0] + 1])
        frame, ident = key[row]
        raise CRTrackFormatError(path, f"duplicate (frame, id) = ({frame}, {ident})", _line_of(path, row))


def _raise_at(path, bad_rows: np.ndarray, message: str) -> None:
    row = int(np.flatnonzero(bad_rows)[0])
    raise CRTrackFormatError(path, message, _line_of(path, row))


def _line_of(path, row: int) -> int:
    """1-based line number of the ``row``-th non-blank line (only computed to report an error)."""
    with open(path, encoding=ENCODING) as handle:
        seen = -1
        for number, line in enumerate(handle, start=1):
            if line.strip():
                seen += 1
                if seen == row:
                    return number
    return row + 1
