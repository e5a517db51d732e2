"""Per-view HOTA, DetA and AssA by TrackEval, the figures tracking papers report next to MOTA/IDF1.

TrackEval is an optional extra (``pip install crmot[hota]``): without it the report says so once
and carries no HOTA. Each view of each expression is one TrackEval sequence: its GT and prediction
rows as given (HOTA is not part of the CRTrack protocol, so none of its rounding applies), box IoU
as similarity, and the figures are TrackEval's means over its 19 localisation thresholds, in percent.
"""

from __future__ import annotations

import logging

import numpy as np

from crmot.data.boxes import iou_matrix
from crmot.data.tracks import Tracks

log = logging.getLogger(__name__)
FIELDS = ("HOTA", "DetA", "AssA")


def hota_metric():
    """TrackEval's HOTA metric, or None (said once) when TrackEval is not installed."""
    try:
        from trackeval.metrics import HOTA
    except ImportError:
        log.warning("per-view HOTA / DetA / AssA left out: TrackEval is not installed (pip install 'crmot[hota]')")
        return None
    return HOTA()


def view_hota(metric, gt: Tracks, pred: Tracks) -> dict[str, float]:
    """HOTA, DetA and AssA (percent) of one view's rows."""
    data = _sequence(gt, pred)
    result = metric.eval_sequence(data)
    return {k: round(100.0 * float(np.mean(result[k])), 4) for k in FIELDS}


def _sequence(gt: Tracks, pred: Tracks) -> dict:
    """TrackEval's per-sequence data: 0-based dense ids and per-timestep IoU matrices."""
    steps = int(max(gt.frames.max(initial=0), pred.frames.max(initial=0)))
    gt_ids = np.unique(gt.ids, return_inverse=True)[1]
    pred_ids = np.unique(pred.ids, return_inverse=True)[1]
    gt_at = _rows_by_frame(gt.frames, steps)
    pred_at = _rows_by_frame(pred.frames, steps)
    return {
        "num_timesteps": steps,
        "num_gt_dets": len(gt), "num_tracker_dets": len(pred),
        "num_gt_ids": int(gt_ids.max(initial=-1)) + 1, "num_tracker_ids": int(pred_ids.max(initial=-1)) + 1,
        "gt_ids": [gt_ids[rows] for rows in gt_at], "tracker_ids": [pred_ids[rows] for rows in pred_at],
        "similarity_scores": [iou_matrix(gt.boxes[g], pred.boxes[p]) for g, p in zip(gt_at, pred_at)],
    }


def _rows_by_frame(frames: np.ndarray, steps: int) -> list[np.ndarray]:
    order = np.argsort(frames, kind="stable")
    bounds = np.searchsorted(frames[order], np.arange(1, steps + 2))
    return [order[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
