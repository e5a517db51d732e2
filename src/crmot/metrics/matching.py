"""Vectorized box matching: every (GT row, prediction row) pair that shares a frame, with its IoU."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crmot.constants import IOU_THRESHOLD
from crmot.data.tracks import Tracks


@dataclass(frozen=True)
class FramePairs:
    """Candidate pairs: ``gt_row[i]`` and ``pred_row[i]`` lie in the same frame with ``iou[i]``."""

    gt_row: np.ndarray
    pred_row: np.ndarray
    iou: np.ndarray

    def select(self, mask: np.ndarray) -> FramePairs:
        return FramePairs(self.gt_row[mask], self.pred_row[mask], self.iou[mask])


def frame_pairs(gt: Tracks, pred: Tracks) -> FramePairs:
    """All same-frame pairs, built with ``searchsorted`` + ``repeat`` (no Python loop per box)."""
    pred_order = np.argsort(pred.frames, kind="stable")
    pred_frames = pred.frames[pred_order]
    start = np.searchsorted(pred_frames, gt.frames, side="left")
    count = np.searchsorted(pred_frames, gt.frames, side="right") - start
    total = int(count.sum())
    gt_row = np.repeat(np.arange(len(gt)), count)
    within = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
    pred_row = pred_order[np.repeat(start, count) + within]
    return FramePairs(gt_row, pred_row, box_iou(gt.boxes[gt_row], pred.boxes[pred_row]))


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of xywh boxes, computed as the MOTChallenge devkit does (no +1 pixel)."""
    ax, ay, aw, ah = a.T
    bx, by, bw, bh = b.T
    overlap_w = np.maximum(0.0, np.minimum(ax + aw, bx + bw) - np.maximum(ax, bx))
    overlap_h = np.maximum(0.0, np.minimum(ay + ah, by + bh) - np.maximum(ay, by))
    intersection = overlap_w * overlap_h
    with np.errstate(divide="ignore", invalid="ignore"):
        return intersection / (aw * ah + bw * bh - intersection)


def is_match(iou: np.ndarray, threshold: float = IOU_THRESHOLD) -> np.ndarray:
    """The devkit's test ``1 - IoU <= 1 - threshold`` (identical rounding at the boundary)."""
    return (1.0 - iou) <= (1.0 - threshold)
