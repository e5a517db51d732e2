"""Weight-free tracklets for static cameras: background model, foreground blobs, IoU tracking.

Per view: a median background from frames sampled over the whole video (memory bounded by the
sample, not the length), foreground = colour distance to it, cut at blurred edges, cleaned by
morphology (torch, batches of frames on the stage's device) and split into connected
components (scipy.ndimage, on the CPU). A
perspective line (person height vs. foot row, fitted per view on the sampled frames, no calibration
needed) sizes the person rectangles that explain a merged group; without it, side-by-side people
are cut at the valleys of the column profile. Blobs not shaped like
a standing person (dogs, wheels) are dropped; a Kalman + Hungarian tracker links blobs into
tracklets. Masks are the blobs' foreground pixels.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from scipy import ndimage

from crmot.constants import CATEGORY
from crmot.data import masks as rle
from crmot.errors import ConfigError
from crmot.tracklets.backends import RegionRow, SegmentationBackend, pixels
from crmot.tracklets.tracker import IoUTracker, TrackerConfig, iou_matrix, shared_matrix
from crmot.tracklets.types import Tracklets, VideoSource

_IN_FRAME = np.zeros((3, 3, 3), bool)
_IN_FRAME[1] = True  # labelling stays inside one frame of a window
_TWO_ROWS = np.ones((2, 1), bool)  # what a split part keeps: at least two rows thick
_SPECKS = (3, 3)  # rows, columns: what opening removes and closing fills
_VERTICAL = (7, 1)  # closing bridges a head, coat and legs that differ little from the ground
# Frames go through the per-pixel steps in batches of about this many pixels. Small temporaries
# keep memory flat over a long video: window-sized ones (16 MB and more at 960x540), allocated and
# freed every window, fragment the C heap and the process grew by ~30 MB a window.
_PIXELS_PER_PASS = 1 << 20


@dataclass(frozen=True)
class Detection:
    """One person-shaped blob in one frame."""

    box: np.ndarray  # xywh
    score: float  # share of the box the mask fills
    mask: dict  # COCO RLE
    colours: np.ndarray  # (6,) mean RGB / 255 of the upper and the lower half of the mask: the tracker's appearance


@dataclass
class ClassicalConfig:
    background_frames: int = 48  # frames sampled evenly over the video for the median background
    threshold: float = 10.0  # colour distance (0-255, max over channels) that makes a pixel foreground ...
    edge: float = 0.4  # ... if it also reaches this share of the largest distance nearby (blurred edges)
    edge_reach: int = 5  # pixels, odd: the side of the square neighbourhood of that largest distance
    min_area: int = 30  # pixels of a blob worth tracking
    min_height: int = 10  # pixels
    min_aspect: float = 1.15  # height / width of a person-shaped blob (dogs and lone bicycles are wider)
    person_aspect: float = 0.3  # width / height of one standing person (a bag on the side reaches 0.34): wider blobs are tried as groups
    min_relative_height: float = 0.4  # of a standing person at that image row (wheels, bags, dogs are lower)
    complete_below: float = 0.85  # a lone blob shorter than this share of a person there is completed (coat or legs)
    core: float = 0.55  # a person's width is measured on the top part of a blob (dogs, wheels are lower)
    template_width: float = 0.25  # width / height of a person's torso rectangle when splitting groups
    min_fill: float = 0.5  # of such a rectangle covered by the blob, for it to be a person
    min_gain: float = 0.3  # of it covered by pixels no person chosen so far explains
    max_group: int = 12  # people one blob may hold
    window: int = 32  # frames read and processed at once
    tracker: TrackerConfig = field(default_factory=TrackerConfig)


class ClassicalBackend(SegmentationBackend):
    name = "classical"

    def __init__(self, background_frames: int = ClassicalConfig.background_frames,
                 threshold: float = ClassicalConfig.threshold, min_area: int = ClassicalConfig.min_area,
                 window: int = ClassicalConfig.window, tracker: TrackerConfig | None = None) -> None:
        self.config = ClassicalConfig(background_frames=background_frames, threshold=threshold, min_area=min_area,
                                      window=window, tracker=tracker or TrackerConfig())
        self.device = torch.device("cpu")

    def setup(self, device: torch.device) -> None:
        self.device = torch.device(device)  # per-pixel work only: labelling and tracking stay on the CPU

    def describe(self) -> dict:
        return {"name": self.name, **asdict(self.config)}

    def segment_video(self, video: VideoSource, prompts: list[str]) -> Tracklets:
        unsupported = [p for p in prompts if p != CATEGORY]
        if unsupported:
            raise ConfigError(f"the classical backend finds moving people only; cannot prompt {unsupported}")
        background, perspective = self.calibrate(video)
        tracker = IoUTracker(self.config.tracker)
        detections: list[tuple[int, Detection]] = []  # key (= index) -> frame, detection
        owner: dict[int, int] = {}  # key -> track id
        for first, frames in video.windows(self.config.window):
            for offset, found in enumerate(self.detect(frames, background, perspective)):
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
        background, perspective = self._calibrated(video)
        rows = []
        for frame, box in sorted(regions.items()):
            image = video.read(frame)
            box = np.asarray(box, np.float64)
            blobs = list(self._blobs(image[None], background, relax))  # once: detection and the split share them
            found = self._detections(image[None], background, perspective, blobs)[0]
            overlap = iou_matrix(box[None], np.stack([d.box for d in found]))[0] if found else np.zeros(0)
            best = found[int(np.argmax(overlap))] if len(overlap) and overlap.max() > 0 else None
            neighbours = np.array((held or {}).get(frame, []), np.float64).reshape(-1, 4)
            taken = best is None or bool(len(neighbours) and shared_matrix(best.box[None], neighbours).max() > 0.5)
            if perspective is not None and taken:
                part = self._prompted_part(image.shape[:2], blobs, perspective, box)
                if part is not None:
                    rows.append((frame, 1.0, rle.encode(part)))
                    continue
            if best is not None:  # the caller decides how much overlap it trusts
                rows.append((frame, best.score, best.mask))
        return rows

    def _prompted_part(self, shape: tuple[int, int], blobs: list, perspective: "Perspective",
                       box: np.ndarray) -> np.ndarray | None:
        """Full-frame mask of what a person standing at ``box``'s foot point owns of the blob (of a
        frame's ``blobs``) with the most pixels in ``box``, once the blob is explained by person
        rectangles with theirs first."""
        x, y, w, h = box
        chosen, most = None, 0
        for _, y0, x0, blob in blobs:
            inside = int(blob[max(int(y) - y0, 0):max(int(y + h) - y0, 0), max(int(x) - x0, 0):max(int(x + w) - x0, 0)].sum())
            if inside > most:
                chosen, most = (y0, x0, self._core(blob)), inside
        if chosen is None:
            return None
        y0, x0, blob = chosen
        foot = int(np.clip(round(y + h) - y0, 1, blob.shape[0])) - 1  # index into the rows of feet
        centre = int(np.clip(round(x + w / 2) - x0, 0, blob.shape[1] - 1))
        part = self._split_templates(blob, y0, perspective, first=(foot, centre))[0]
        if part.sum() < self.config.min_area:
            return None
        mask = np.zeros(shape, bool)
        mask[y0:y0 + blob.shape[0], x0:x0 + blob.shape[1]] = part
        return mask

    def _calibrated(self, video: VideoSource):
        """``calibrate`` once per video (re-prompting asks many times for the same view)."""
        cache = self.__dict__.setdefault("_calibrations", {})
        key = (str(video.path(1)) if video.path else id(video), video.num_frames)
        if key not in cache:
            if len(cache) >= 16:  # a scene's views; bounded whatever the number of scenes
                cache.pop(next(iter(cache)))
            cache[key] = self.calibrate(video)
        return cache[key]

    def calibrate(self, video: VideoSource) -> tuple[np.ndarray, "Perspective | None"]:
        """Median background from frames sampled over the whole video (memory bounded by the
        sample), and the perspective line fitted on the blobs of those same frames."""
        frames = video.spread(self.config.background_frames)
        background = pixels.median_frame(pixels.to_device(frames, self.device)).cpu().numpy()
        boxes = np.array([box for _, top, left, blob in self._blobs(frames, background)
                          if (box := _box(self._core(blob), top, left))], dtype=np.float64).reshape(-1, 4)
        height, width = frames.shape[1:3]
        inside = (boxes[:, 0] > 0) & (boxes[:, 1] > 0) & (boxes[:, 0] + boxes[:, 2] < width) & (boxes[:, 1] + boxes[:, 3] < height)
        return background, Perspective.fit(boxes[inside])  # people cut by the border would bias the line

    def detect(self, frames: np.ndarray, background: np.ndarray, perspective: "Perspective | None" = None,
               relax: float = 1.0) -> list[list[Detection]]:
        """Per frame of the window: every person-shaped blob (foreground threshold times ``relax``)."""
        return self._detections(frames, background, perspective, self._blobs(frames, background, relax))

    def _detections(self, frames: np.ndarray, background: np.ndarray, perspective: "Perspective | None",
                    blobs) -> list[list[Detection]]:
        """``detect`` on the window's ``blobs`` (from ``_blobs``)."""
        cfg = self.config
        out: list[list] = [[] for _ in range(len(frames))]
        height, width = frames.shape[1:3]
        if perspective is not None:
            blobs = _join_stacked(list(blobs), perspective, cfg)
        for t, y0, x0, blob in blobs:
            cut_by_border = y0 == 0 or y0 + blob.shape[0] >= height
            local = None if cut_by_border else perspective
            for part, dx, whole in self._split(self._core(blob), y0, local):
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
                mask = np.zeros((height, width), bool, order="F")  # pycocotools' layout: no copy to encode
                mask[rows, cols] = True
                colours = _half_colours(frames[t], rows, cols, (top + bottom) // 2)  # of the pixels seen
                if expected is not None and whole and bottom - top < cfg.complete_below * expected:
                    top, bottom, left, right = self._complete(frames[t], background, mask, (top, bottom, left, right),
                                                              expected, local)
                box = np.array([left, top, right - left, bottom - top], dtype=np.float64)
                out[t].append(Detection(box, float(len(rows)) / float(box[2] * box[3]), rle.encode(mask), colours))
        return out

    def _foreground(self, frames: torch.Tensor, background: torch.Tensor, least: torch.Tensor) -> torch.Tensor:
        """Pixels far enough from the background, per frame (uint8 tensors in, bool out; ``least``
        from ``_least_foreground``). Blur smears a person's colours over the pixels around them, so
        a pixel must also reach ``edge`` of the largest distance nearby: the mask stops at the
        blurred edge's midpoint, not where the smear fades into noise."""
        distance = (torch.maximum(frames, background) - torch.minimum(frames, background)).amax(dim=-1)
        nearby = pixels.max_filter(distance, (self.config.edge_reach, self.config.edge_reach))
        return distance >= least[nearby.long()]

    def _least_foreground(self, relax: float) -> torch.Tensor:
        """The smallest distance that is foreground, per largest distance nearby (0-255): above
        ``threshold`` and at least ``edge`` of that largest one. A table of integers, so that the
        integer distances compare exactly as with the float64 thresholds the backend was tuned with."""
        nearby = np.arange(256)
        least = np.maximum(np.floor(relax * self.config.threshold) + 1, np.ceil(relax * self.config.edge * nearby))
        return torch.from_numpy(np.minimum(least, 256).astype(np.int16)).to(self.device)

    def _blobs(self, frames: np.ndarray, background: np.ndarray, relax: float = 1.0):
        """(frame index, top, left, blob mask) of every foreground component of a window."""
        foreground = np.empty(frames.shape[:3], bool)
        step = max(1, _PIXELS_PER_PASS // (frames.shape[1] * frames.shape[2]))
        background, least = pixels.to_device(background, self.device), self._least_foreground(relax)  # once a window
        for start in range(0, len(frames), step):
            part = self._foreground(pixels.to_device(frames[start:start + step], self.device), background, least)
            part = pixels.opening(part, _SPECKS)
            foreground[start:start + step] = pixels.closing(pixels.closing(part, _VERTICAL), _SPECKS).cpu().numpy()
        labels, _ = ndimage.label(foreground, structure=_IN_FRAME)
        for label, found in enumerate(ndimage.find_objects(labels), start=1):
            if found is not None:  # holes filled blob by blob: small crops, not whole windows
                t, ys, xs = found
                yield t.start, ys.start, xs.start, ndimage.binary_fill_holes(labels[t.start, ys, xs] == label)

    def _complete(self, frame: np.ndarray, background: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int],
                  expected: float, perspective: "Perspective") -> tuple[int, int, int, int]:
        """A lone blob much shorter than a person standing there is part of one whose other part has
        the colours of the ground: a coat (the upper body is missing) or trousers (the legs are).
        The missing part is where the frame still differs a little from the background (below the
        threshold, more than noise; shoes too): the rectangle of the two with the larger mean
        difference is added to ``mask`` (in place). Returns the completed top, bottom, left, right."""
        top, bottom, left, right = box
        height, width = mask.shape
        upper, x0_up, x1_up = self._upper_body(left, right, bottom, expected, width)
        foot, x0_low, x1_low = self._lower_body(left, right, top, perspective, (height, width))

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

    def _upper_body(self, left: int, right: int, bottom: int, expected: float, width: int) -> tuple[int, int, int]:
        """Top row and column span of the rectangle a standing person fills above a blob that spans
        columns ``left:right`` and stands at ``bottom`` (a coat the colour of the ground). The
        rectangle has their size from the perspective line, so the box and the colours stage 2
        reads from the mask cover the whole person."""
        return (max(int(round(bottom - expected)), 0), *self._torso_columns(left, right, expected, width))

    def _lower_body(self, left: int, right: int, top: int, perspective: "Perspective", shape: tuple[int, int]
                    ) -> tuple[int, int, int]:
        """Foot row (exclusive) and column span of the rectangle a standing person fills when a blob
        shows their head at row ``top`` but not their legs (trousers the colour of the ground). The
        foot row is where the perspective line's height reaches from the head: foot - top =
        slope * foot + intercept."""
        foot = (top + perspective.intercept) / max(1.0 - perspective.slope, 1e-6)
        return (min(int(round(foot)), shape[0]), *self._torso_columns(left, right, perspective.height(foot), shape[1]))

    def _torso_columns(self, left: int, right: int, tall: float, width: int) -> tuple[int, int]:
        """Columns of a person ``tall`` pixels tall centred on ``left:right`` (torso width)."""
        centre, half = (left + right) / 2, max(self.config.template_width * tall / 2, 1.0)
        return max(int(round(centre - half)), 0), min(int(round(centre + half)), width)

    def _core(self, blob: np.ndarray) -> np.ndarray:
        """Keep the columns that reach the top part of the blob: a dog beside its owner or the wheels
        of a bicycle only occupy the bottom rows."""
        top = blob[: max(1, int(round(self.config.core * blob.shape[0])))]
        return blob & top.any(axis=0)[None, :]

    def _split(self, blob: np.ndarray, top: int, perspective: "Perspective | None"):
        """Parts of a blob holding several people. Yields (part, column offset, whether it is the whole blob).

        A blob no larger than one person (height from the perspective line) is kept whole; a larger
        one is explained by person rectangles (``_split_templates``). Without the line, side-by-side
        people are cut at column valleys.
        """
        rows = np.flatnonzero(blob.any(axis=1))
        if not len(rows):
            return
        if perspective is None:
            for part, dx in self._split_columns(blob, float(rows[-1] + 1 - rows[0])):
                yield part, dx, part is blob
            return
        bottom = int(rows[-1]) + 1
        cols = np.flatnonzero(blob.any(axis=0))
        person_h = perspective.height(top + bottom)
        if person_h < self.config.min_height or (
                bottom - rows[0] <= 1.3 * person_h and cols[-1] + 1 - cols[0] <= self.config.person_aspect * person_h):
            yield blob, 0, True  # one person: keep the exact mask
            return
        for part in self._split_templates(blob, top, perspective):
            yield part, 0, part is blob

    def _split_templates(self, blob: np.ndarray, top: int, perspective: "Perspective",
                         first: tuple[int, int] | None = None) -> list[np.ndarray]:
        """Explain a blob by standing-person rectangles, greedily: every candidate foot point gets a
        rectangle sized by the perspective line; the next person is the rectangle best filled by the
        blob among those that still cover enough pixels no chosen person explains. Pixels go to the
        nearest (lowest-footed) rectangle holding them, so an occluded person keeps what is visible.
        ``first`` (foot row index, centre column) is a person known to stand there (re-prompting),
        added to the people the blob shows by itself; their part is the first returned."""
        cfg = self.config
        height, width = blob.shape
        feet = np.arange(1, height + 1)
        tall = np.maximum(np.round(perspective.height(top + feet)), 2).astype(np.int64)
        half = np.maximum(np.round(cfg.template_width * tall / 2), 1).astype(np.int64)
        y0, y1 = np.clip(feet - tall, 0, None)[:, None], feet[:, None]
        centres = np.arange(width)[None, :]
        x0, x1 = np.clip(centres - half[:, None], 0, width), np.clip(centres + half[:, None] + 1, 0, width)
        area = (tall * (2 * half + 1)).astype(np.float64)[:, None]

        def fill(mask: np.ndarray) -> np.ndarray:
            table = np.pad(mask, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
            return (table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]) / area

        filled = fill(blob)
        explained = np.zeros_like(blob)
        chosen: list[tuple[int, int]] = []  # (foot row, centre column)
        while len(chosen) < cfg.max_group:
            gain = fill(blob & ~explained)
            score = np.where((gain >= cfg.min_gain) & (filled >= cfg.min_fill), filled + gain, -np.inf)
            foot, centre = np.unravel_index(int(np.argmax(score)), score.shape)
            if not np.isfinite(score[foot, centre]):
                break
            chosen.append((int(foot), int(centre)))
            explained[y0[foot, 0]:y1[foot, 0], x0[foot, centre]:x1[foot, centre]] |= True
        if first is not None:  # known, not seen: the others are those the blob shows without them
            foot, centre = first
            chosen = [first] + [(f, c) for f, c in chosen if abs(f - foot) > 2 or abs(c - centre) > half[foot]]
        if len(chosen) <= 1:
            return [blob]  # one person after all (a bag, an arm): keep the exact mask
        owner = np.zeros(blob.shape, np.int64)  # 1-based index into chosen, 0 = nobody
        reach = np.full(blob.shape, np.inf)
        for index, (foot, centre) in sorted(enumerate(chosen, start=1), key=lambda item: item[1][0]):
            rows = slice(y0[foot, 0], y1[foot, 0])
            wide = max(int(round(cfg.person_aspect * tall[foot])), 1)
            a, b = max(centre - wide, 0), min(centre + wide + 1, width)
            distance = np.abs(np.arange(a, b) - centre)[None, :].astype(np.float64)
            core = distance <= half[foot]
            region_owner, region_reach = owner[rows, a:b], reach[rows, a:b]
            take = core | (distance < region_reach)  # nearer people (sorted last) win their core
            region_owner[take] = index
            region_reach[take] = np.broadcast_to(np.where(core, -1.0, distance), take.shape)[take]
        # A neighbour's stray row (its foot row one off its rectangle) would stretch a part's box
        # sideways: a part keeps what is at least two rows thick.
        return [ndimage.binary_opening(blob & (owner == index), structure=_TWO_ROWS)
                for index in range(1, len(chosen) + 1)]

    def _split_columns(self, blob: np.ndarray, person_height: float):
        """Cut a blob holding side-by-side people at the valleys of its column profile."""
        w = blob.shape[1]
        count = int(round(w / max(self.config.person_aspect * person_height, 1.0)))
        if count < 2:
            yield blob, 0
            return
        profile = blob.sum(axis=0)
        cuts = [0]
        for k in range(1, count):
            centre, reach = int(k * w / count), max(1, int(w / (2 * count)))
            lo, hi = max(centre - reach, cuts[-1] + 1), min(centre + reach, w - 1)
            cuts.append(lo + int(np.argmin(profile[lo:hi + 1])) if hi >= lo else centre)
        cuts.append(w)
        for a, b in zip(cuts[:-1], cuts[1:]):
            if b > a:
                yield blob[:, a:b], a


def _join_stacked(blobs: list, perspective: "Perspective", cfg: ClassicalConfig) -> list:
    """A head alone above a pair of legs, with nothing between them but the ground's colour, is one
    person in a coat the colour of the ground: each fragment is too short to be a person, together
    they are one standing there. Such a pair becomes one blob, the coat between them filled in."""
    boxes = [(t, y0, x0, y0 + b.shape[0], x0 + b.shape[1]) for t, y0, x0, b in blobs]
    in_frame: dict[int, list[int]] = defaultdict(list)
    for k, box in enumerate(boxes):
        in_frame[box[0]].append(k)
    joined: dict[int, int] = {}  # index of the legs -> index of the head
    used: set[int] = set()  # each fragment joins at most once, as legs or as a head
    for low, (t, top, left, bottom, right) in enumerate(boxes):
        tall = perspective.height(bottom)
        if (low in used or bottom - top >= cfg.min_relative_height * tall
                or right - left > cfg.person_aspect * tall * 1.5):
            continue
        heads = [(top - b[3], high) for high, b in ((k, boxes[k]) for k in in_frame[t]) if high not in used
                 and 0 <= top - b[3] <= 0.5 * tall and b[3] - b[1] <= 0.35 * tall
                 and left - 0.1 * tall <= (b[2] + b[4]) / 2 <= right + 0.1 * tall
                 and 0.75 * tall <= bottom - b[1] <= 1.2 * tall]
        if heads:
            joined[low] = min(heads)[1]
            used.update((low, joined[low]))
    out = [blob for k, blob in enumerate(blobs) if k not in used]
    for low, high in joined.items():
        (t, top, left, bottom, right), (_, head_top, head_left, head_bottom, head_right) = boxes[low], boxes[high]
        x0, x1 = min(left, head_left), max(right, head_right)
        person = np.zeros((bottom - head_top, x1 - x0), bool)
        person[head_bottom - head_top: top - head_top, left - x0: right - x0] = True  # the coat
        person[top - head_top:, left - x0: right - x0] |= blobs[low][3]
        person[: head_bottom - head_top, head_left - x0: head_right - x0] |= blobs[high][3]
        out.append((t, head_top, x0, person))
    return out


@dataclass(frozen=True)
class Perspective:
    """Standing-person height in pixels as a line in the image row of the feet (static camera)."""

    slope: float
    intercept: float

    def height(self, foot_row: float) -> float:
        return self.slope * foot_row + self.intercept

    @classmethod
    def fit(cls, boxes: np.ndarray, tolerance: float = 0.15, agreement: float = 0.07,
            candidates: int = 200) -> "Perspective | None":
        """The line most blobs shaped like one standing person agree with closely (height 2.8 to 5.5
        times the width; side-by-side groups are wider, a lower body alone is squatter), then least
        squares on its inliers, trimmed until every kept blob is within ``tolerance`` of the line.

        Agreement first, because two kinds of blob pass the shape test and lie off the line: people
        half seen (a coat the colour of the ground, someone behind a pillar) below it, and in crowds
        people standing one behind the other, whose merged blob is a taller "person", above it. A
        least-squares start lands between the bands. Single people lie on a thin band (one body
        height), the others scatter, so the line through two blobs that the most blobs agree with
        to within ``agreement`` is the single people's."""
        aspect = boxes[:, 3] / np.maximum(boxes[:, 2], 1.0)
        single = boxes[(aspect >= 2.8) & (aspect <= 5.5)]
        if len(single) < 10:
            return None
        foot, height = single[:, 1] + single[:, 3], single[:, 3]
        if np.ptp(foot) < 0.1 * foot.max():
            return None  # everyone stands at the same distance: no line to fit
        keep = _agreeing(foot, height, agreement, candidates)
        for _ in range(8):
            slope, intercept = np.polyfit(foot[keep], height[keep], 1)
            expected = slope * foot + intercept
            inliers = np.abs(height - expected) <= tolerance * np.abs(expected)
            if inliers.sum() < 10 or (inliers == keep).all():
                break
            keep = inliers
        return cls(float(slope), float(intercept)) if slope > 0 else None


def _agreeing(x: np.ndarray, y: np.ndarray, tolerance: float, candidates: int) -> np.ndarray:
    """Points within ``tolerance`` (relative) of the line through two points that the most points
    agree with; every pair of up to ``candidates`` points spread over x is tried (deterministic)."""
    pick = np.argsort(x, kind="stable")[np.linspace(0, len(x) - 1, min(candidates, len(x))).astype(int)]
    i, j = np.triu_indices(len(pick), k=1)
    a, b = pick[i], pick[j]
    usable = x[b] - x[a] >= 0.05 * np.ptp(x)  # two points at nearly the same row give no slope
    a, b = a[usable], b[usable]
    if not len(a):
        return np.ones(len(x), bool)
    slope = (y[b] - y[a]) / (x[b] - x[a])
    intercept = y[a] - slope * x[a]
    votes = np.empty(len(a), np.int64)
    for start in range(0, len(a), 4096):  # (4096, points) at a time: bounded memory
        part = slice(start, start + 4096)
        expected = slope[part, None] * x + intercept[part, None]
        votes[part] = (np.abs(y - expected) <= tolerance * np.abs(expected)).sum(1)
    best = int(np.argmax(votes))
    expected = slope[best] * x + intercept[best]
    inliers = np.abs(y - expected) <= tolerance * np.abs(expected)
    return inliers if inliers.sum() >= 2 else np.ones(len(x), bool)


def _half_colours(frame: np.ndarray, rows: np.ndarray, cols: np.ndarray, middle: int) -> np.ndarray:
    """Mean RGB / 255 of the pixels above and below ``middle``: coat and trousers, roughly."""
    upper = rows < middle
    halves = (frame[rows[upper], cols[upper]], frame[rows[~upper], cols[~upper]])
    return np.concatenate([h.mean(axis=0) if len(h) else np.full(3, 127.5) for h in halves]) / 255.0


def _box(mask: np.ndarray, top: int, left: int) -> list[float] | None:
    rows, cols = np.nonzero(mask)
    if not len(rows):
        return None
    return [left + cols.min(), top + rows.min(), cols.max() - cols.min() + 1, rows.max() - rows.min() + 1]


def _tracklets(detections: list[tuple[int, Detection]], owner: dict[int, int]) -> Tracklets:
    """Rows of confirmed tracks only, ids renumbered 1..N by first appearance."""
    keys = sorted(owner, key=lambda k: (detections[k][0], k))
    rank: dict[int, int] = {}
    for k in keys:
        rank.setdefault(owner[k], len(rank) + 1)
    return Tracklets.from_rows([(detections[k][0], rank[owner[k]], detections[k][1].score, detections[k][1].mask) for k in keys])
