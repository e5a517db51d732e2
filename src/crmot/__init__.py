"""crmot: weakly supervised cross-view referring multi-object tracking (ViewSAM)."""

__version__ = "0.1.0"
