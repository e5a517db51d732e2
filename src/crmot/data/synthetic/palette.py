"""The renderer's paint: each colour word is a distribution of shades, not one RGB.

Two people in "red" coats wear different reds (hue within about 10 degrees, their own saturation and
brightness), as cloth does. Stage 2 names colours from a reference table of its own
(``crmot.association.colour_names``) and never reads these anchors.
"""

from __future__ import annotations

import colorsys

import numpy as np

from crmot.constants import COLOUR_WORDS

#: The centre of each word's shade distribution (sRGB 0-255).
ANCHORS: dict[str, tuple[int, int, int]] = {
    "black": (28, 28, 30),
    "blue": (40, 70, 190),
    "gray": (128, 128, 128),
    "white": (232, 232, 228),
    "red": (200, 30, 35),
    "yellow": (235, 210, 40),
    "green": (40, 150, 60),
    "pink": (240, 140, 180),
    "purple": (120, 50, 160),
    "orange": (245, 130, 20),
}
assert tuple(ANCHORS) == COLOUR_WORDS

#: Achromatic words: a brightness range (HSV value) and little saturation of any hue.
ACHROMATIC_VALUE = {"black": (0.06, 0.2), "gray": (0.38, 0.62), "white": (0.86, 0.98)}
#: Chromatic words: hue spread (degrees) and the factors by which saturation and value vary.
HUE_SPREAD_DEGREES = 10.0
SATURATION_FACTOR = (0.8, 1.1)
VALUE_FACTOR = (0.75, 1.08)


def shade(rng: np.random.Generator, word: str) -> tuple[int, int, int]:
    """One cloth colour that a person would still call ``word``."""
    if word in ACHROMATIC_VALUE:
        value = rng.uniform(*ACHROMATIC_VALUE[word])
        hue, saturation = rng.uniform(0.0, 1.0), rng.uniform(0.0, 0.08)
    else:
        hue, saturation, value = colorsys.rgb_to_hsv(*(c / 255.0 for c in ANCHORS[word]))
        hue = (hue + rng.uniform(-1.0, 1.0) * HUE_SPREAD_DEGREES / 360.0) % 1.0
        saturation = min(saturation * rng.uniform(*SATURATION_FACTOR), 1.0)
        value = min(value * rng.uniform(*VALUE_FACTOR), 1.0)
    return tuple(int(round(255 * c)) for c in colorsys.hsv_to_rgb(hue, saturation, value))
