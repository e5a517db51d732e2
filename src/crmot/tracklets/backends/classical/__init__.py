"""The weight-free stage-1 backend: background model, foreground, perspective, grouping, detector, tracker."""

from crmot.tracklets.backends.classical.backend import ClassicalBackend
from crmot.tracklets.backends.classical.config import ClassicalConfig
from crmot.tracklets.backends.classical.detector import ClassicalDetector, ViewModel
from crmot.tracklets.backends.classical.perspective import Perspective

__all__ = ["ClassicalBackend", "ClassicalConfig", "ClassicalDetector", "Perspective", "ViewModel"]
