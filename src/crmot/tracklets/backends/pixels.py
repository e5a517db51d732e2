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
