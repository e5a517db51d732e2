"""Frames of a view: read lazily (nothing is decoded until asked for), and written as JPEG."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, UnidentifiedImageError

from crmot.data.crtrack import View
from crmot.data.errors import CRTrackFormatError


def read_frame(view: View, frame: int) -> np.ndarray:
    """RGB uint8 (H, W, 3) of 1-based ``frame``; a missing or corrupt file is a clear error."""
    path = view.frame_path(frame)
    try:
        with Image.open(path) as image:
            rgb = np.asarray(image.convert("RGB"))
    except FileNotFoundError:
        raise CRTrackFormatError(path, f"frame {frame} of {view.folder_name} not found") from None
    except (UnidentifiedImageError, OSError) as err:
        raise CRTrackFormatError(path, f"cannot decode frame {frame}: {err}") from None
    expected = (view.seqinfo.height, view.seqinfo.width)
    if rgb.shape[:2] != expected:
        raise CRTrackFormatError(path, f"frame is {rgb.shape[1]}x{rgb.shape[0]}, seqinfo.ini says {expected[1]}x{expected[0]}")
    return rgb


def spread_frames(num_frames: int, count: int) -> np.ndarray:
    """At most ``count`` 1-based frame numbers spread evenly over ``num_frames`` (first and last included):
    a sample of a video whose size does not grow with its length."""
    return np.unique(np.linspace(1, num_frames, min(count, num_frames)).round().astype(int))


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    """(H, W, 3) uint8 RGB as JPEG bytes (frames of generated and imported roots alike)."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
