"""How good stage-1 tracklets are against category-level ground truth, view by view."""

from __future__ import annotations

import numpy as np
from rich.console import Console
from rich.table import Table

from crmot.data import masks as rle
from crmot.data.tracks import Tracks
from crmot.metrics.clear import match_boxes
from crmot.metrics.sequence import score_sequences


def view_quality(items: dict[str, tuple[Tracks, list[dict] | None, Tracks, list[dict]]]) -> dict[str, dict]:
    """Per view name: MOTA, IDF1, recall, precision (percent, strict protocol) and mean mask IoU.

    ``items`` maps a view name to (GT rows, GT masks or None, tracklet rows, tracklet masks).
    """
    names = sorted(items)
    scores = score_sequences([({1: items[n][0]}, {1: items[n][2]}) for n in names], "strict", per_view=False)
    out = {}
    for name, score in zip(names, scores):
        gt, gt_masks, pred, pred_masks = items[name]
        out[name] = {
            "MOTA": score.clear.MOTA if score.clear.num_gt else 0.0,
            "IDF1": score.identity.IDF1,
            "recall": score.clear.recall,
            "precision": score.clear.precision,
            "mask_iou": _mask_iou(gt, gt_masks, pred, pred_masks),
            "IDSW": score.clear.IDSW,
            "gt_boxes": len(gt),
            "tracklet_boxes": len(pred),
            "tracklets": int(len(np.unique(pred.ids))),
        }
    return out


def _mask_iou(gt: Tracks, gt_masks, pred: Tracks, pred_masks) -> float | None:
    """Mean mask IoU over the box matches; None where the GT has no masks."""
    if gt_masks is None:
        return None
    rows_gt, rows_pred = match_boxes(gt, pred)
    if not len(rows_gt):
        return 0.0
    ious = [rle.iou([gt_masks[g]], [pred_masks[p]])[0, 0] for g, p in zip(rows_gt.tolist(), rows_pred.tolist())]
    return float(100.0 * np.mean(ious))


def mean_quality(per_view: dict[str, dict]) -> dict:
    keys = ("MOTA", "IDF1", "recall", "precision", "mask_iou")
    return {k: float(np.mean([v[k] for v in per_view.values() if v[k] is not None])) if per_view else 0.0 for k in keys}


def print_quality(per_view: dict[str, dict], title: str, console: Console | None = None) -> None:
    table = Table(title=title)
    for column in ("view", "MOTA", "IDF1", "recall", "precision", "mask IoU", "IDSW", "tracklets"):
        table.add_column(column, justify="left" if column == "view" else "right", no_wrap=column == "view")

    def fmt(value) -> str:
        return "-" if value is None else f"{value:.1f}"

    for name, q in per_view.items():
        table.add_row(name, fmt(q["MOTA"]), fmt(q["IDF1"]), fmt(q["recall"]), fmt(q["precision"]),
                      fmt(q["mask_iou"]), str(q["IDSW"]), str(q["tracklets"]))
    mean = mean_quality(per_view)
    table.add_row("mean", *(fmt(mean[k]) for k in ("MOTA", "IDF1", "recall", "precision", "mask_iou")), "", "", style="bold")
    (console or Console()).print(table)
