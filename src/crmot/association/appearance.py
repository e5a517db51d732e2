"""Appearance of tracklets: quality-weighted mask crops, per-crop embeddings, pooled prototypes.

A tracklet is seen through a few crops chosen evenly over its life (the best row of each time chunk:
high score, not cut by the image border). Each embedder turns crops into unit vectors; a tracklet's
prototype is their weighted mean, and an identity's prototype the mean over its tracklets.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from crmot.association.colour import COLOUR_NAMES, name_probabilities, srgb_to_lab
from crmot.association.records import Tracklet
from crmot.crops import MIN_CROP_PIXELS, PART_WEIGHTS, PARTS, Crop, Embedder
from crmot.data import masks as rle


def sample_rows(tracklet: Tracklet, count: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows to crop (the best of each of ``count`` time chunks) and their quality weights."""
    x, y, w, h = tracklet.boxes.T
    inside = (x > 1) & (y > 1) & (x + w < width - 1) & (y + h < height - 1)
    quality = np.clip(tracklet.scores, 0.05, 1.0) * np.where(inside, 1.0, 0.3) * np.sqrt(np.maximum(w * h, 1.0))
    chunks = np.array_split(np.arange(len(tracklet)), min(count, len(tracklet)))
    rows = np.array([c[np.argmax(quality[c])] for c in chunks if len(c)])
    return rows, quality[rows] / quality[rows].max()


def collect_crops(tracklets: list[Tracklet], read, gains: dict[int, np.ndarray], sizes: dict[int, tuple[int, int]],
                  per_tracklet: int = 6) -> list[Crop]:
    """Crops of every tracklet; each frame is read once however many tracklets it holds.

    ``read(view, frame)`` returns the (H, W, 3) uint8 frame; ``gains`` and ``sizes`` ((H, W)) are per view.
    """
    wanted: dict[tuple[int, int], list[tuple[int, int, float]]] = defaultdict(list)
    for owner, t in enumerate(tracklets):
        rows, weights = sample_rows(t, per_tracklet, *sizes[t.view])
        for row, weight in zip(rows.tolist(), weights.tolist()):
            wanted[(t.view, int(t.frames[row]))].append((owner, row, weight))
    crops = []
    for (view, frame), items in sorted(wanted.items()):
        image = read(view, frame)
        for owner, row, weight in items:
            t = tracklets[owner]
            x, y, w, h = np.round(t.boxes[row]).astype(int)
            x0, y0 = max(x, 0), max(y, 0)
            x1, y1 = min(x + w, image.shape[1]), min(y + h, image.shape[0])
            if x1 <= x0 or y1 <= y0:
                continue
            mask = rle.decode(t.masks[row])[y0:y1, x0:x1].astype(bool)
            if mask.sum() < MIN_CROP_PIXELS:
                continue
            pixels = image[y0:y1, x0:x1].astype(np.float32) * gains[view]
            crops.append(Crop(owner, frame, np.clip(pixels, 0, 255), mask, weight))
    return crops


class ColourEmbedder(Embedder):
    """Weight-free ReID: per-part colour-name memberships plus a/b and lightness histograms in Lab.

    Colour names make the vector robust to what is left of a camera's cast after normalisation; the
    Lab histograms keep the shades that names merge. Hellinger (square-root) mapping, then unit norm.
    """

    name = "color"

    def embed(self, crops: list[Crop]) -> np.ndarray:
        return np.stack([self._one(c) for c in crops]).astype(np.float32) if crops else np.zeros((0, self.dim), np.float32)

    @property
    def dim(self) -> int:  # per part: colour names, a 4x4 a/b histogram, 4 lightness bins
        return len(PARTS) * (len(COLOUR_NAMES) + 16 + 4)

    def _one(self, crop: Crop) -> np.ndarray:
        pieces = []
        for part, weight in PART_WEIGHTS.items():
            pixels = crop.part_pixels(part)
            if not len(pixels):
                pieces.append(np.zeros(len(COLOUR_NAMES) + 20))
                continue
            lab = srgb_to_lab(pixels)
            names = name_probabilities(lab).mean(0)
            ab, _, _ = np.histogram2d(lab[:, 1], lab[:, 2], bins=4, range=[[-80, 80], [-80, 80]])
            light, _ = np.histogram(lab[:, 0], bins=4, range=(0, 100))
            ab = ab.ravel() / len(lab)
            light = light / len(lab)
            pieces.append(weight * np.sqrt(np.concatenate([names, 0.5 * ab, 0.5 * light])))
        vector = np.concatenate(pieces)
        return vector / max(np.linalg.norm(vector), 1e-9)


def pool(embeddings: np.ndarray, owners: np.ndarray, weights: np.ndarray, count: int) -> np.ndarray:
    """(count, D) weighted mean embedding per owner, unit norm (zeros for owners without crops)."""
    out = np.zeros((count, embeddings.shape[1]), np.float32)
    np.add.at(out, owners, embeddings * weights[:, None])
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.where(norms > 0, out / np.maximum(norms, 1e-9), 0.0).astype(np.float32)
