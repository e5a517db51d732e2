"""Cross-view metrics of the CRTrack benchmark (CVRIDF1, CVRMA), reproducing the official tool.

The metric core is numpy and scipy only. ``CVRIDF1`` / ``CVRMA`` (torchmetrics classes that sync
across DDP ranks) are imported on first use, so scoring from the command line never loads torch.
"""

from crmot.metrics.clear import ClearCounts, clear_counts, clear_counts_batch
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


def __getattr__(name: str):
    if name in ("CVRIDF1", "CVRMA"):
        from crmot.metrics import cross_view

        return getattr(cross_view, name)
    raise AttributeError(f"module 'crmot.metrics' has no attribute {name!r}")
