"""Cross-view metrics of the CRTrack benchmark (CVRIDF1, CVRMA), reproducing the official tool."""

from crmot.metrics.clear import ClearCounts, clear_counts, clear_counts_batch
from crmot.metrics.cross_view import CVRIDF1, CVRMA
from crmot.metrics.evaluate import build_report, evaluate, load_ground_truth, print_report
from crmot.metrics.identity import IdentityCounts, identity_counts, identity_counts_batch
from crmot.metrics.protocol import PROTOCOLS, Batch, prepare, prepare_batch
from crmot.metrics.sequence import SequenceScore, score_sequence, score_sequences

__all__ = [
    "Batch",
    "CVRIDF1",
    "CVRMA",
    "PROTOCOLS",
    "ClearCounts",
    "IdentityCounts",
    "SequenceScore",
    "build_report",
    "clear_counts",
    "clear_counts_batch",
    "evaluate",
    "identity_counts",
    "identity_counts_batch",
    "load_ground_truth",
    "prepare",
    "prepare_batch",
    "print_report",
    "score_sequence",
    "score_sequences",
]
