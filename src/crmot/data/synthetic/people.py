"""Pedestrians: CRTrack-style attributes and walking paths (entries, exits, crossings, pauses)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crmot.constants import COLOUR_WORDS
from crmot.data.synthetic.palette import shade

COLOUR_NAMES = COLOUR_WORDS
# Black is the most frequent colour in CRTrack expressions; the rest follow roughly its counts.
COLOUR_WEIGHTS = np.array([0.30, 0.14, 0.12, 0.10, 0.08, 0.06, 0.06, 0.05, 0.05, 0.04])
CARRIED = ("bag", "schoolbag", "plastic bag")
SKIN_TONES = ((224, 182, 150), (190, 140, 105), (140, 95, 65), (240, 205, 180))
DOG_COLOURS = ((110, 75, 45), (30, 30, 30), (235, 230, 220))
#: Chance that a person wears the coat and trousers of someone already in the scene.
SAME_OUTFIT = 0.3
#: Coat patterns and how often they are worn; a pattern modulates brightness, never the colour word.
TEXTURES = ("plain", "stripes", "check")
TEXTURE_WEIGHTS = (0.5, 0.3, 0.2)


@dataclass(frozen=True)
class Person:
    """One identity of a scene: what it wears and carries, and where it walks."""

    pid: int
    coat: tuple[str, ...]  # one colour, or two for a two-colour coat
    trousers: str
    shoes: str
    headwear: str | None  # "cap" | "helmet" | None
    headwear_colour: str | None
    carried: str | None  # "bag" | "schoolbag" | "plastic bag" | None
    carried_colour: str | None
    companion: str | None  # "dog" | "bicycle" | None
    height: float  # metres
    width: float
    skin: tuple[int, int, int]
    shades: dict[str, tuple[int, int, int]]  # the RGB of each garment: "coat", "coat2", "trousers", ...
    legs: float  # fraction of the height below the coat (trousers), varies with build
    shoulders: float  # fraction of the height at the top of the coat
    texture: str  # coat pattern, one of TEXTURES
    waypoints: np.ndarray  # (N, 2) ground positions, metres
    speed: float  # metres per frame
    start: float  # frame at which the person is at the first waypoint (may be < 1)
    pause_at: float  # arc length where the person stands still
    pause_frames: float

    def positions(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ground position (F, 2), unit walking direction (F, 2) and presence (F,) at ``frames``."""
        return follow_path(self.waypoints, self.speed, self.start, frames, self.pause_at, self.pause_frames)


def follow_path(waypoints: np.ndarray, speed: float, start: float, frames: np.ndarray, pause_at: float = 0.0,
                pause_frames: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where something moving along ``waypoints`` at ``speed`` (metres per frame) is at ``frames``: ground
    position (F, 2), unit direction (F, 2) and presence (F,), standing still ``pause_frames`` at ``pause_at``."""
    seg = np.diff(waypoints, axis=0)
    seg_len = np.linalg.norm(seg, axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg_len)])
    elapsed = frames - start
    pause_start = pause_at / speed
    walking = elapsed - np.clip(elapsed - pause_start, 0.0, pause_frames)
    s = walking * speed
    present = (s >= 0.0) & (s <= arc[-1])
    s = np.clip(s, 0.0, arc[-1])
    xy = np.stack([np.interp(s, arc, waypoints[:, 0]), np.interp(s, arc, waypoints[:, 1])], axis=1)
    index = np.clip(np.searchsorted(arc, s, side="right") - 1, 0, len(seg) - 1)
    direction = seg[index] / np.maximum(seg_len[index], 1e-9)[:, None]
    return xy, direction, present


def sample_people(rng: np.random.Generator, count: int, frames: int, frame_rate: int,
                  area: tuple[float, float]) -> list[Person]:
    """Identities with distinct-enough looks and paths that enter, cross and leave the area."""
    people = []
    for pid in range(1, count + 1):
        companion = rng.choice(["none", "dog", "bicycle"], p=[0.75, 0.13, 0.12])
        companion = None if companion == "none" else str(companion)
        two_colour = rng.random() < 0.2
        coat = tuple(_colours(rng, 2 if two_colour else 1))
        trousers = _colours(rng, 1)[0]
        if people and rng.random() < SAME_OUTFIT:  # crowds repeat outfits: expressions then refer to several people
            twin = people[int(rng.integers(len(people)))]
            coat, trousers = twin.coat, twin.trousers
        headwear = "helmet" if companion == "bicycle" and rng.random() < 0.7 else (
            str(rng.choice(["cap", "helmet"])) if rng.random() < 0.3 else None)
        carried = str(rng.choice(CARRIED)) if companion != "bicycle" and rng.random() < 0.45 else None
        carried_colour = "white" if carried == "plastic bag" else (_colours(rng, 1)[0] if carried else None)
        metres_per_second = rng.uniform(2.5, 3.5) if companion == "bicycle" else rng.uniform(0.9, 1.5)
        speed = metres_per_second / frame_rate
        waypoints = random_path(rng, area)
        length = float(np.linalg.norm(np.diff(waypoints, axis=0), axis=1).sum())
        duration = length / speed
        # Enter at any time such that the person is in the area for part of the video.
        start = rng.uniform(-0.6 * duration, frames - 0.25 * min(duration, frames))
        pause = rng.random() < 0.25
        garments = {"coat": coat[0], "coat2": coat[-1], "trousers": trousers}
        shoes = _colours(rng, 1)[0]
        headwear_colour = _colours(rng, 1)[0] if headwear else None
        for garment, word in (("shoes", shoes), ("headwear", headwear_colour), ("carried", carried_colour)):
            if word:
                garments[garment] = word
        legs = float(rng.uniform(0.44, 0.52))
        people.append(Person(
            pid=pid,
            coat=coat,
            trousers=trousers,
            shoes=shoes,
            headwear=headwear,
            headwear_colour=headwear_colour,
            carried=carried,
            carried_colour=carried_colour,
            companion=companion,
            height=float(rng.uniform(1.55, 1.95)),
            width=float(rng.uniform(0.38, 0.56)),
            skin=SKIN_TONES[int(rng.integers(len(SKIN_TONES)))],
            shades={garment: shade(rng, word) for garment, word in garments.items()},
            legs=legs,
            shoulders=float(rng.uniform(0.8, 0.85)),
            texture=str(rng.choice(TEXTURES, p=TEXTURE_WEIGHTS)),
            waypoints=waypoints,
            speed=float(speed),
            start=float(start),
            pause_at=float(rng.uniform(0.3, 0.7) * length),
            pause_frames=float(rng.uniform(0.05, 0.2) * frames) if pause else 0.0,
        ))
    return people


def _colours(rng: np.random.Generator, n: int) -> list[str]:
    picks = rng.choice(len(COLOUR_NAMES), size=n, replace=False, p=COLOUR_WEIGHTS)
    return [COLOUR_NAMES[i] for i in picks]


def random_path(rng: np.random.Generator, area: tuple[float, float]) -> np.ndarray:
    """Entry on one border, 1-3 interior waypoints, exit on another border."""
    half = np.array(area) / 2.0
    entry_side, exit_side = rng.choice(4, size=2, replace=False)
    inner = rng.uniform(-0.8 * half, 0.8 * half, size=(int(rng.integers(1, 4)), 2))
    return np.vstack([_border_point(rng, entry_side, half), inner, _border_point(rng, exit_side, half)])


def _border_point(rng: np.random.Generator, side: int, half: np.ndarray) -> np.ndarray:
    t = rng.uniform(-0.9, 0.9)
    return {0: np.array([-half[0], t * half[1]]), 1: np.array([half[0], t * half[1]]),
            2: np.array([t * half[0], -half[1]]), 3: np.array([t * half[0], half[1]])}[int(side)]
