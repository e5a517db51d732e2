"""Identity measures (IDF1, Ristani et al. 2016), as the MOTChallenge devkit counts them.

The devkit's (GT + pred) square cost matrix with FP/FN blocks reduces to a maximum-weight bipartite
matching on the per-pair count of frames where the two boxes overlap with IoU >= threshold: IDTP is
that maximum, IDFN = #GT - IDTP, IDFP = #pred - IDTP.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from crmot.constants import IOU_THRESHOLD
from crmot.data.tracks import Tracks
from crmot.metrics.matching import FramePairs, frame_pairs
from crmot.metrics.protocol import Batch, single_batch


@dataclass(frozen=True)
class IdentityCounts:
    IDTP: int
    IDFP: int
    IDFN: int
    num_gt: int
    num_pred: int

    def __add__(self, other: IdentityCounts) -> IdentityCounts:
        return IdentityCounts(*(a + b for a, b in zip(asdict(self).values(), asdict(other).values())))

    @property
    def IDF1(self) -> float:
        """2 IDTP / (#GT + #pred) in percent; 0 where both are empty (as the official tool)."""
        total = self.num_gt + self.num_pred
        return 100.0 * 2 * self.IDTP / total if total else 0.0

    @property
    def IDP(self) -> float:
        return 100.0 * self.IDTP / self.num_pred if self.num_pred else 0.0

    @property
    def IDR(self) -> float:
        return 100.0 * self.IDTP / self.num_gt if self.num_gt else 0.0


def identity_counts(gt: Tracks, pred: Tracks, threshold: float = IOU_THRESHOLD) -> IdentityCounts:
    """Identity counts of one sequence."""
    return identity_counts_batch(single_batch(gt, pred), threshold=threshold)[0]


def identity_counts_batch(batch: Batch, pairs: FramePairs | None = None,
                          threshold: float = IOU_THRESHOLD) -> list[IdentityCounts]:
    """Identity counts of every sequence of a batch (one global GT-id -> pred-id matching each)."""
    gt, pred = batch.gt, batch.pred
    pairs = frame_pairs(gt, pred) if pairs is None else pairs
    hits = pairs.iou >= threshold  # costBlockMex: a frame misses when IoU < threshold
    g, p = gt.ids[pairs.gt_row[hits]], pred.ids[pairs.pred_row[hits]]
    idtp = np.zeros(batch.size, np.int64)
    if len(g):
        # Frames shared by each (GT id, pred id); ids are unique per sequence, so pairs never mix sequences.
        span = int(p.max()) + 1
        key, first, overlap = np.unique(g * span + p, return_index=True, return_counts=True)
        seq = batch.gt_seq[pairs.gt_row[hits][first]]
        g, p = key // span, key % span
        # A sequence where no GT id and no pred id has two partners needs no assignment.
        shared = (np.bincount(g)[g] > 1) | (np.bincount(p)[p] > 1)
        conflicted = np.unique(seq[shared])
        simple = ~np.isin(seq, conflicted)
        idtp += np.bincount(seq[simple], weights=overlap[simple], minlength=batch.size).astype(np.int64)
        order = np.argsort(seq, kind="stable")
        bounds = np.searchsorted(seq[order], np.stack([conflicted, conflicted + 1]))
        for s, lo, hi in zip(conflicted.tolist(), *bounds):
            rows = order[lo:hi]
            idtp[s] += _max_overlap(g[rows], p[rows], overlap[rows])
    num_gt = np.bincount(batch.gt_seq, minlength=batch.size)
    num_pred = np.bincount(batch.pred_seq, minlength=batch.size)
    return [IdentityCounts(IDTP=int(t), IDFP=int(n_p - t), IDFN=int(n_g - t), num_gt=int(n_g), num_pred=int(n_p))
            for t, n_g, n_p in zip(idtp, num_gt, num_pred)]


def _max_overlap(g: np.ndarray, p: np.ndarray, overlap: np.ndarray) -> int:
    rows, r = np.unique(g, return_inverse=True)
    cols, c = np.unique(p, return_inverse=True)
    counts = np.zeros((len(rows), len(cols)), np.int64)
    counts[r, c] = overlap
    i, j = linear_sum_assignment(counts, maximize=True)
    return int(counts[i, j].sum())
