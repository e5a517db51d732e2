"""The pretraining world: frames and class-agnostic instance masks, nothing else.

SAM2 learned what objects are from masks alone (SA-1B, SA-V) before any language was involved;
crmot's ``nano`` SAM2 does the same at small scale. This world is drawn by the synthetic generator
from its own seeds, never those of a training or test world, and writes no identities, expressions,
calibration or cross-view links: per camera, ``<root>/<Scene>_View<K>/<frame>.jpg`` and one line per
frame in ``masks.jsonl``, ``{"frame": t, "masks": [COCO RLE, ...]}``, every object (a person with what
they carry, a dog, a pillar) one mask.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from crmot.data import masks as rle
from crmot.data.frames import encode_jpeg
from crmot.data.synthetic import WorldConfig, plan_world
from crmot.data.synthetic.world import SceneWorld, for_every_view, render_frames
from crmot.errors import MissingFileError
from crmot.io import atomic_write_bytes, atomic_write_json, atomic_write_text

#: Pretraining worlds draw their scenes from seeds offset by this, apart from every numbered world.
SEED_OFFSET = 1_000_000
KIND = "class-agnostic masks"


def write_mask_world(root: str | os.PathLike, config: WorldConfig, seed: int, workers: int | None = None) -> dict:
    """Write the world (every scene of both splits of ``config``) and return its summary."""
    root = Path(root)
    scenes = plan_world(config, SEED_OFFSET + seed)
    counts = for_every_view(_write_view_star, root, config, scenes, workers)
    summary = {"kind": KIND, "seed": seed, "seed_offset": SEED_OFFSET,
               "config": {k: list(v) if isinstance(v, tuple) else v for k, v in config.__dict__.items()},
               "views": len(counts), "frames": len(counts) * config.frames, "masks": int(sum(counts))}
    atomic_write_json(root / "world.json", summary)
    return summary


def _write_view_star(job) -> int:
    return _write_view(*job)


def _write_view(root: Path, config: WorldConfig, scene: SceneWorld, k: int) -> int:
    folder = root / f"{scene.name}_View{k}"
    folder.mkdir(parents=True, exist_ok=True)
    lines, count = [], 0
    for t, (rgb, objects) in enumerate(render_frames(config, scene, k, every_object=True), start=1):
        atomic_write_bytes(folder / f"{t:06d}.jpg", encode_jpeg(rgb, config.jpeg_quality))
        lines.append(json.dumps({"frame": t, "masks": [rle.encode(o.mask) for o in objects]}))
        count += len(objects)
    atomic_write_text(folder / "masks.jsonl", "\n".join(lines) + "\n")
    return count


def read_mask_world(root: str | os.PathLike) -> list[tuple[Path, list[dict]]]:
    """Every frame of the world: its image path and its masks (COCO RLEs)."""
    root = Path(root)
    summary = root / "world.json"
    if not summary.is_file() or json.loads(summary.read_text()).get("kind") != KIND:
        raise MissingFileError(f"{root}: not a pretraining world (no world.json of kind {KIND!r}); "
                               "write one with `crmot pretrain` or write_mask_world")
    frames = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for line in (folder / "masks.jsonl").read_text().splitlines():
            record = json.loads(line)
            frames.append((folder / f"{record['frame']:06d}.jpg", record["masks"]))
    return frames
