"""Stage 2 through its Lightning CLI, then the training-free pipeline and ``crmot evaluate``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crmot.cli import main as crmot
from crmot.data.crtrack import load_scene, load_split
from crmot.stages.associate import main as associate
from crmot.stages.tracklets import main as tracklets

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run(tiny_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("stage2")
    tracklets(["predict", "--config", str(REPO / "conf/tracklets.yaml"), "--data.root", str(tiny_root),
               "--model.output_dir", str(out / "tracklets"), "--trainer.accelerator", "cpu"])
    _associate(tiny_root, out)
    return out


def _associate(root: Path, out: Path, *extra: str) -> None:
    associate(["predict", "--config", str(REPO / "conf/associate.yaml"), "--data.root", str(root),
               "--model.tracklets_dir", str(out / "tracklets"), "--model.output_dir", str(out / "pseudo"),
               "--trainer.accelerator", "cpu", *extra])


def test_pseudo_label_root_is_a_crtrack_root_whose_expressions_name_existing_ids(tiny_root, run):
    for split in ("train", "test"):
        for scene in load_split(tiny_root, split):
            pseudo = load_scene(run / "pseudo", split, scene.name)  # the one loader reads it
            ids = set(pseudo.global_ids().tolist())
            assert ids and pseudo.expressions
            for expr in pseudo.expressions:
                assert set(expr.ids) <= ids
            assert set(pseudo.descriptions) == ids
            for view in pseudo.views:
                assert view.masks_path.exists()
    quality = json.loads((run / "pseudo" / "quality.json").read_text())
    assert quality["backends"]["embedder"]["name"] == "color"
    assert 0 <= quality["splits"]["train"]["mean"]["CVRIDF1"] <= 100
    colours = quality["splits"]["train"]["mean"]["colour_accuracy"]
    assert set(colours) == {"coat", "trousers", "shoes", "headwear"}
    assert all(0 <= v <= 100 for v in colours.values())


def test_rerun_skips_finished_scenes(tiny_root, run):
    before = {p: p.stat().st_mtime_ns for p in (run / "pseudo").rglob("gt.txt")}
    _associate(tiny_root, run)
    assert {p: p.stat().st_mtime_ns for p in (run / "pseudo").rglob("gt.txt")} == before


def test_missing_stage1_output_is_a_clear_error(tiny_root, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _associate(tiny_root, tmp_path)
    assert exit_info.value.code == 2
    assert "run stage 1 first" in capsys.readouterr().err


def test_zero_shot_answers_the_test_expressions_and_evaluates(tiny_root, run, tmp_path):
    pred = tmp_path / "predictions"
    assert crmot(["zeroshot", "--data", str(tiny_root), "--pseudo", str(run / "pseudo"), "--out", str(pred),
                  "--split", "test", "--no-text"]) == 0
    scene = load_split(tiny_root, "test")[0]
    assert {p.name for p in pred.iterdir()} == {e.name for e in scene.expressions}
    report = tmp_path / "metrics.json"
    assert crmot(["evaluate", "--gt", str(tiny_root), "--pred", str(pred), "--split", "test", "--json", str(report)]) == 0
    assert len(json.loads(report.read_text())["expressions"]) == len(scene.expressions)
