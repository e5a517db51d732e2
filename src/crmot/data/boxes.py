"""Pairwise overlap of xywh boxes, used by tracking, re-prompting and metrics alike (numpy only)."""

from __future__ import annotations

import numpy as np


def _intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection areas (len(a), len(b)) of xywh boxes."""
    w = np.minimum(a[:, 0:1] + a[:, 2:3], b[:, 0] + b[:, 2]) - np.maximum(a[:, 0:1], b[:, 0])
    h = np.minimum(a[:, 1:2] + a[:, 3:4], b[:, 1] + b[:, 3]) - np.maximum(a[:, 1:2], b[:, 1])
    return np.clip(w, 0, None) * np.clip(h, 0, None)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU (len(a), len(b)) of xywh boxes."""
    inter = _intersection(a, b)
    union = a[:, 2:3] * a[:, 3:4] + b[:, 2] * b[:, 3] - inter
    return inter / np.maximum(union, 1e-9)


def shared_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise share (len(a), len(b)) of the smaller of two xywh boxes that the other covers: 1 when
    one box lies inside the other, whatever their sizes (IoU is low for a box and a looser outline)."""
    return _intersection(a, b) / np.maximum(np.minimum(a[:, 2:3] * a[:, 3:4], b[:, 2] * b[:, 3]), 1e-9)
