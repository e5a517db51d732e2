"""Segmentation backends behind one interface: ``segment_video(video, prompts) -> Tracklets``.

Chosen on the command line by class (``--model.backend ClassicalBackend`` or a ``class_path`` with
``init_args`` in YAML), as Lightning CLI does for any component.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from crmot.tracklets.types import Tracklets, VideoSource


class SegmentationBackend(ABC):
    #: Name written into every output, so nobody mistakes a fallback figure for a SAM3 one.
    name: str

    @abstractmethod
    def segment_video(self, video: VideoSource, prompts: list[str]) -> Tracklets:
        """Every object of the prompted categories in one view, with tracklet ids stable in the view."""

    def setup(self, device: "torch.device") -> None:  # noqa: F821
        """Load models onto ``device`` (called once per process before the first video)."""

    def describe(self) -> dict:
        """Backend name and settings, recorded in every manifest."""
        return {"name": self.name}
