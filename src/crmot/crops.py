"""Person crops and the embedder interface: the records stage 2 and the model package share, kept
here so that ``crmot.models`` never imports stage code."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

#: Body parts as (top, bottom) fractions of a standing person's box height, from the eight-head canon
#: of figure drawing (chin at 1/8 of the height, shoulders about 3/16, crotch at 1/2, ankles near 15/16).
#: The head band reaches past the chin to keep hair and headwear; the coat band stops just short of the
#: crotch, where coats of every length still cover. CRTrack describes head, coat, trousers and shoes.
PARTS: dict[str, tuple[float, float]] = {
    "head": (0.0, 0.16), "coat": (0.19, 0.48), "trousers": (0.52, 0.93), "shoes": (0.95, 1.0),
}
#: How much each part counts in the colour embedding (shoes are few pixels and often occluded).
PART_WEIGHTS = {"head": 0.5, "coat": 1.0, "trousers": 1.0, "shoes": 0.3}
#: Crops smaller than this (pixels of mask) say little about colour.
MIN_CROP_PIXELS = 40


@dataclass
class Crop:
    """One masked person crop, colour-normalised for its view."""

    owner: int  # index of the tracklet (in the caller's list)
    frame: int
    image: np.ndarray  # (h, w, 3) float32 RGB 0-255, view cast removed
    mask: np.ndarray  # (h, w) bool
    weight: float

    def part_pixels(self, part: str, side: str | None = None) -> np.ndarray:
        """(N, 3) RGB pixels of the mask inside a body part (``side``: "left" / "right" half)."""
        top, bottom = PARTS[part]
        h, w = self.mask.shape
        y0, y1 = int(round(top * h)), max(int(round(bottom * h)), int(round(top * h)) + 1)
        x0, x1 = (0, w) if side is None else ((0, w // 2) if side == "left" else (w // 2, w))
        return self.image[y0:y1, x0:x1][self.mask[y0:y1, x0:x1]]


class Embedder(ABC):
    """Crops -> unit vectors; cosine similarity between them is the appearance affinity."""

    name: str

    @abstractmethod
    def embed(self, crops: list[Crop]) -> np.ndarray:
        """(len(crops), D) float32, rows of unit norm; (0, D) for no crops."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """D: the width of an embedding, so that no crops still give vectors of the right width."""

    def setup(self, device) -> None:
        """Load weights onto ``device`` (once per process)."""

    def describe(self) -> dict:
        return {"name": self.name}
