"""All views of a scene tiled in one frame, with boxes and masks coloured by identity.

The tiles of a frame are composed once and every video of the scene draws on a copy, so a scene's
frames are decoded once however many expressions are rendered, and nothing is held beyond one frame.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from crmot.data import masks as rle
from crmot.data.crtrack import Scene
from crmot.data.frames import read_frame
from crmot.data.tracks import Tracks

CAPTION_HEIGHT = 22
DIMMED = (150, 150, 150)


def identity_colour(identity: int) -> tuple[int, int, int]:
    """A distinct, stable colour per identity (golden-ratio hues)."""
    hue = (identity * 0.618033988749895) % 1.0
    return tuple(int(255 * c) for c in colorsys.hsv_to_rgb(hue, 0.85, 1.0))


@dataclass
class Layer:
    """What one video shows: per view, rows (frames, ids, boxes) and optionally their masks; rows of
    ``referred`` ids are drawn bold (with masks), the others thin and grey when ``referred`` is given."""

    caption: str
    tracks: dict[int, Tracks]
    masks: dict[int, list[dict]] = field(default_factory=dict)
    referred: set[int] | None = None

    def __post_init__(self) -> None:
        self._by_frame = {k: _rows_by_frame(t) for k, t in self.tracks.items()}

    def rows(self, view: int, frame: int) -> np.ndarray:
        return self._by_frame.get(view, {}).get(frame, np.zeros(0, np.int64))


class Mosaic:
    """Tile layout of a scene's views: up to three per row, each scaled to ``tile_width``."""

    def __init__(self, scene: Scene, tile_width: int = 320) -> None:
        self.scene = scene
        first = scene.views[0].seqinfo
        self.scale = tile_width / first.width
        self.tile = (tile_width, int(round(first.height * self.scale)))
        self.columns = min(len(scene.views), 3)
        rows = -(-len(scene.views) // self.columns)
        self.size = (self.columns * self.tile[0], CAPTION_HEIGHT + rows * self.tile[1])

    def base(self, frame: int) -> Image.Image:
        canvas = Image.new("RGB", self.size, (20, 20, 20))
        for i, view in enumerate(self.scene.views):
            image = Image.fromarray(read_frame(view, frame)).resize(self.tile, Image.BILINEAR)
            canvas.paste(image, self._origin(i))
        return canvas

    def draw(self, base: Image.Image, layer: Layer, frame: int) -> np.ndarray:
        canvas = base.copy()
        overlay = np.asarray(canvas).copy()
        boxes = []
        for i, view in enumerate(self.scene.views):
            ox, oy = self._origin(i)
            tracks = layer.tracks.get(view.index)
            for row in layer.rows(view.index, frame):
                identity = int(tracks.ids[row])
                bold = layer.referred is None or identity in layer.referred
                colour = identity_colour(identity) if bold else DIMMED
                x, y, w, h = tracks.boxes[row] * self.scale
                boxes.append(((ox + x, oy + y, ox + x + w, oy + y + h), colour, 2 if bold else 1))
                masks = layer.masks.get(view.index)
                if bold and masks:
                    self._blend(overlay, rle.decode(masks[row]), (ox, oy), colour)
        canvas = Image.fromarray(overlay)
        pen = ImageDraw.Draw(canvas)
        for box, colour, width in boxes:
            pen.rectangle(box, outline=colour, width=width)
        pen.text((6, 5), layer.caption[: self.size[0] // 6], fill=(255, 255, 255))
        return np.asarray(canvas)

    def _origin(self, index: int) -> tuple[int, int]:
        return (index % self.columns) * self.tile[0], CAPTION_HEIGHT + (index // self.columns) * self.tile[1]

    def _blend(self, overlay: np.ndarray, mask: np.ndarray, origin: tuple[int, int], colour) -> None:
        small = np.asarray(Image.fromarray(mask).resize(self.tile, Image.NEAREST))
        x, y = origin
        region = overlay[y:y + self.tile[1], x:x + self.tile[0]]
        region[small] = (0.55 * region[small] + 0.45 * np.asarray(colour)).astype(np.uint8)


def _rows_by_frame(tracks: Tracks) -> dict[int, np.ndarray]:
    order = np.argsort(tracks.frames, kind="stable")
    frames = tracks.frames[order]
    cuts = np.flatnonzero(np.diff(frames)) + 1
    return {int(frames[group[0]]): order[group] for group in np.split(np.arange(len(frames)), cuts) if len(group)}
