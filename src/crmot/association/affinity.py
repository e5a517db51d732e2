"""Affinity between tracklets: appearance, time, and (when calibrated) where they stand.

Three matrices over all tracklets of a scene: ``score`` (higher = more likely one person), ``known``
(whether the pair has evidence at all: two tracklets of one view far apart in time have none), and
``forbidden`` (cannot be one person: one view at the same instant, or far apart on the ground).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crmot.association.geometry import GroundPlane
from crmot.association.records import Tracklet


@dataclass
class AffinityConfig:
    appearance_weight: float = 1.0
    geometry_weight: float = 0.3  # share of the score given to ground distance (calibrated views only)
    geometry_sigma: float = 0.8  # metres: ground distance at which the geometric evidence halves-ish
    max_ground_distance: float = 2.5  # metres: co-existing tracklets further apart cannot be one person
    no_overlap_penalty: float = 0.08  # cross-view tracklets never seen at the same time: weaker evidence
    max_gap: int = 30  # frames: a view's tracklets further apart in time are not linked directly
    gap_penalty: float = 0.1  # per max_gap of time between two fragments of one view
    overlap_tolerance: int = 1  # frames two tracklets of one view may share (tracker hand-over)


@dataclass
class Affinity:
    score: np.ndarray  # (N, N)
    known: np.ndarray  # (N, N) bool
    forbidden: np.ndarray  # (N, N) bool


def frame_presence(tracklets: list[Tracklet], num_frames: int) -> np.ndarray:
    """(N, F) bool: tracklet i has a row in frame f (1-based frames in columns f-1)."""
    presence = np.zeros((len(tracklets), num_frames), bool)
    for i, t in enumerate(tracklets):
        presence[i, t.frames - 1] = True
    return presence


def ground_distances(tracklets: list[Tracklet], plane: GroundPlane, presence: np.ndarray) -> np.ndarray:
    """(N, N) mean ground distance over co-existing frames (NaN where never together or not mapped)."""
    n, f = presence.shape
    positions = np.full((n, f, 2), np.nan)
    for i, t in enumerate(tracklets):
        if plane.covers(t.view):
            positions[i, t.frames - 1] = plane.feet_to_plane(t.view, t.feet)
    out = np.full((n, n), np.nan)
    for i in range(n):
        diff = np.linalg.norm(positions[i][None] - positions, axis=-1)  # (N, F), NaN where either is absent
        valid = ~np.isnan(diff)
        counts = valid.sum(1)
        sums = np.where(valid, diff, 0.0).sum(1)
        out[i] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return out


def compute_affinity(tracklets: list[Tracklet], prototypes: np.ndarray, num_frames: int,
                     plane: GroundPlane | None, config: AffinityConfig) -> Affinity:
    n = len(tracklets)
    views = np.array([t.view for t in tracklets])
    presence = frame_presence(tracklets, num_frames)
    together = presence.astype(np.int32) @ presence.T.astype(np.int32)  # frames in common
    appearance = prototypes @ prototypes.T
    same_view = views[:, None] == views[None, :]
    first = np.array([t.first for t in tracklets])
    last = np.array([t.last for t in tracklets])
    gap = np.maximum(first[None, :] - last[:, None], first[:, None] - last[None, :])  # > 0: disjoint in time

    score = config.appearance_weight * appearance
    known = np.ones((n, n), bool)
    forbidden = same_view & (together > config.overlap_tolerance)
    # A view's fragments: only close in time, a little weaker the longer the gap.
    fragment = same_view & (gap > 0)
    known &= ~(fragment & (gap > config.max_gap))
    score = np.where(fragment, score - config.gap_penalty * gap / config.max_gap, score)
    cross = ~same_view
    score = np.where(cross & (together == 0), score - config.no_overlap_penalty, score)
    if plane is not None and plane.metric:
        distance = ground_distances(tracklets, plane, presence)
        measured = cross & ~np.isnan(distance)
        geo = np.exp(-0.5 * (np.nan_to_num(distance, nan=0.0) / config.geometry_sigma) ** 2)
        w = config.geometry_weight
        score = np.where(measured, (1 - w) * score + w * geo, score)
        forbidden |= measured & (together >= 3) & (np.nan_to_num(distance, nan=0.0) > config.max_ground_distance)
    np.fill_diagonal(known, False)
    return Affinity(score.astype(np.float64), known, forbidden)
