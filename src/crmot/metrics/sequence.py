"""Score one expression (a "sequence" of the CRTrack protocol): CVRIDF1, CVRMA and per-view figures."""

from __future__ import annotations

from dataclasses import dataclass, field

from crmot.data.tracks import Tracks
from crmot.metrics.clear import ClearCounts, clear_counts
from crmot.metrics.identity import IdentityCounts, identity_counts
from crmot.metrics.matching import frame_pairs
from crmot.metrics.protocol import Protocol, prepare, prepare_view


@dataclass(frozen=True)
class ViewScore:
    MOTA: float
    IDF1: float
    identity: IdentityCounts
    clear: ClearCounts


@dataclass(frozen=True)
class SequenceScore:
    """Counts of the concatenated (identity) and interleaved (CLEAR) sequences of one expression."""

    identity: IdentityCounts
    clear: ClearCounts
    per_view: dict[int, ViewScore] = field(default_factory=dict)

    @property
    def CVRIDF1(self) -> float:
        return self.identity.IDF1

    @property
    def CVRMA(self) -> float:
        """MOTA of the interleaved sequence, clipped at 0 per expression as the official tool does."""
        return max(self.clear.MOTA, 0.0)


def score_sequence(gt_views: dict[int, Tracks], pred_views: dict[int, Tracks], protocol: Protocol = "crtrack",
                   per_view: bool = True) -> SequenceScore:
    official = protocol == "crtrack"
    concatenated, interleaved = prepare(gt_views, pred_views, protocol)
    identity = identity_counts(concatenated.gt, concatenated.pred)
    clear = clear_counts(interleaved.gt, interleaved.pred, official_track_classes=official)
    views = {}
    if per_view:
        for k, gt in gt_views.items():
            seq = prepare_view(gt, pred_views.get(k, Tracks.empty()), protocol)
            pairs = frame_pairs(seq.gt, seq.pred)
            ident = identity_counts(seq.gt, seq.pred, pairs)
            cl = clear_counts(seq.gt, seq.pred, pairs, official_track_classes=official)
            views[k] = ViewScore(MOTA=cl.MOTA, IDF1=ident.IDF1, identity=ident, clear=cl)
    return SequenceScore(identity=identity, clear=clear, per_view=views)
