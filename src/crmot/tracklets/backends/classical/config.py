"""Every setting of the classical detector and backend, in one dataclass reachable from YAML
(``model.backend.init_args.config.<field>``) and recorded in every manifest."""

from __future__ import annotations

from dataclasses import dataclass, field

from crmot.tracklets.tracker import TrackerConfig


@dataclass
class ClassicalConfig:
    # Background and foreground (foreground.py).
    background_frames: int = 48  # frames sampled evenly over the video for the median background
    threshold: float = 10.0  # colour distance (0-255, max over channels) that makes a pixel foreground ...
    edge: float = 0.4  # ... if it also reaches this share of the largest distance nearby (blurred edges)
    edge_reach: int = 5  # pixels, odd: the side of the square neighbourhood of that largest distance
    max_shift: int = 0  # pixels a shaking camera may move (frames are re-aligned; costs ~40% of stage 1); 0: a still camera
    light_cells: int = 6  # the light field is estimated on a grid of this many cells across the shorter side
    shadow_ratio: tuple[float, float] = (0.4, 0.95)  # a pixel this much darker than the lit background ...
    shadow_chroma: float = 0.06  # ... with a chromaticity this close to it is a shadow, not an object
    # Blobs that are people (detector.py).
    min_area: int = 30  # pixels of a blob worth tracking
    min_height: int = 10  # pixels
    min_aspect: float = 1.15  # height / width of a person-shaped blob (animals and lone wheels are wider)
    min_relative_height: float = 0.4  # of a standing person at that image row (wheels, bags, animals are lower)
    complete_below: float = 0.85  # a lone blob shorter than this share of a person there is completed (coat or legs)
    core: float = 0.55  # a person's width is measured on the top part of a blob (what walks beside is lower)
    # Groups of people in one blob (grouping.py).
    person_aspect: float = 0.3  # width / height of one standing person (with a bag on the side): wider blobs are tried as groups
    template_width: float = 0.25  # width / height of a person's torso rectangle when splitting groups
    min_fill: float = 0.5  # of such a rectangle covered by the blob, for it to be a person
    min_gain: float = 0.3  # of it covered by pixels no person chosen so far explains
    max_group: int = 12  # people one blob may hold
    # Tracking (backend.py).
    window: int = 32  # frames read and processed at once
    tracker: TrackerConfig = field(default_factory=TrackerConfig)

    def __post_init__(self) -> None:
        self.shadow_ratio = tuple(self.shadow_ratio)
