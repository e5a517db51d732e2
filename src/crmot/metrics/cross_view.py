"""CVRIDF1 and CVRMA as torchmetrics Metrics: states are sums, so they sync across DDP ranks.

The benchmark's final figure is the plain mean over expressions of the per-expression score, so
each metric keeps the sum of scores and the number of expressions, plus the summed counts (which
give the micro-averaged figure, reported as an extra).
"""

from __future__ import annotations

import torch
from torchmetrics import Metric

from crmot.data.tracks import Tracks
from crmot.metrics.protocol import Protocol, check_protocol
from crmot.metrics.sequence import SequenceScore, score_sequence


class _CrossViewMetric(Metric):
    full_state_update = False
    higher_is_better = True
    is_differentiable = False
    count_names: tuple[str, ...] = ()

    def __init__(self, protocol: Protocol = "crtrack", **kwargs):
        super().__init__(**kwargs)
        check_protocol(protocol)
        self.protocol = protocol
        self.add_state("score_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("num_sequences", torch.tensor(0, dtype=torch.int64), dist_reduce_fx="sum")
        for name in self.count_names:
            self.add_state(name, torch.tensor(0, dtype=torch.int64), dist_reduce_fx="sum")

    def update(self, gt_views: dict[int, Tracks] | SequenceScore, pred_views: dict[int, Tracks] | None = None) -> None:
        """Add one expression: its per-view GT and prediction rows, or a ``SequenceScore`` already
        computed by :func:`score_sequence` (the evaluator scores once and feeds both metrics)."""
        if isinstance(gt_views, SequenceScore):
            score = gt_views
        else:
            score = score_sequence(gt_views, pred_views or {}, self.protocol, per_view=False)
        self.score_sum += self._score(score)
        self.num_sequences += 1
        for name, value in self._counts(score).items():
            setattr(self, name, getattr(self, name) + int(value))

    def compute(self) -> torch.Tensor:
        """Mean over expressions, in percent (0 before any update)."""
        if self.num_sequences == 0:
            return torch.tensor(0.0, dtype=torch.float64)
        return self.score_sum / self.num_sequences

    def _score(self, score: SequenceScore) -> float:
        raise NotImplementedError

    def _counts(self, score: SequenceScore) -> dict[str, int]:
        raise NotImplementedError


class CVRIDF1(_CrossViewMetric):
    """Cross-view referring IDF1: IDF1 of the views concatenated in time, averaged over expressions."""

    count_names = ("IDTP", "IDFP", "IDFN")

    def _score(self, score: SequenceScore) -> float:
        return score.CVRIDF1

    def _counts(self, score: SequenceScore) -> dict[str, int]:
        return {"IDTP": score.identity.IDTP, "IDFP": score.identity.IDFP, "IDFN": score.identity.IDFN}

    def micro(self) -> float:
        """IDF1 of all expressions' counts pooled (not the benchmark figure)."""
        total = 2 * self.IDTP + self.IDFP + self.IDFN
        return float(100.0 * 2 * self.IDTP / total) if total else 0.0


class CVRMA(_CrossViewMetric):
    """Cross-view referring MOTA: MOTA of the views interleaved frame by frame, clipped at 0 per expression."""

    count_names = ("TP", "FP", "FN", "IDSW", "num_gt")

    def _score(self, score: SequenceScore) -> float:
        return score.CVRMA

    def _counts(self, score: SequenceScore) -> dict[str, int]:
        c = score.clear
        return {"TP": c.TP, "FP": c.FP, "FN": c.FN, "IDSW": c.IDSW, "num_gt": c.num_gt}

    def micro(self) -> float:
        if self.num_gt == 0:
            return 0.0
        return float(100.0 * (1.0 - (self.FN + self.FP + self.IDSW) / self.num_gt))
