"""Write a complete CRTrack-format root of synthetic scenes."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crmot.data import masks
from crmot.data.crtrack import (
    SeqInfo,
    gt_tracks,
    view_dir,
    write_calibration,
    write_descriptions,
    write_expressions,
    write_view,
)
from crmot.data.frames import encode_jpeg
from crmot.data.synthetic.camera import Camera, sample_cameras
from crmot.data.synthetic.config import WorldConfig
from crmot.data.synthetic.language import describe, scene_expressions
from crmot.data.synthetic.lighting import Lighting, Sun, cast_shadow, sample_lighting, sample_sun
from crmot.data.synthetic.people import Person, sample_people
from crmot.data.synthetic.props import Prop, Robot, sample_props, sample_robots
from crmot.data.synthetic.render import (
    Pillar,
    Visible,
    as_instance,
    dog_drawable,
    finish,
    paint,
    person_drawable,
    pillar_drawable,
    prop_drawable,
    render_background,
    robot_drawable,
    visible_people,
)
from crmot.io import atomic_write_bytes, atomic_write_json

SCENE_NAMES = ("Plaza", "Campus", "Market", "Station", "Harbor", "Garden", "Square", "Bridge", "Court", "Park")
GENERATOR = "crmot.data.synthetic"
#: Bumped whenever the same config and seed draw a different world (a saved world is then redrawn).
GENERATOR_VERSION = 2


@dataclass(frozen=True)
class SceneWorld:
    """Everything needed to render one scene: its people, cameras, light, occluders and distractors."""

    name: str
    split: str
    seed: tuple[int, ...]
    people: list[Person]
    cameras: list[Camera]
    pillars: list[Pillar]
    props: list[Prop]
    robots: list[Robot]
    lighting: list[Lighting]  # one per camera
    sun: Sun


def plan_world(config: WorldConfig, seed: int) -> list[SceneWorld]:
    """Draw every scene of both splits; deterministic in (config, seed)."""
    scenes = []
    names = iter(f"{name}{i}" for i in range(1, 100) for name in SCENE_NAMES)
    for split, count in (("train", config.train_scenes), ("test", config.test_scenes)):
        for index in range(count):
            scene_seed = (seed, 0 if split == "train" else 1, index)
            rng = np.random.default_rng(scene_seed)
            views = int(rng.integers(config.views[0], config.views[1] + 1))
            people = sample_people(rng, int(rng.integers(config.people[0], config.people[1] + 1)),
                                   config.frames, config.frame_rate, config.area)
            cameras = sample_cameras(rng, views, *config.image_size, config.area)
            half = np.array(config.area) / 2
            pillars = [Pillar(rng.uniform(-half, half), float(rng.uniform(0.35, 0.6)), float(rng.uniform(2.2, 3.2)),
                              tuple(int(c) for c in rng.uniform(60, 160, size=3))) for _ in range(config.occluders)]
            # Drawn from their own stream, so that adding distractors or light leaves people and cameras as they were.
            extra = np.random.default_rng((*scene_seed, 11))
            props = sample_props(extra, config.props, config.area)
            robots = sample_robots(extra, config.robots, config.frames, config.frame_rate, config.area)
            lighting = [sample_lighting(extra, config.frames) for _ in cameras]
            scenes.append(SceneWorld(next(names), split, scene_seed, people, cameras, pillars, props, robots, lighting,
                                     sample_sun(extra)))
    return scenes


def generate(root: str | os.PathLike, config: WorldConfig, seed: int = 0, workers: int | None = None,
             progress=None) -> dict:
    """Write the world under ``root`` and return a summary; identical bytes for identical inputs.
    ``progress(done, total)`` is told the views written."""
    root = Path(root)
    started = time.perf_counter()
    scenes = plan_world(config, seed)
    rows = for_every_view(_write_view_star, root, config, scenes, workers, progress)
    for scene in scenes:
        rng = np.random.default_rng((*scene.seed, 7))
        expressions = scene_expressions(scene.name, scene.people, config.expressions_per_scene, rng)
        write_expressions(root, scene.split, scene.name, expressions)
        write_descriptions(root, scene.split, scene.name, {p.pid: describe(p) for p in scene.people})
        write_calibration(root, scene.name, {
            "units": "metres",
            "ground_area": [[-config.area[0] / 2, -config.area[1] / 2], [config.area[0] / 2, config.area[1] / 2]],
            "views": {f"View{k}": cam.to_json() for k, cam in enumerate(scene.cameras, start=1)},
        })
    summary = {
        "generator": GENERATOR,
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "config": _config_record(config),
        "scenes": {s.name: {"split": s.split, "views": len(s.cameras), "people": len(s.people)} for s in scenes},
        "gt_boxes": int(sum(rows)),
    }
    atomic_write_json(root / "world.json", summary)
    summary["seconds"] = time.perf_counter() - started
    return summary


def is_current(root: str | os.PathLike, config: WorldConfig, seed: int) -> bool:
    """True when ``root/world.json`` records this renderer version, config and seed: the world there is
    the one :func:`generate` would write, and may be reused instead of rewritten."""
    path = Path(root) / "world.json"
    if not path.exists():
        return False
    recorded = json.loads(path.read_text())
    same_renderer = recorded.get("generator_version") == GENERATOR_VERSION
    return same_renderer and recorded.get("seed") == seed and recorded.get("config") == _config_record(config)


def _config_record(config: WorldConfig) -> dict:
    """``config`` as ``world.json`` records it (tuples as JSON lists, so a read-back compares equal)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.__dict__.items()}


def ensure_world(root: str | os.PathLike, config: WorldConfig, seed: int = 0, progress=None) -> dict | None:
    """The world of ``config`` and ``seed`` under ``root``: written unless :func:`is_current` (a world
    drawn by an older renderer is redrawn). Returns :func:`generate`'s summary, or None when reused."""
    return None if is_current(root, config, seed) else generate(root, config, seed=seed, progress=progress)


def for_every_view(write, root: Path, config: WorldConfig, scenes: list[SceneWorld], workers: int | None,
                   progress=None) -> list:
    """``write((root, config, scene, k))`` for every view of every scene, in processes when there are
    several workers (the results come back in view order, so the output does not depend on them)."""
    jobs = [(root, config, scene, k) for scene in scenes for k in range(1, len(scene.cameras) + 1)]
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    results = []
    with contextlib.ExitStack() as stack:
        mapped = map(write, jobs) if workers <= 1 else stack.enter_context(ProcessPoolExecutor(workers)).map(write, jobs)
        for done, result in enumerate(mapped, start=1):
            results.append(result)
            if progress is not None:
                progress(done, len(jobs))
    return results


def _write_view_star(job) -> int:
    return write_view_frames(*job)


def render_frames(config: WorldConfig, scene: SceneWorld, k: int, every_object: bool = False
                  ) -> Iterator[tuple[np.ndarray, list[Visible]]]:
    """Each frame of view ``k`` as uint8 RGB and what it shows: the people seen well enough to be
    labelled, or, with ``every_object``, every object (people with what they carry, dogs, pillars, props, robots),
    each its own instance numbered from 1 in drawing order."""
    camera = scene.cameras[k - 1]
    background = render_background(camera)
    frame_numbers = np.arange(1, config.frames + 1, dtype=np.float64)
    motion = [p.positions(frame_numbers) for p in scene.people]
    robot_motion = [r.positions(frame_numbers) for r in scene.robots]
    statics = [d for pillar in scene.pillars if (d := pillar_drawable(camera, pillar))]
    statics += [d for prop in scene.props if (d := prop_drawable(camera, prop))]
    for t in range(config.frames):
        ground = background.copy()
        drawables = list(statics)
        for prop in scene.props:
            cast_shadow(ground, camera, scene.sun, prop.xy, prop.height, prop.width)
        for person, (xy, direction, present) in zip(scene.people, motion):
            if not present[t]:
                continue
            cast_shadow(ground, camera, scene.sun, xy[t], person.height, person.width)
            if d := person_drawable(camera, person, xy[t], direction[t]):
                drawables.append(d)
            if person.companion == "dog" and (d := dog_drawable(camera, person, xy[t], direction[t])):
                drawables.append(d)
        for robot, (xy, direction, present) in zip(scene.robots, robot_motion):
            if present[t]:
                cast_shadow(ground, camera, scene.sun, xy[t], robot.height, robot.length)
                if d := robot_drawable(camera, robot, xy[t], direction[t]):
                    drawables.append(d)
        if every_object:
            drawables = [as_instance(d, n) for n, d in enumerate(drawables, start=1)]
        image, id_map, silhouette = paint(camera, ground, drawables)
        light = scene.lighting[k - 1].field(float(t), camera.height, camera.width)
        rgb = finish(camera, image, light, np.random.default_rng((*scene.seed, k, t)))
        yield rgb, visible_people(id_map, silhouette)


def write_view_frames(root: Path, config: WorldConfig, scene: SceneWorld, k: int) -> int:
    """Render and write one view: frames, gt.txt, masks.jsonl, seqinfo.ini. Returns the GT row count."""
    camera = scene.cameras[k - 1]
    folder = f"{scene.name}_View{k}"
    img_dir = view_dir(root, scene.split, scene.name, k) / "img1"
    img_dir.mkdir(parents=True, exist_ok=True)
    frames, ids, boxes, rles = [], [], [], []
    for t, (rgb, seen_people) in enumerate(render_frames(config, scene, k)):
        atomic_write_bytes(img_dir / f"{folder}_{t + 1:06d}.jpg", encode_jpeg(rgb, config.jpeg_quality))
        for seen in seen_people:
            frames.append(t + 1)
            ids.append(seen.pid)
            boxes.append(seen.box)
            rles.append(masks.encode(seen.mask))
    gt = gt_tracks(np.array(frames), np.array(ids), np.array(boxes, dtype=np.float64).reshape(-1, 4))
    order = np.lexsort((gt.ids, gt.frames))
    seqinfo = SeqInfo(name=folder, frame_rate=config.frame_rate, seq_length=config.frames,
                      width=camera.width, height=camera.height)
    write_view(root, scene.split, scene.name, k, seqinfo, gt.select(order))
    masks.write_jsonl(view_dir(root, scene.split, scene.name, k) / "gt" / "masks.jsonl", [rles[i] for i in order])
    return len(gt)
