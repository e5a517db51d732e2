"""Per-pixel work of the classical backend in torch, so it runs on the GPU when stage 1 has one.

Batches of frames ``(T, H, W)`` at once. The border rules are scipy.ndimage's (the backend was
tuned with it, and the tests hold these functions to it): morphology treats pixels outside the
image as background (``border_value=0``, so an erosion clears a rim as wide as its reach), and the
maximum filter ignores them. Windows are centred rectangles of odd sides, done one axis at a time
as maxima of shifted slices: elementwise work, fast on a GPU and on a CPU's cores alike (torch's
pooling kernels are slow on a CPU for one-channel images).
"""

from __future__ import annotations

import numpy as np
import torch


def to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """``array`` as a tensor on ``device``, shared with numpy on the CPU where it can be: torch
    cannot share read-only memory (a decoded frame can be), which is copied instead."""
    return torch.from_numpy(array if array.flags.writeable else array.copy()).to(device)


def _check_odd(size: tuple[int, int]) -> tuple[int, int]:
    if any(s < 1 or s % 2 == 0 for s in size):
        raise ValueError(f"window {size} must be odd and positive in both axes (a centred window)")
    return size


def max_filter(values: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Largest value within a centred ``size`` (rows, columns) window of each pixel of ``(T, H, W)``
    (outside the image ignored). On bool masks this is a binary dilation."""
    out = values
    for axis, side in zip((1, 2), _check_odd(size)):
        source, out = out, out.clone()
        for shift in range(1, side // 2 + 1):
            length = source.shape[axis] - shift
            if length <= 0:
                break
            ahead, behind = out.narrow(axis, shift, length), out.narrow(axis, 0, length)
            torch.maximum(ahead, source.narrow(axis, 0, length), out=ahead)
            torch.maximum(behind, source.narrow(axis, shift, length), out=behind)
    return out


def dilate(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Binary dilation of bool masks ``(T, H, W)`` by a ``size`` rectangle."""
    return max_filter(mask, size)  # outside pixels are ignored: the same as background for a maximum


def erode(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Binary erosion of bool masks by a ``size`` rectangle, outside the image counted as background."""
    return ~max_filter(~mask, size) & _interior(mask, size)  # a window reaching outside sees background


def _interior(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """True where the whole ``size`` window lies inside the image."""
    inside = torch.zeros(mask.shape[1:], dtype=torch.bool, device=mask.device)
    (reach_rows, reach_cols) = (s // 2 for s in size)
    inside[reach_rows:mask.shape[1] - reach_rows, reach_cols:mask.shape[2] - reach_cols] = True
    return inside


def opening(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Erosion then dilation: removes specks smaller than the rectangle."""
    return dilate(erode(mask, size), size)


def closing(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Dilation then erosion: bridges gaps narrower than the rectangle."""
    return erode(dilate(mask, size), size)


def median_frame(frames: torch.Tensor) -> torch.Tensor:
    """Per-pixel median of ``(N, H, W, C)`` uint8 frames; of an even count, the two middle values'
    mean rounded down (numpy's median truncated to an integer, as the backend was tuned)."""
    lower = frames.median(dim=0).values.to(torch.int16)  # torch's median is the lower middle value
    upper = 255 - (255 - frames).median(dim=0).values.to(torch.int16)  # the lower of the reversed order
    return torch.div(lower + upper, 2, rounding_mode="floor").to(torch.uint8)


def label_components(mask: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Connected components of each frame of bool masks ``(T, H, W)`` (8-connected, never across
    frames), numbered 1..N in raster order of their first pixel, as ``scipy.ndimage.label`` numbers
    them; 0 is background. Label propagation with pointer jumping: every pixel starts as its own
    index, takes the smallest index among its neighbours, then jumps to the label of the pixel its
    label names; both repeat until nothing changes (a few dozen elementwise passes, no Python loop
    over pixels or components)."""
    count = mask.numel()
    outside = count + 1
    index = torch.arange(1, count + 1, device=mask.device, dtype=torch.int64).view(mask.shape)
    labels = torch.where(mask, index, outside)
    flat_mask = mask.reshape(-1)
    while True:
        nearest = -max_filter(-labels, (3, 3))  # smallest label in the 3x3 neighbourhood
        merged = torch.where(mask, torch.minimum(labels, nearest), outside).reshape(-1)
        while True:  # pointer jumping: a label is the index of a pixel of the same component
            jumped = merged.clone()
            jumped[flat_mask] = merged[merged[flat_mask] - 1]
            if torch.equal(jumped, merged):
                break
            merged = jumped
        merged = merged.view(mask.shape)
        if torch.equal(merged, labels):
            break
        labels = merged
    roots = torch.unique(labels[mask])  # sorted: the raster order of each component's first pixel
    numbered = torch.zeros_like(labels)
    numbered[mask] = torch.searchsorted(roots, labels[mask]) + 1
    return numbered, len(roots)


def component_boxes(labels: torch.Tensor, count: int) -> torch.Tensor:
    """(count, 5) int64 rows (frame, top, bottom, left, right; bottom and right exclusive) of
    components ``1..count`` of ``label_components``: what ``scipy.ndimage.find_objects`` gives."""
    t, y, x = torch.nonzero(labels, as_tuple=True)
    owner = labels[t, y, x] - 1
    boxes = torch.empty((count, 5), dtype=torch.int64, device=labels.device)
    for column, values, reduce in ((0, t, "amin"), (1, y, "amin"), (2, y + 1, "amax"), (3, x, "amin"), (4, x + 1, "amax")):
        start = torch.full((count,), labels.numel() if reduce == "amin" else -1, dtype=torch.int64, device=labels.device)
        boxes[:, column] = start.scatter_reduce(0, owner, values, reduce=reduce)
    return boxes
