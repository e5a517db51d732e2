"""Score expressions (the "sequences" of the CRTrack protocol): CVRIDF1, CVRMA and per-view figures.

All expressions of an evaluation are scored in one batch (see :class:`~crmot.metrics.protocol.Batch`),
so the cost is a few numpy passes over all rows rather than a Python loop per expression.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crmot.data.tracks import Tracks
from crmot.metrics.clear import ClearCounts, clear_counts_batch
from crmot.metrics.identity import IdentityCounts, identity_counts_batch
from crmot.metrics.matching import frame_pairs
from crmot.metrics.protocol import Item, Protocol, prepare_batch


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
    return score_sequences([(gt_views, pred_views)], protocol, per_view)[0]


def score_sequences(items: list[Item], protocol: Protocol = "crtrack", per_view: bool = True) -> list[SequenceScore]:
    """Scores of many expressions, each given as (GT views, prediction views)."""
    official = protocol == "crtrack"
    concatenated, interleaved = prepare_batch(items, protocol)
    identities = identity_counts_batch(concatenated)
    clears = clear_counts_batch(interleaved, official_track_classes=official)
    views: list[dict[int, ViewScore]] = [{} for _ in items]
    if per_view:
        keys = [(i, k) for i, (gt_views, _) in enumerate(items) for k in sorted(gt_views)]
        singles = [({1: items[i][0][k]}, {1: items[i][1].get(k, Tracks.empty())}) for i, k in keys]
        batch, _ = prepare_batch(singles, protocol)  # one view: concatenation = interleaving
        pairs = frame_pairs(batch.gt, batch.pred)
        view_ids = identity_counts_batch(batch, pairs)
        view_clears = clear_counts_batch(batch, pairs, official_track_classes=official)
        for (i, k), ident, clear in zip(keys, view_ids, view_clears):
            views[i][k] = ViewScore(MOTA=clear.MOTA, IDF1=ident.IDF1, identity=ident, clear=clear)
    return [SequenceScore(identity=a, clear=b, per_view=v) for a, b, v in zip(identities, clears, views)]
