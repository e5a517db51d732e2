"""Segmentation backends behind one interface: ``segment_video(video, prompts) -> Tracklets``.

Chosen on the command line by class (``--model.backend ClassicalBackend`` or a ``class_path`` with
``init_args`` in YAML), as Lightning CLI does for any component.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from crmot.errors import ConfigError
from crmot.tracklets.types import Tracklets, VideoSource

#: A re-prompting answer: (frame, score, mask RLE) of the object found inside a frame's region.
RegionRow = tuple[int, float, dict]


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

    def setup(self, device: "torch.device") -> None:  # noqa: F821
        """Load models onto ``device`` (called once per process before the first video)."""

    def describe(self) -> dict:
        """Backend name and settings, recorded in every manifest."""
        return {"name": self.name}
