"""Dataset layer: the CRTrack format (one reader/writer), masks, frames, the synthetic world."""

from crmot.data.crtrack import CRTrackFormatError, Expression, Scene, SeqInfo, View, list_scenes, load_scene, load_split
from crmot.data.expression_files import load_expression_gt, load_predictions
from crmot.data.tracks import Tracks

__all__ = [
    "CRTrackFormatError",
    "Expression",
    "Scene",
    "SeqInfo",
    "Tracks",
    "View",
    "list_scenes",
    "load_expression_gt",
    "load_predictions",
    "load_scene",
    "load_split",
]
