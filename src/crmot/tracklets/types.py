"""Tracklets of one view, and the frame access a backend is given."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crmot.data.frames import spread_frames
from crmot.data.tracks import Tracks

_READ_THREADS = 8  # frames decoded at once, at most (fewer on machines with fewer cores)


@dataclass(frozen=True)
class VideoSource:
    """Random access to one view's frames, read lazily (a backend decides what it keeps)."""

    num_frames: int
    height: int
    width: int
    read: Callable[[int], np.ndarray]  # 1-based frame -> (H, W, 3) uint8 RGB
    path: Callable[[int], Path] | None = None  # 1-based frame -> its image file, where frames are files
    progress: Callable[[int], None] | None = None  # told the frames done after each window

    def windows(self, size: int) -> Iterator[tuple[int, np.ndarray]]:
        """``(first_frame, frames[T, H, W, 3])`` windows of at most ``size`` frames: bounded memory
        (two windows). Decoding a frame costs about a third of what the classical backend spends on
        it, so threads decode the next window while the caller works on this one."""
        firsts = range(1, self.num_frames + 1, size)
        pool = _readers()

        def submit(first: int) -> list[Future]:
            return [pool.submit(self.read, f) for f in range(first, min(first + size - 1, self.num_frames) + 1)]

        try:
            pending = submit(firsts[0]) if firsts else []
            for k, first in enumerate(firsts):
                current, pending = pending, submit(firsts[k + 1]) if k + 1 < len(firsts) else []
                yield first, np.stack([future.result() for future in current])
                if self.progress is not None:  # the caller is done with this window
                    self.progress(first + len(current) - 1)
        finally:
            pool.shutdown(cancel_futures=True)  # a caller that stops early (an error) leaves no reads behind

    def spread(self, count: int) -> np.ndarray:
        """``frames[T, H, W, 3]``: at most ``count`` frames spread evenly over the whole video (a
        sample whose memory does not grow with its length), decoded by threads."""
        frames = spread_frames(self.num_frames, count)
        with _readers() as pool:
            return np.stack(list(pool.map(self.read, frames.tolist())))


def _readers() -> ThreadPoolExecutor:
    """Threads that decode frames: JPEG decoding releases the GIL."""
    return ThreadPoolExecutor(min(_READ_THREADS, os.cpu_count() or 1), thread_name_prefix="crmot-read")


@dataclass(frozen=True)
class Tracklets:
    """Per-view tracklets: MOT rows (ids stable inside the view) and one COCO RLE mask per row."""

    tracks: Tracks  # frames, tracklet ids, xywh boxes, tail = [score]
    masks: list[dict]

    def __post_init__(self) -> None:
        if len(self.masks) != len(self.tracks):
            raise ValueError(f"{len(self.masks)} masks for {len(self.tracks)} rows")

    @classmethod
    def empty(cls) -> Tracklets:
        return cls(Tracks(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros((0, 1))), [])

    @classmethod
    def from_rows(cls, rows: list[tuple[int, int, float, dict]]) -> Tracklets:
        """From ``(frame, id, score, mask RLE)`` rows; boxes are the masks' tight boxes."""
        if not rows:
            return cls.empty()
        from crmot.data import masks as rle

        masks = [r[3] for r in rows]
        tracks = Tracks(np.array([r[0] for r in rows], np.int64), np.array([r[1] for r in rows], np.int64),
                        rle.to_boxes(masks), np.array([[r[2]] for r in rows], np.float64))
        return cls(tracks, masks).sorted()

    @property
    def scores(self) -> np.ndarray:
        return self.tracks.scores

    def sorted(self) -> Tracklets:
        order = np.lexsort((self.tracks.ids, self.tracks.frames))
        return Tracklets(self.tracks.select(order), [self.masks[i] for i in order])
