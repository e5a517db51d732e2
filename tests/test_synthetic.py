"""The synthetic world: deterministic bytes, valid CRTrack, exact masks, truthful expressions."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np

from crmot.data import load_split
from crmot.data import masks as rle
from crmot.data.check import check_root
from crmot.data.synthetic import ensure_world, generate, is_current, load_preset, plan_world
from crmot.data.synthetic.language import fits


def _digest(root) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes(tiny_root, tmp_path):
    again = tmp_path / "again"
    generate(again, load_preset("tiny"), seed=3, workers=2)  # parallel writing must not change a byte
    assert _digest(again) == _digest(tiny_root)


def test_another_seed_gives_another_world(tiny_root, tmp_path):
    other = tmp_path / "other"
    generate(other, load_preset("tiny"), seed=4, workers=1)
    assert _digest(other) != _digest(tiny_root)


def test_a_world_is_reused_only_when_drawn_by_this_renderer_with_this_config_and_seed(tiny_root, tmp_path):
    tiny = load_preset("tiny")
    assert is_current(tiny_root, tiny, 3) and not is_current(tiny_root, tiny, 4)
    assert not is_current(tiny_root, load_preset("demo"), 3) and not is_current(tmp_path, tiny, 3)
    copy = tmp_path / "copy"
    shutil.copytree(tiny_root, copy)
    assert ensure_world(copy, tiny, 3) is None  # reused
    record = json.loads((copy / "world.json").read_text())
    record["generator_version"] -= 1  # as an older renderer wrote it
    (copy / "world.json").write_text(json.dumps(record))
    assert not is_current(copy, tiny, 3)
    assert ensure_world(copy, tiny, 3)["seed"] == 3 and is_current(copy, tiny, 3)


def test_world_is_a_valid_root_with_both_splits(tiny_root):
    summaries = check_root(tiny_root)
    assert {s.split for s in summaries} == {"train", "test"}
    assert all(s.boxes > 0 and s.expressions > 0 and s.calibrated and s.masks for s in summaries)


def test_masks_are_exact_for_their_boxes(tiny_root):
    for scene in load_split(tiny_root, "train"):
        for view in scene.views:
            masks = rle.read_jsonl(view.masks_path, expected_rows=len(view.gt))
            np.testing.assert_array_equal(rle.to_boxes(masks), view.gt.boxes)
            assert (rle.area(masks) >= 30).all()


def test_ids_are_global_across_views_and_expressions_are_truthful(tiny_root):
    config = load_preset("tiny")
    worlds = {w.name: w for w in plan_world(config, seed=3)}
    for split in ("train", "test"):
        for scene in load_split(tiny_root, split):
            people = {p.pid: p for p in worlds[scene.name].people}
            seen = [set(v.gt.ids.tolist()) for v in scene.views]
            assert set().union(*seen) <= set(people)
            names = [e.sentence for e in scene.expressions]
            assert len(names) == len(set(names))
            for expr in scene.expressions:
                assert expr.ids and expr.sentence.startswith("A man ")
                assert all(p in people for p in expr.ids)
            assert scene.descriptions.keys() == people.keys()
            for pid, text in scene.descriptions.items():  # a person's description is about that person
                assert text.startswith("A man ") and pid in people


def test_expression_referents_are_exactly_the_people_that_fit():
    world = plan_world(load_preset("demo"), seed=0)[0]
    from crmot.data.synthetic.language import candidate_specs, sentence

    for person in world.people:
        for spec in candidate_specs(person):
            referents = {p.pid for p in world.people if fits(spec, p)}
            assert person.pid in referents
            assert sentence(spec).startswith("A man ")


def test_views_see_people_from_different_sides(tiny_root):
    calibration = load_split(tiny_root, "test")[0].calibration
    positions = np.array([v["position"] for v in calibration["views"].values()])
    azimuths = np.arctan2(positions[:, 1], positions[:, 0])
    gap = np.abs(np.angle(np.exp(1j * (azimuths[0] - azimuths[1]))))
    assert gap > np.pi / 3


def test_some_expressions_refer_to_several_people():
    from crmot.data.synthetic.language import scene_expressions

    config = load_preset("demo")
    counts = [len(e.ids) for world in plan_world(config, seed=0)
              for e in scene_expressions(world.name, world.people, config.expressions_per_scene, np.random.default_rng(0))]
    assert min(counts) >= 1 and max(counts) >= 2
