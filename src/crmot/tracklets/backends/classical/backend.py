"""Weight-free tracklets for static cameras: the classical detector's people, linked by a Kalman +
Hungarian tracker; masks are the detected foreground pixels. Re-prompting (stage 2) asks the detector
again, with a lower threshold, inside candidate boxes."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch

from crmot.constants import CATEGORY
from crmot.data import masks as rle
from crmot.data.boxes import iou_matrix, shared_matrix
from crmot.errors import ConfigError
from crmot.tracklets.backends.base import Detection, RegionRow, SegmentationBackend
from crmot.tracklets.backends.classical.config import ClassicalConfig
from crmot.tracklets.backends.classical.detector import ClassicalDetector, ViewModel
from crmot.tracklets.tracker import IoUTracker
from crmot.tracklets.types import Tracklets, VideoSource

#: Views whose calibration is kept (a scene's views; bounded whatever the number of scenes).
_CALIBRATIONS_KEPT = 16
#: Frames whose re-prompting blobs and people are kept (a scene's worth of short views; bounded).
_FRAMES_KEPT = 2048


class ClassicalBackend(SegmentationBackend):
    name = "classical"

    def __init__(self, config: ClassicalConfig | None = None) -> None:
        self.config = config or ClassicalConfig()
        self.detector = ClassicalDetector(self.config)
        self._calibrations: OrderedDict = OrderedDict()
        self._frames: OrderedDict = OrderedDict()

    def setup(self, device: torch.device) -> None:
        self.detector.setup(device)

    def describe(self) -> dict:
        return self.detector.describe()

    def segment_video(self, video: VideoSource, prompts: list[str]) -> Tracklets:
        unsupported = [p for p in prompts if p != CATEGORY]
        if unsupported:
            raise ConfigError(f"the classical backend finds moving people only; cannot prompt {unsupported}")
        view = self.detector.calibrate(video)
        tracker = IoUTracker(self.config.tracker)
        detections: list[tuple[int, Detection]] = []  # key (= index) -> frame, detection
        owner: dict[int, int] = {}  # key -> track id
        for first, frames in video.windows(self.config.window):
            for offset, found in enumerate(self.detector.detect(frames, view)):
                keys = list(range(len(detections), len(detections) + len(found)))
                detections.extend((first + offset, d) for d in found)
                boxes = np.array([d.box for d in found], dtype=np.float64).reshape(-1, 4)
                colours = np.array([d.colours for d in found], dtype=np.float64).reshape(-1, 6)
                owner.update(tracker.step(boxes, keys, colours).owners(keys))
        return _tracklets(detections, owner)

    def segment_regions(self, video: VideoSource, regions: dict[int, np.ndarray],
                        held: dict[int, list[np.ndarray]] | None = None, relax: float = 0.8) -> list[RegionRow]:
        """Detection again in each frame with the foreground threshold lowered by ``relax``, and no
        tracker (whose birth rule drops short sightings): the person that best overlaps the candidate
        box. Where that is one of the boxes ``held`` by others in the frame (or nobody), the person
        asked for stands merged with a neighbour: the blob under the box is split again with a
        person rectangle forced at the box's foot point, and the part it owns is the answer."""
        view = self._calibrated(video)
        key = self._video_key(video)  # frames are kept for videos of files only (an id may be reused)
        asked = sorted(regions)
        known = {f: self._frames[(key, f, relax)] for f in asked if (key, f, relax) in self._frames}
        missing = [f for f in asked if f not in known]
        for start in range(0, len(missing), self.config.window):  # the per-pixel work in batches of frames
            frames = missing[start:start + self.config.window]
            images = np.stack([video.read(f) for f in frames])
            blobs, light = self.detector.foreground.blobs(images, view.background, relax)  # detection and split share them
            found = self.detector.people(images, view, blobs, light)
            for t, frame in enumerate(frames):
                known[frame] = ([(0, y0, x0, b) for u, y0, x0, b in blobs if u == t], found[t])
                if video.path:  # identities of a scene, and the next round, ask for the same frames again
                    _keep(self._frames, (key, frame, relax), known[frame], _FRAMES_KEPT)
        rows = []
        for frame in asked:
            own, found = known[frame]
            row = self._answer(video.height, video.width, view, own, found, np.asarray(regions[frame], np.float64),
                               (held or {}).get(frame, []))
            if row is not None:
                rows.append((frame, *row))
        return rows

    def _answer(self, height: int, width: int, view: ViewModel, blobs: list, found: list[Detection], box: np.ndarray,
                held: list[np.ndarray]) -> tuple[float, dict] | None:
        """(score, mask) of the person asked for at ``box`` in one frame, or None."""
        overlap = iou_matrix(box[None], np.stack([d.box for d in found]))[0] if found else np.zeros(0)
        best = found[int(np.argmax(overlap))] if len(overlap) and overlap.max() > 0 else None
        neighbours = np.array(held, np.float64).reshape(-1, 4)
        taken = best is None or bool(len(neighbours) and shared_matrix(best.box[None], neighbours).max() > 0.5)
        if view.perspective is not None and taken:
            part = self.detector.prompted_part((height, width), blobs, view.perspective, box)
            if part is not None:
                return 1.0, rle.encode(part)
        if best is not None:  # the caller decides how much overlap it trusts
            return best.score, best.mask
        return None

    def _calibrated(self, video: VideoSource) -> ViewModel:
        """``calibrate`` once per video (re-prompting asks many times for the same view)."""
        key = self._video_key(video)
        if key not in self._calibrations:
            _keep(self._calibrations, key, self.detector.calibrate(video), _CALIBRATIONS_KEPT)
        return self._calibrations[key]

    @staticmethod
    def _video_key(video: VideoSource) -> tuple:
        return (str(video.path(1)) if video.path else id(video), video.num_frames)


def _keep(cache: OrderedDict, key, value, limit: int) -> None:
    """Put ``value`` in ``cache``, dropping the oldest entries beyond ``limit`` (memory stays bounded)."""
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > limit:
        cache.popitem(last=False)


def _tracklets(detections: list[tuple[int, Detection]], owner: dict[int, int]) -> Tracklets:
    """Rows of confirmed tracks only, ids renumbered 1..N by first appearance."""
    keys = sorted(owner, key=lambda k: (detections[k][0], k))
    rank: dict[int, int] = {}
    for k in keys:
        rank.setdefault(owner[k], len(rank) + 1)
    return Tracklets.from_rows([(detections[k][0], rank[owner[k]], detections[k][1].score, detections[k][1].mask) for k in keys])
