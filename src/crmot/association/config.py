"""Stage 2's settings, one dataclass reachable from YAML (``model.association.<field>``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from crmot.association.affinity import AffinityConfig


@dataclass
class AssociationConfig:
    threshold: float = 0.65  # mean affinity two clusters need to merge
    crops_per_tracklet: int = 6
    split_chunk: int = 12  # frames per chunk when checking a tracklet for identity switches
    split_threshold: float = 0.75  # adjacent chunks less similar than this are cut apart
    reprompt_rounds: int = 2  # 0 disables re-prompting
    accept_threshold: float = 0.85  # similarity a recovered tracklet needs to its identity's prototype
    drop_threshold: float = 0.7  # members less similar than this to the rest of their identity leave it
    min_span: int = 3  # frames: shorter recoveries are not worth a tracklet, unless they bridge a gap
    max_gap: int = 3  # frames: a view that loses an identity this briefly is asked for it in between
    use_calibration: bool = True  # ground-plane geometry from calibration/<Scene>.json when present
    gain_frames: int = 16  # frames sampled to estimate a view's colour cast
    affinity: AffinityConfig = field(default_factory=AffinityConfig)
