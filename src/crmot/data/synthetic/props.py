"""Things in a scene that are not people: static person-sized props and moving machines.

Both are distractors that no ground truth lists. A sign or a poster board stands as tall as a person
and carries cloth-like colours; a delivery robot moves through the scene as people do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crmot.constants import COLOUR_WORDS
from crmot.data.synthetic.palette import shade
from crmot.data.synthetic.people import follow_path, random_path

STATIC_KINDS = ("sign", "board")


@dataclass(frozen=True)
class Prop:
    """A static prop (``sign``: a panel on a pole; ``board``: a two-colour poster board)."""

    kind: str
    xy: np.ndarray  # ground position, metres
    width: float
    height: float
    colours: tuple[tuple[int, int, int], tuple[int, int, int]]  # panel/top and pole/bottom


@dataclass(frozen=True)
class Robot:
    """A delivery robot: a box on wheels that drives across the scene (wider than tall)."""

    waypoints: np.ndarray
    speed: float  # metres per frame
    start: float
    length: float
    height: float
    colour: tuple[int, int, int]

    def positions(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return follow_path(self.waypoints, self.speed, self.start, frames)


def sample_props(rng: np.random.Generator, count: int, area: tuple[float, float]) -> list[Prop]:
    half = np.array(area) / 2
    props = []
    for _ in range(count):
        kind = str(rng.choice(STATIC_KINDS))
        words = rng.choice(len(COLOUR_WORDS), size=2, replace=False)
        colours = (shade(rng, COLOUR_WORDS[words[0]]), shade(rng, COLOUR_WORDS[words[1]]))
        width = float(rng.uniform(0.5, 0.8)) if kind == "sign" else float(rng.uniform(0.45, 0.7))
        props.append(Prop(kind, rng.uniform(-0.9 * half, 0.9 * half), width, float(rng.uniform(1.6, 2.1)), colours))
    return props


def sample_robots(rng: np.random.Generator, count: int, frames: int, frame_rate: int,
                  area: tuple[float, float]) -> list[Robot]:
    robots = []
    for _ in range(count):
        waypoints = random_path(rng, area)
        speed = float(rng.uniform(0.8, 1.6)) / frame_rate
        length = float(np.linalg.norm(np.diff(waypoints, axis=0), axis=1).sum())
        start = float(rng.uniform(-0.5 * length / speed, 0.6 * frames))
        colour = shade(rng, COLOUR_WORDS[int(rng.integers(len(COLOUR_WORDS)))])
        robots.append(Robot(waypoints, speed, start, float(rng.uniform(0.7, 1.0)), float(rng.uniform(0.5, 0.7)), colour))
    return robots
