"""Standing-person height as a line in the image row of the feet, fitted per static view without calibration."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Perspective:
    """Standing-person height in pixels as a line in the image row of the feet (static camera)."""

    slope: float
    intercept: float

    def height(self, foot_row: float) -> float:
        return self.slope * foot_row + self.intercept

    @classmethod
    def fit(cls, boxes: np.ndarray, tolerance: float = 0.15, agreement: float = 0.07,
            candidates: int = 200) -> Perspective | None:
        """The line most blobs shaped like one standing person agree with closely (height 2.8 to 5.5
        times the width; side-by-side groups are wider, a lower body alone is squatter), then least
        squares on its inliers, trimmed until every kept blob is within ``tolerance`` of the line.

        Agreement first, because two kinds of blob pass the shape test and lie off the line: people
        half seen (a coat the colour of the ground, someone behind a pillar) below it, and in crowds
        people standing one behind the other, whose merged blob is a taller "person", above it. A
        least-squares start lands between the bands. Single people lie on a thin band (one body
        height), the others scatter, so the line through two blobs that the most blobs agree with
        to within ``agreement`` is the single people's."""
        aspect = boxes[:, 3] / np.maximum(boxes[:, 2], 1.0)
        single = boxes[(aspect >= 2.8) & (aspect <= 5.5)]
        if len(single) < 10:
            return None
        foot, height = single[:, 1] + single[:, 3], single[:, 3]
        if np.ptp(foot) < 0.1 * foot.max():
            return None  # everyone stands at the same distance: no line to fit
        keep = _agreeing(foot, height, agreement, candidates)
        for _ in range(8):
            slope, intercept = np.polyfit(foot[keep], height[keep], 1)
            expected = slope * foot + intercept
            inliers = np.abs(height - expected) <= tolerance * np.abs(expected)
            if inliers.sum() < 10 or (inliers == keep).all():
                break
            keep = inliers
        return cls(float(slope), float(intercept)) if slope > 0 else None


def _agreeing(x: np.ndarray, y: np.ndarray, tolerance: float, candidates: int) -> np.ndarray:
    """Points within ``tolerance`` (relative) of the line through two points that the most points
    agree with; every pair of up to ``candidates`` points spread over x is tried (deterministic)."""
    pick = np.argsort(x, kind="stable")[np.linspace(0, len(x) - 1, min(candidates, len(x))).astype(int)]
    i, j = np.triu_indices(len(pick), k=1)
    a, b = pick[i], pick[j]
    usable = x[b] - x[a] >= 0.05 * np.ptp(x)  # two points at nearly the same row give no slope
    a, b = a[usable], b[usable]
    if not len(a):
        return np.ones(len(x), bool)
    slope = (y[b] - y[a]) / (x[b] - x[a])
    intercept = y[a] - slope * x[a]
    votes = np.empty(len(a), np.int64)
    for start in range(0, len(a), 4096):  # (4096, points) at a time: bounded memory
        part = slice(start, start + 4096)
        expected = slope[part, None] * x + intercept[part, None]
        votes[part] = (np.abs(y - expected) <= tolerance * np.abs(expected)).sum(1)
    best = int(np.argmax(votes))
    expected = slope[best] * x + intercept[best]
    inliers = np.abs(y - expected) <= tolerance * np.abs(expected)
    return inliers if inliers.sum() >= 2 else np.ones(len(x), bool)
