"""The benchmarks' synthetic worlds in one place: a name, its root, its configuration, seed 0.

    python benchmarks/worlds.py NAME...    # write the named worlds that are missing or stale

The GPU suite writes them first, all together: a multi-view world spreads its views over the cores,
and the long world (one view) is written beside it rather than after it.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
from dataclasses import dataclass
from pathlib import Path

from crmot.data.synthetic import WorldConfig, ensure_world, load_preset

SEED = 0
# One view of 2,000 frames: stage 1's memory must stay flat on long videos
LONG_WORLD = WorldConfig(train_scenes=1, test_scenes=0, views=(1, 1), frames=2000, people=(8, 8),
                         image_size=(320, 192), expressions_per_scene=4)


@dataclass(frozen=True)
class World:
    root: Path
    preset: str | None = None  # a preset name, or None for LONG_WORLD

    @property
    def config(self) -> WorldConfig:
        return load_preset(self.preset) if self.preset else LONG_WORLD

    def ensure(self) -> Path:
        ensure_world(self.root, self.config, seed=SEED)
        return self.root


WORLDS = {
    "tiny": World(Path("data/gpu_suite_tiny"), "tiny"),  # what CI runs
    "demo": World(Path("data/synth"), "demo"),
    "bench": World(Path("data/bench"), "bench"),  # closer to CRTrack's size
    "long": World(Path("data/long")),
}


def _ensure(name: str) -> None:
    WORLDS[name].ensure()


def main(names: list[str]) -> None:
    unknown = sorted(set(names) - set(WORLDS))
    if unknown:
        sys.exit(f"unknown worlds {unknown} (known: {sorted(WORLDS)})")
    beside = [n for n in names if WORLDS[n].config.views == (1, 1)]
    with mp.get_context("spawn").Pool(max(len(beside), 1)) as pool:
        pending = pool.map_async(_ensure, beside)
        for name in names:
            if name not in beside:
                WORLDS[name].ensure()
        pending.get()
    print("worlds: " + ", ".join(f"{n} ({WORLDS[n].root})" for n in names))


if __name__ == "__main__":
    main(sys.argv[1:])
