"""Identity measures (IDF1, Ristani et al. 2016) on one sequence, as the MOTChallenge devkit counts them."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from crmot.constants import IOU_THRESHOLD
from crmot.data.tracks import Tracks
from crmot.metrics.matching import FramePairs, frame_pairs


@dataclass(frozen=True)
class IdentityCounts:
    IDTP: int
    IDFP: int
    IDFN: int
    num_gt: int
    num_pred: int

    def __add__(self, other: "IdentityCounts") -> "IdentityCounts":
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


def identity_counts(gt: Tracks, pred: Tracks, pairs: FramePairs | None = None,
                    threshold: float = IOU_THRESHOLD) -> IdentityCounts:
    """One global GT-id -> predicted-id matching over the whole sequence.

    The devkit's (GT + pred) square cost matrix with FP/FN blocks reduces to a maximum-weight
    bipartite matching on the per-pair count of frames where the two boxes overlap with
    IoU >= threshold: IDTP is that maximum, IDFN = #GT - IDTP, IDFP = #pred - IDTP.
    """
    pairs = frame_pairs(gt, pred) if pairs is None else pairs
    hits = pairs.select(pairs.iou >= threshold)  # costBlockMex: a frame misses when IoU < threshold
    idtp = 0
    if len(hits.gt_row):
        gt_ids, gt_index = np.unique(gt.ids[hits.gt_row], return_inverse=True)
        pred_ids, pred_index = np.unique(pred.ids[hits.pred_row], return_inverse=True)
        counts = np.zeros((len(gt_ids), len(pred_ids)), dtype=np.int64)
        np.add.at(counts, (gt_index, pred_index), 1)
        rows, cols = linear_sum_assignment(counts, maximize=True)
        idtp = int(counts[rows, cols].sum())
    return IdentityCounts(IDTP=idtp, IDFP=len(pred) - idtp, IDFN=len(gt) - idtp, num_gt=len(gt), num_pred=len(pred))
