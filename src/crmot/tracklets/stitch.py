"""Joining object ids across windows of a long video (each window runs a fresh model session)."""

from __future__ import annotations

from scipy.optimize import linear_sum_assignment

from crmot.data import masks as rle


def stitch(previous: dict[int, dict], current: dict[int, dict], min_iou: float = 0.3) -> dict[int, int]:
    """Map ids of the new window to ids of the previous one, from their masks on the shared frame.

    ``previous`` / ``current``: object id -> RLE mask on the overlap frame. Unmatched ids are absent.
    """
    if not previous or not current:
        return {}
    old, new = list(previous), list(current)
    iou = rle.iou([current[i] for i in new], [previous[i] for i in old])
    rows, cols = linear_sum_assignment(-iou)
    return {new[r]: old[c] for r, c in zip(rows, cols) if iou[r, c] >= min_iou}
