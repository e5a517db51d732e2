"""Size and content of a synthetic world, read from a preset in ``conf/data/<name>.yaml``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import yaml

from crmot.constants import CONF_DIR
from crmot.errors import ConfigError, MissingFileError


@dataclass(frozen=True)
class WorldConfig:
    train_scenes: int = 2
    test_scenes: int = 1
    views: tuple[int, int] = (2, 3)  # views per scene, min and max
    frames: int = 60
    people: tuple[int, int] = (6, 8)  # identities per scene, min and max
    image_size: tuple[int, int] = (320, 192)  # width, height
    frame_rate: int = 10
    expressions_per_scene: int = 12
    occluders: int = 2  # static pillars per scene
    props: int = 2  # static person-sized signs and poster boards per scene (not people)
    robots: int = 1  # delivery robots driving through each scene (not people)
    area: tuple[float, float] = (12.0, 9.0)  # walkable ground, metres
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        for name in ("views", "people", "image_size", "area"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not 1 <= self.views[0] <= self.views[1]:
            raise ConfigError(f"views must be [min, max] with 1 <= min <= max, got {self.views}")
        if self.frames < 2 or self.people[0] < 1:
            raise ConfigError("a world needs at least 2 frames and 1 person per scene")


def load_preset(preset: str | Path) -> WorldConfig:
    """A preset by name (``tiny``, ``demo``, ``bench``) or a path to a YAML file of WorldConfig fields."""
    path = Path(preset)
    if not path.suffix:
        path = CONF_DIR / "data" / f"{preset}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in (CONF_DIR / "data").glob("*.yaml"))
        raise MissingFileError(f"no preset {preset!r} (known: {known}, or give a .yaml path)")
    fields = yaml.safe_load(path.read_text()) or {}
    unknown = set(fields) - {f.name for f in dataclasses.fields(WorldConfig)}
    if unknown:
        raise ConfigError(f"{path}: unknown fields {sorted(unknown)}")
    return WorldConfig(**fields)
