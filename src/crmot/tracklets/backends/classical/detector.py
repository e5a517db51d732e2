"""The classical person detector: foreground blobs of a static view that are shaped like people.

Calibration, once per view: the median background and the perspective line fitted on the blobs of the
same sampled frames. Detection, per window of frames: blobs (foreground.py), joined or split into
people (grouping.py), filtered by shape and by the size a person has at that image row, and completed
where a body part has the ground's colours (completion.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from crmot.data import masks as rle
from crmot.tracklets.backends.base import Detection, Detector
from crmot.tracklets.backends.classical import grouping
from crmot.tracklets.backends.classical.completion import complete
from crmot.tracklets.backends.classical.config import ClassicalConfig
from crmot.tracklets.backends.classical.foreground import Blob, Foreground, light_at, median_background
from crmot.tracklets.backends.classical.perspective import Perspective
from crmot.tracklets.types import VideoSource


@dataclass(frozen=True)
class ViewModel:
    """What the detector knows about one static view."""

    background: np.ndarray  # (H, W, 3) uint8
    perspective: Perspective | None


class ClassicalDetector(Detector):
    name = "classical"

    def __init__(self, config: ClassicalConfig | None = None) -> None:
        self.config = config or ClassicalConfig()
        self.foreground = Foreground(self.config, torch.device("cpu"))

    def setup(self, device: torch.device) -> None:
        self.foreground.device = torch.device(device)  # per-pixel work only: labelling stays on the CPU

    def describe(self) -> dict:
        return {"name": self.name, **asdict(self.config)}

    def calibrate(self, video: VideoSource) -> ViewModel:
        """Median background from frames sampled over the whole video (memory bounded by the
        sample), and the perspective line fitted on the blobs of those same frames."""
        frames = video.spread(self.config.background_frames)
        background = median_background(frames, self.foreground.device)
        blobs, _ = self.foreground.blobs(frames, background)
        boxes = np.array([box for _, top, left, blob in blobs if (box := mask_box(grouping.core(blob, self.config), top, left))],
                         dtype=np.float64).reshape(-1, 4)
        height, width = frames.shape[1:3]
        x, y, w, h = boxes.T
        inside = (x > 0) & (y > 0) & (x + w < width) & (y + h < height)
        return ViewModel(background, Perspective.fit(boxes[inside]))  # people cut by the border would bias the line

    def detect(self, frames: np.ndarray, calibration: ViewModel, relax: float = 1.0) -> list[list[Detection]]:
        """Per frame of the window: every person-shaped blob (foreground threshold times ``relax``)."""
        blobs, light = self.foreground.blobs(frames, calibration.background, relax)
        return self.people(frames, calibration, blobs, light)

    def people(self, frames: np.ndarray, view: ViewModel, blobs: list[Blob], light: np.ndarray
               ) -> list[list[Detection]]:
        """``detect`` on the window's ``blobs`` and light cells (from ``Foreground.blobs``)."""
        cfg = self.config
        out: list[list[Detection]] = [[] for _ in range(len(frames))]
        height, width = frames.shape[1:3]
        if view.perspective is not None:
            blobs = grouping.join_stacked(list(blobs), view.perspective, cfg)
        for t, y0, x0, blob in blobs:
            cut_by_border = y0 == 0 or y0 + blob.shape[0] >= height
            local = None if cut_by_border else view.perspective
            for part, dx, whole in grouping.split(grouping.core(blob, cfg), y0, local, cfg):
                rows, cols = np.nonzero(part)
                if len(rows) < cfg.min_area:
                    continue
                rows, cols = rows + y0, cols + x0 + dx
                top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
                if bottom - top < cfg.min_height or bottom - top < cfg.min_aspect * (right - left):
                    continue
                expected = local.height(bottom) if local else None
                if expected is not None and bottom - top < cfg.min_relative_height * expected:
                    continue
                colours = half_colours(frames[t], rows, cols, (top + bottom) // 2)  # of the pixels seen
                if expected is not None and whole and bottom - top < cfg.complete_below * expected:
                    mask = np.zeros((height, width), bool, order="F")  # pycocotools' layout: no copy to encode
                    mask[rows, cols] = True
                    here = light_at(light[t], (height, width), (top + bottom) / 2, (left + right) / 2)
                    lit = view.background * here
                    top, bottom, left, right = complete(frames[t], lit, mask, (top, bottom, left, right), expected, local, cfg)
                    encoded = rle.encode(mask)
                else:  # most detections: the runs come from the box's crop, no full-frame mask
                    crop = np.zeros((bottom - top, right - left), bool)
                    crop[rows - top, cols - left] = True
                    encoded = rle.encode_crop(crop, top, left, height, width)
                box = np.array([left, top, right - left, bottom - top], dtype=np.float64)
                out[t].append(Detection(box, float(len(rows)) / float(box[2] * box[3]), encoded, colours))
        return out

    def prompted_part(self, shape: tuple[int, int], blobs: list[Blob], perspective: Perspective,
                      box: np.ndarray) -> np.ndarray | None:
        """Full-frame mask of what a person standing at ``box``'s foot point owns of the blob (of a
        frame's ``blobs``) with the most pixels in ``box``, once the blob is explained by person
        rectangles with theirs first."""
        x, y, w, h = box
        chosen, most = None, 0
        for _, y0, x0, blob in blobs:
            inside = int(blob[max(int(y) - y0, 0):max(int(y + h) - y0, 0), max(int(x) - x0, 0):max(int(x + w) - x0, 0)].sum())
            if inside > most:
                chosen, most = (y0, x0, grouping.core(blob, self.config)), inside
        if chosen is None:
            return None
        y0, x0, blob = chosen
        foot = int(np.clip(round(y + h) - y0, 1, blob.shape[0])) - 1  # index into the rows of feet
        centre = int(np.clip(round(x + w / 2) - x0, 0, blob.shape[1] - 1))
        part = grouping.split_templates(blob, y0, perspective, self.config, first=(foot, centre))[0]
        if part.sum() < self.config.min_area:
            return None
        mask = np.zeros(shape, bool)
        mask[y0:y0 + blob.shape[0], x0:x0 + blob.shape[1]] = part
        return mask


def half_colours(frame: np.ndarray, rows: np.ndarray, cols: np.ndarray, middle: int) -> np.ndarray:
    """Mean RGB / 255 of the pixels above and below ``middle``: coat and trousers, roughly."""
    upper = rows < middle
    halves = (frame[rows[upper], cols[upper]], frame[rows[~upper], cols[~upper]])
    return np.concatenate([h.mean(axis=0) if len(h) else np.full(3, 127.5) for h in halves]) / 255.0


def mask_box(mask: np.ndarray, top: int, left: int) -> list[float] | None:
    rows, cols = np.nonzero(mask)
    if not len(rows):
        return None
    return [left + cols.min(), top + rows.min(), cols.max() - cols.min() + 1, rows.max() - rows.min() + 1]
