"""Cross-view metrics of the CRTrack benchmark (CVRIDF1, CVRMA), reproducing the official tool."""

from crmot.metrics.clear import ClearCounts, clear_counts
from crmot.metrics.cross_view import CVRIDF1, CVRMA
from crmot.metrics.evaluate import build_report, evaluate, load_ground_truth, print_report
from crmot.metrics.identity import IdentityCounts, identity_counts
from crmot.metrics.protocol import PROTOCOLS, prepare
from crmot.metrics.sequence import SequenceScore, score_sequence

__all__ = [
    "CVRIDF1",
    "CVRMA",
    "PROTOCOLS",
    "ClearCounts",
    "IdentityCounts",
    "SequenceScore",
    "build_report",
    "clear_counts",
    "evaluate",
    "identity_counts",
    "load_ground_truth",
    "prepare",
    "print_report",
    "score_sequence",
]
