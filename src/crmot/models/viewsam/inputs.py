"""What ViewSAM sees: a frame resized to the model's square input and normalised like SAM2's."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

#: SAM2's input normalisation (ImageNet statistics).
PIXEL_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
PIXEL_STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


def to_pixels(picture: Image.Image, size: int) -> torch.Tensor:
    """(3, size, size) floats in [0, 1]: the picture squeezed to the square input (as SAM2 does)."""
    resized = picture.resize((size, size), Image.BILINEAR)
    return torch.from_numpy(np.asarray(resized, np.float32) / 255.0).permute(2, 0, 1)


def normalise(pixels: torch.Tensor) -> torch.Tensor:
    return (pixels - PIXEL_MEAN) / PIXEL_STD


def model_input(frame: np.ndarray, size: int) -> torch.Tensor:
    """An RGB uint8 frame (H, W, 3) as the normalised (3, size, size) input."""
    return normalise(to_pixels(Image.fromarray(frame), size))
