"""A view's colour cast, estimated from its own frames and divided out.

Every camera has its own gain and white balance, and colour words must mean the same in all of them:
stage 2 names and compares white-balanced crops, and ViewSAM sees white-balanced frames. The cast is
the median of the near-grey pixels of frames sampled over the video (grey-world on the scene's neutral
surfaces: pavement, walls, sky); all pixels vote when too few are grey.
"""

from __future__ import annotations

import numpy as np

from crmot.data.crtrack import View
from crmot.data.frames import read_frame, spread_frames

#: Pixels that vote: neither dark nor blown out, and nearly grey (their channels within this share of
#: the brightest one), so that grass or a painted wall does not count.
NEUTRAL_SPREAD = 0.4
#: Frames sampled over a video to estimate its cast.
GAIN_FRAMES = 16


def view_gain(frames: np.ndarray) -> np.ndarray:
    """Per-channel gain (3,) that maps the median near-grey colour of (..., 3) RGB ``frames`` to grey.
    Grey-world over every pixel fails where one colour fills the scene (a lawn turned every person
    pink), so only near-grey pixels vote. The gains keep the mean level (exposure is not touched)."""
    pixels = frames.reshape(-1, 3).astype(np.float32)
    brightest, darkest = pixels.max(axis=1), pixels.min(axis=1)
    neutral = (brightest > 40) & (brightest < 245) & (brightest - darkest <= NEUTRAL_SPREAD * brightest)
    voters = pixels[neutral] if neutral.mean() >= 0.05 else pixels
    median = np.maximum(np.median(voters, axis=0), 1.0)
    return (median.mean() / median).astype(np.float32)


def sample_view_gain(view: View, count: int = GAIN_FRAMES) -> np.ndarray:
    """:func:`view_gain` of ``count`` frames spread evenly over ``view`` (memory bounded on long videos)."""
    return view_gain(np.stack([read_frame(view, int(f)) for f in spread_frames(view.num_frames, count)]))
