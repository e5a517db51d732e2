"""Stage 4: a trained ViewSAM, prompted by stage-1 tracklets, answers every expression in the official
layout and is scored; the answers never read the test labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from crmot.data import crtrack
from crmot.data.crtrack import list_scenes, load_scene
from crmot.data.expression_files import load_predictions
from crmot.inference.fusion import FusionConfig
from crmot.models.viewsam import normalised_prompts
from crmot.models.viewsam.checkpoint import load_viewsam
from crmot.stages import evaluate as evaluate_module
from crmot.stages.evaluate import main as evaluate_stage
from crmot.stages.tracklets import main as tracklets_stage
from crmot.stages.train import ViewSAMModule
from crmot.stages.train import main as train
from crmot.training.clips import ClipDataset

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkpoint(tiny_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("train")
    train(["fit", "--config", str(REPO / "conf/train_synthetic.yaml"), "--data.root", str(tiny_root),
           "--data.label_root", str(tiny_root), "--trainer.default_root_dir", str(out), "--trainer.accelerator", "cpu",
           "--trainer.enable_progress_bar", "false", "--trainer.logger", "false", "--model.text_encoder", "word",
           "--data.stride", "8", "--data.expressions_per_clip", "4", "--trainer.max_steps", "2"])
    return out / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def tracklets(tiny_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("stage1") / "tracklets"
    tracklets_stage(["predict", "--config", str(REPO / "conf/tracklets.yaml"), "--data.root", str(tiny_root),
                     "--data.splits", "[test]", "--model.output_dir", str(out), "--trainer.accelerator", "cpu"])
    return out


def _evaluate(root: Path, checkpoint: Path, tracklets: Path, out: Path, *extra: str) -> None:
    evaluate_stage(["predict", "--config", str(REPO / "conf/evaluate.yaml"), "--data.root", str(root),
                    "--model.checkpoint", str(checkpoint), "--model.tracklets_dir", str(tracklets),
                    "--model.output_dir", str(out), "--trainer.accelerator", "cpu", *extra])


def test_a_reloaded_checkpoint_predicts_what_the_trained_module_predicts(tiny_root, checkpoint):
    """The frozen SAM2 comes from its own weights, so only the trainable parts need to be in the checkpoint."""
    trained = ViewSAMModule.load_from_checkpoint(checkpoint, map_location="cpu", weights_only=False)
    trained.eval()
    reloaded, info = load_viewsam(checkpoint)
    reloaded.eval()
    assert info["global_step"] == 2 and info["name"] == trained.model.name
    clip = ClipDataset(tiny_root, tiny_root, "train", frames=2, stride=100, image_size=256, augment=False,
                       expressions=3)[(0, 0)]
    prompts = normalised_prompts([t["prompts"] for t in clip["targets"]])
    with torch.no_grad():
        a = trained.model(clip["images"], clip["views"], prompts, clip["sentences"])
        b = reloaded(clip["images"], clip["views"], prompts, clip["sentences"])
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_every_expression_and_view_is_answered_scored_and_skipped_when_done(tiny_root, checkpoint, tracklets,
                                                                            tmp_path):
    permissive = ("--model.fusion.objectness", "0.0")
    _evaluate(tiny_root, checkpoint, tracklets, tmp_path, *permissive)
    predictions = load_predictions(tmp_path / "test" / "predictions")
    scenes = [load_scene(tiny_root, "test", name) for name in list_scenes(tiny_root, "test")]
    expected = {e.name for s in scenes for e in s.expressions}
    assert set(predictions) == expected
    assert all(set(views) == {v.index for v in scenes[0].views} for views in predictions.values())
    assert all(sum(len(t) for t in views.values()) > 0 for views in predictions.values())  # at least one answers
    for name, views in predictions.items():
        for k, tracks in views.items():
            masks = (tmp_path / "test" / "predictions" / name / f"View{k}.masks.jsonl").read_text().splitlines()
            assert len(masks) == len(tracks)
            assert not any(len(np.unique(tracks.ids[tracks.frames == f])) < (tracks.frames == f).sum()
                           for f in np.unique(tracks.frames))  # one row per (frame, id)
    metrics = json.loads((tmp_path / "test" / "metrics.json").read_text())
    assert metrics["predicted_by"]["model"].startswith("viewsam-nano(sam2-nano-synthetic")
    assert metrics["predicted_by"]["fusion"]["refer_threshold"] == FusionConfig().refer_threshold
    assert 0.0 <= metrics["mean"]["CVRIDF1"] <= 100.0
    manifest = next((tmp_path / "manifests" / "test").rglob("manifest.json"))
    before = manifest.stat().st_mtime_ns
    _evaluate(tiny_root, checkpoint, tracklets, tmp_path, *permissive)
    assert manifest.stat().st_mtime_ns == before


def test_predicting_never_reads_the_test_labels(tiny_root, checkpoint, tracklets, tmp_path, monkeypatch):
    """Ground truth is read by the scorer only: with it stubbed, no answer path opens gt.txt."""
    original = crtrack.read_tracks

    def guarded(path, *args, **kwargs):
        assert Path(path).name != "gt.txt", f"prediction read {path}"
        return original(path, *args, **kwargs)

    monkeypatch.setattr(crtrack, "read_tracks", guarded)
    monkeypatch.setattr(evaluate_module, "score_split", lambda *args: None)
    _evaluate(tiny_root, checkpoint, tracklets, tmp_path)
    assert load_predictions(tmp_path / "test" / "predictions")


def test_missing_stage1_tracklets_name_the_folder_and_the_fix(tiny_root, checkpoint, tmp_path, capsys):
    with pytest.raises(SystemExit):
        _evaluate(tiny_root, checkpoint, tmp_path / "no-tracklets", tmp_path / "out")
    err = capsys.readouterr().err
    assert "no-tracklets" in err and "make tracklets" in err


def test_a_missing_or_foreign_checkpoint_is_a_clear_error(tiny_root, tmp_path, capsys):
    with pytest.raises(SystemExit):
        _evaluate(tiny_root, tmp_path / "nope.ckpt", tmp_path, tmp_path / "out")
    assert "ViewSAM checkpoint not found" in capsys.readouterr().err
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(SystemExit):
        _evaluate(tiny_root, foreign, tmp_path, tmp_path / "out")
    assert "not a ViewSAM training checkpoint" in capsys.readouterr().err
