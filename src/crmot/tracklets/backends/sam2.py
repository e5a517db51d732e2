"""SAM2 tracklets: a detector's boxes prompt SAM2's video predictor, re-seeded window by window.

Each window of ``window`` frames is a fresh predictor state (memory bounded, whatever the video's
length): the objects alive at the end of the previous window enter with their last masks and keep
their ids, the detector's boxes on the window's first frame that no carried mask covers become new
objects, and SAM2 propagates them through the window. Frames reach SAM2 as symlinks to the
original JPEGs (no re-encoding).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from crmot.data import masks as rle
from crmot.data.boxes import iou_matrix
from crmot.models import sam2 as sam2_models
from crmot.tracklets.backends.base import Detector, RegionRow, SegmentationBackend
from crmot.tracklets.backends.classical import ClassicalDetector
from crmot.tracklets.types import Tracklets, VideoSource


class SAM2Backend(SegmentationBackend):
    def __init__(self, size: str = "base_plus", checkpoint: str | None = "checkpoints/sam2.1_hiera_base_plus.pt",
                 window: int = 50, allow_random_init: bool = False, image_size: int | None = None,
                 detector: Detector | None = None, new_object_iou: float = 0.3) -> None:
        self.size = size
        self.checkpoint = checkpoint
        self.window = window
        self.allow_random_init = allow_random_init
        self.image_size = image_size
        self.detector = detector or ClassicalDetector()
        self.new_object_iou = new_object_iou
        self.random = checkpoint is None
        self.predictor = None
        self.device = torch.device("cpu")

    @property
    def name(self) -> str:
        return "sam2-random-init" if self.random else "sam2"

    def describe(self) -> dict:
        return {"name": self.name, "size": self.size, "checkpoint": None if self.random else self.checkpoint,
                "window": self.window, "image_size": self.image_size, "detector": self.detector.describe()}

    def setup(self, device: torch.device) -> None:
        self.device = torch.device(device)
        self.detector.setup(self.device)
        checkpoint = sam2_models.resolve_checkpoint(self.size, self.checkpoint, self.allow_random_init,
                                                    "model.backend.init_args.checkpoint")
        self.predictor = sam2_models.build_video_predictor(self.size, checkpoint, self.device, self.image_size)

    def segment_video(self, video: VideoSource, prompts: list[str]) -> Tracklets:
        if self.predictor is None:
            self.setup(self.device)
        view = self.detector.calibrate(video)
        rows: list[tuple[int, int, float, dict]] = []
        carried: dict[int, np.ndarray] = {}  # object id -> last mask (H, W) bool
        next_id = 1
        for first in range(1, video.num_frames + 1, self.window):
            last = min(first + self.window - 1, video.num_frames)
            with tempfile.TemporaryDirectory(prefix="crmot-sam2-") as folder:
                _link_frames(video, first, last, Path(folder))
                state = self.predictor.init_state(folder, offload_video_to_cpu=True, offload_state_to_cpu=True)
                for obj_id, mask in carried.items():
                    self.predictor.add_new_mask(state, frame_idx=0, obj_id=obj_id, mask=torch.from_numpy(mask))
                detections = self.detector.detect(video.read(first)[None], view)[0]
                for box in self._new_objects([d.box for d in detections], carried):
                    x, y, w, h = box
                    self.predictor.add_new_points_or_box(state, frame_idx=0, obj_id=next_id,
                                                         box=np.array([x, y, x + w, y + h], np.float32))
                    next_id += 1
                carried = {}
                if state["obj_ids"]:
                    for offset, obj_ids, logits in self._propagate(state):
                        for obj_id, logit in zip(obj_ids, logits[:, 0]):
                            mask = (logit > 0).cpu().numpy()
                            if mask.any():
                                score = float(torch.sigmoid(logit[logit > 0]).mean())
                                rows.append((first + offset, int(obj_id), score, rle.encode(mask)))
                                if first + offset == last:
                                    carried[int(obj_id)] = mask
                self.predictor.reset_state(state)
        return Tracklets.from_rows(rows)

    def segment_regions(self, video: VideoSource, regions: dict[int, np.ndarray],
                        held: dict[int, list[np.ndarray]] | None = None) -> list[RegionRow]:
        """Re-prompting: SAM2 itself (its image predictor on the same weights) prompted with each box
        (a box prompt separates merged people by itself: ``held`` is not needed)."""
        from sam2.sam2_image_predictor import SAM2ImagePredictor

        if self.predictor is None:
            self.setup(self.device)
        image_predictor = SAM2ImagePredictor(self.predictor)
        rows = []
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda")
        with torch.inference_mode(), autocast:
            for frame, (x, y, w, h) in sorted(regions.items()):
                image_predictor.set_image(video.read(frame))
                masks, scores, _ = image_predictor.predict(box=np.array([x, y, x + w, y + h]), multimask_output=False)
                mask = np.asarray(masks[0]) > 0
                if mask.any():
                    rows.append((frame, float(scores[0]), rle.encode(mask)))
        return rows

    def _propagate(self, state):
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda")
        with torch.inference_mode(), autocast:
            yield from self.predictor.propagate_in_video(state)

    def _new_objects(self, boxes: list[np.ndarray], carried: dict[int, np.ndarray]) -> list[np.ndarray]:
        """Detector boxes that no carried object already covers."""
        if not boxes:
            return []
        boxes_arr = np.stack(boxes)
        if not carried:
            return list(boxes_arr)
        carried_boxes = rle.to_boxes([rle.encode(m) for m in carried.values()])
        overlap = iou_matrix(boxes_arr, carried_boxes).max(axis=1)
        return list(boxes_arr[overlap < self.new_object_iou])


def _link_frames(video: VideoSource, first: int, last: int, folder: Path) -> None:
    """``0.jpg, 1.jpg, ...`` in ``folder``, as SAM2's loader wants: links where frames are files."""
    from PIL import Image

    for index, frame in enumerate(range(first, last + 1)):
        target = folder / f"{index}.jpg"
        source = video.path(frame) if video.path else None
        if source is not None and source.suffix.lower() in (".jpg", ".jpeg"):
            os.symlink(source.resolve(), target)
        else:
            Image.fromarray(video.read(frame)).save(target, quality=95)
