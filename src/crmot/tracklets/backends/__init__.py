"""Segmentation backends behind one interface: ``segment_video(video, prompts) -> Tracklets``.

Chosen on the command line by class (``--model.backend ClassicalBackend`` or a ``class_path`` with
``init_args`` in YAML), as Lightning CLI does for any component.
"""

from crmot.tracklets.backends.base import Calibration, Detection, Detector, RegionRow, SegmentationBackend

__all__ = ["Calibration", "Detection", "Detector", "RegionRow", "SegmentationBackend"]
