"""What ViewSAM sees: a frame white-balanced for its view (``crmot.data.white_balance``: a colour word
then means one colour in every camera, also in cameras no training scene had), resized to the model's
square input and normalised like SAM2's."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

#: SAM2's input normalisation (ImageNet statistics).
PIXEL_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
PIXEL_STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


def to_pixels(picture: Image.Image, size: int, gain: np.ndarray | None = None) -> torch.Tensor:
    """(3, size, size) floats in [0, 1]: the picture squeezed to the square input (as SAM2 does),
    times its view's per-channel white-balance ``gain`` (3,)."""
    resized = np.asarray(picture.resize((size, size), Image.BILINEAR), np.float32) / 255.0
    if gain is not None:
        resized = np.clip(resized * np.asarray(gain, np.float32), 0.0, 1.0)
    return torch.from_numpy(np.ascontiguousarray(resized.transpose(2, 0, 1)))  # planar: later ops run 2-3x faster


def normalise(pixels: torch.Tensor) -> torch.Tensor:
    return (pixels - PIXEL_MEAN) / PIXEL_STD


def model_input(frame: np.ndarray, size: int, gain: np.ndarray | None = None) -> torch.Tensor:
    """An RGB uint8 frame (H, W, 3) of a view whose white-balance gain is ``gain`` as the normalised
    (3, size, size) input."""
    return normalise(to_pixels(Image.fromarray(frame), size, gain))
