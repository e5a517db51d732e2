"""SAM3 tracklets: the category name as a text prompt to SAM3's video model, frame by frame.

Memory stays bounded on long videos: the video is cut into windows of ``window`` frames, each run
in a fresh inference session (SAM3 keeps per-frame state), consecutive windows share one frame, and
object ids are carried across by mask IoU on that frame. On CUDA the model runs under bf16 autocast.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from crmot.data import masks as rle
from crmot.errors import MissingFileError
from crmot.models import sam3 as sam3_models
from crmot.tracklets.backends import SegmentationBackend
from crmot.tracklets.stitch import stitch
from crmot.tracklets.types import Tracklets, VideoSource


class SAM3Backend(SegmentationBackend):
    def __init__(self, checkpoint: str | None = None, window: int = 200, min_score: float = 0.0,
                 allow_random_init: bool = False, random_image_size: int = 336) -> None:
        """A named ``checkpoint`` folder must exist; with none named, ``allow_random_init`` builds a
        small random model (speed tests only, named ``sam3-random-init`` in every output)."""
        if checkpoint is None and not allow_random_init:
            raise MissingFileError("no SAM3 checkpoint given (model.backend.init_args.checkpoint); random weights "
                                   "only with allow_random_init: true")
        self.checkpoint = checkpoint
        self.window = window
        self.min_score = min_score
        self.allow_random_init = allow_random_init
        self.random_image_size = random_image_size
        self.model = self.processor = None
        self.device = torch.device("cpu")
        self.random = checkpoint is None

    @property
    def name(self) -> str:
        return "sam3-random-init" if self.random else "sam3"

    def describe(self) -> dict:
        return {"name": self.name, "checkpoint": None if self.random else str(Path(self.checkpoint).resolve()),
                "window": self.window, "min_score": self.min_score}

    def setup(self, device: torch.device) -> None:
        self.device = torch.device(device)
        if self.random:
            self.model, self.processor = sam3_models.build_random(self.random_image_size)
            self.model.to(self.device)
        else:
            self.model, self.processor = sam3_models.load(self.checkpoint, self.device)

    def segment_video(self, video: VideoSource, prompts: list[str]) -> Tracklets:
        if self.model is None:
            self.setup(self.device)
        rows: list[tuple[int, int, float, dict]] = []  # frame, id, score, mask
        next_id = 1
        carried: dict[int, dict] = {}  # global id -> mask on the last frame of the previous window
        first = 1
        while first <= video.num_frames:
            start = first if first == 1 else first - 1  # share one frame with the previous window
            last = min(start + self.window - 1, video.num_frames)
            session = self.processor.init_video_session(inference_device=self.device)
            self.processor.add_text_prompt(session, prompts)
            to_global: dict[int, int] = {}
            for frame in range(start, last + 1):
                objects = self._segment_frame(session, video.read(frame))
                if frame == start and start != first:  # the overlap frame: only used to join ids
                    to_global = stitch(carried, {i: mask for i, (_, mask) in objects.items()})
                    continue
                for local, (score, mask) in objects.items():
                    if local not in to_global:
                        to_global[local] = next_id
                        next_id += 1
                    rows.append((frame, to_global[local], score, mask))
            carried = {gid: mask for f, gid, _, mask in rows if f == last}
            first = last + 1
            del session
        return Tracklets.from_rows(rows)

    @torch.inference_mode()
    def _segment_frame(self, session, frame: np.ndarray) -> dict[int, tuple[float, dict]]:
        inputs = self.processor(images=frame, return_tensors="pt")
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda")
        with autocast:
            output = self.model(inference_session=session, frame=inputs.pixel_values[0].to(self.device))
        post = self.processor.postprocess_outputs(session, output, original_sizes=inputs.original_sizes)
        masks = post["masks"].cpu().numpy()
        return {int(i): (float(s), rle.encode(m)) for i, s, m in zip(post["object_ids"].tolist(), post["scores"].tolist(), masks)
                if s >= self.min_score and m.any()}
