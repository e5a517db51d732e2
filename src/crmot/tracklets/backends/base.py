"""The interfaces of stage 1: a segmentation backend (video -> tracklets) and a person detector
(frames -> boxes and masks) that promptable backends such as SAM2 take their box prompts from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from crmot.errors import ConfigError
from crmot.tracklets.types import Tracklets, VideoSource

#: A re-prompting answer: (frame, score, mask RLE) of the object found inside a frame's region.
RegionRow = tuple[int, float, dict]


@dataclass(frozen=True)
class Detection:
    """One person found in one frame."""

    box: np.ndarray  # xywh
    score: float
    mask: dict  # COCO RLE
    colours: np.ndarray  # (6,) mean RGB / 255 of the upper and the lower half of the mask: the tracker's appearance


#: What a detector learns once per video before detecting (a background model, a perspective line ...).
Calibration = Any


class Detector(ABC):
    """Finds people frame by frame; calibrated once per video (static cameras)."""

    name: str

    def setup(self, device: torch.device) -> None:  # noqa: F821
        """Move work onto ``device`` (called once per process)."""

    @abstractmethod
    def calibrate(self, video: VideoSource) -> Calibration:
        """What the detector needs to know about the view before its first frame."""

    @abstractmethod
    def detect(self, frames: np.ndarray, calibration: Calibration) -> list[list[Detection]]:
        """Per frame of ``frames`` (T, H, W, 3 uint8): the people in it."""

    def describe(self) -> dict:
        return {"name": self.name}


class SegmentationBackend(ABC):
    #: Name written into every output, so nobody mistakes a fallback figure for a SAM3 one.
    name: str

    @abstractmethod
    def segment_video(self, video: VideoSource, prompts: list[str]) -> Tracklets:
        """Every object of the prompted categories in one view, with tracklet ids stable in the view."""

    def segment_regions(self, video: VideoSource, regions: dict[int, np.ndarray],
                        held: dict[int, list[np.ndarray]] | None = None) -> list[RegionRow]:
        """Re-prompting (stage 2): the object inside each frame's candidate box (frame -> xywh), for
        the frames where one is found. ``held``: boxes (xywh) other objects already hold in each
        frame, for backends that need them to tell the object from a neighbour it is merged with.
        Backends that cannot take region prompts say so."""
        raise ConfigError(f"the {self.name} backend cannot be prompted with regions; "
                          "use the classical or sam2 backend as the stage-2 segmenter")

    def setup(self, device: torch.device) -> None:  # noqa: F821
        """Load models onto ``device`` (called once per process before the first video)."""

    def describe(self) -> dict:
        """Backend name and settings, recorded in every manifest."""
        return {"name": self.name}
