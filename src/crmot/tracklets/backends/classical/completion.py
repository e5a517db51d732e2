"""Body completion: a lone blob much shorter than a person standing there gets the body part whose
colours match the ground (a coat or trousers), from where the frame still differs a little from it."""

from __future__ import annotations

import numpy as np

from crmot.tracklets.backends.classical.config import ClassicalConfig
from crmot.tracklets.backends.classical.perspective import Perspective


def complete(frame: np.ndarray, background: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int],
              expected: float, perspective: Perspective, cfg: ClassicalConfig) -> tuple[int, int, int, int]:
    """A lone blob much shorter than a person standing there is part of one whose other part has
    the colours of the ground: a coat (the upper body is missing) or trousers (the legs are).
    The missing part is where the frame still differs a little from the background (below the
    threshold, more than noise; shoes too): the rectangle of the two with the larger mean
    difference is added to ``mask`` (in place). Returns the completed top, bottom, left, right."""
    top, bottom, left, right = box
    height, width = mask.shape
    upper, x0_up, x1_up = _upper_body(left, right, bottom, expected, width, cfg)
    foot, x0_low, x1_low = _lower_body(left, right, top, perspective, (height, width), cfg)

    def difference(a: int, b: int, x0: int, x1: int) -> float:
        if b <= a or x1 <= x0:
            return -np.inf
        return float(np.abs(frame[a:b, x0:x1].astype(np.int16) - background[a:b, x0:x1]).max(axis=-1).mean())

    if difference(bottom, foot, x0_low, x1_low) > difference(upper, top, x0_up, x1_up):
        a, b, x0, x1 = top, foot, x0_low, x1_low  # trousers the colour of the ground: legs missing
    else:
        a, b, x0, x1 = upper, bottom, x0_up, x1_up  # a coat the colour of the ground
    if b <= a or x1 <= x0:
        return box
    mask[a:b, x0:x1] = True
    return min(top, a), max(bottom, b), min(left, x0), max(right, x1)

def _upper_body(left: int, right: int, bottom: int, expected: float, width: int, cfg: ClassicalConfig) -> tuple[int, int, int]:
    """Top row and column span of the rectangle a standing person fills above a blob that spans
    columns ``left:right`` and stands at ``bottom`` (a coat the colour of the ground). The
    rectangle has their size from the perspective line, so the box and the colours stage 2
    reads from the mask cover the whole person."""
    return (max(int(round(bottom - expected)), 0), *_torso_columns(left, right, expected, width, cfg))

def _lower_body(left: int, right: int, top: int, perspective: Perspective, shape: tuple[int, int],
                cfg: ClassicalConfig) -> tuple[int, int, int]:
    """Foot row (exclusive) and column span of the rectangle a standing person fills when a blob
    shows their head at row ``top`` but not their legs (trousers the colour of the ground). The
    foot row is where the perspective line's height reaches from the head: foot - top =
    slope * foot + intercept."""
    foot = (top + perspective.intercept) / max(1.0 - perspective.slope, 1e-6)
    return (min(int(round(foot)), shape[0]), *_torso_columns(left, right, perspective.height(foot), shape[1], cfg))

def _torso_columns(left: int, right: int, tall: float, width: int, cfg: ClassicalConfig) -> tuple[int, int]:
    """Columns of a person ``tall`` pixels tall centred on ``left:right`` (torso width)."""
    centre, half = (left + right) / 2, max(cfg.template_width * tall / 2, 1.0)
    return max(int(round(centre - half)), 0), min(int(round(centre + half)), width)
