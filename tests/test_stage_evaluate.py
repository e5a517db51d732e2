"""Stage 4: a trained ViewSAM checkpoint answers every expression in the official layout and is scored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from crmot.data.crtrack import list_scenes, load_scene, load_predictions
from crmot.models.viewsam.checkpoint import load_viewsam
from crmot.stages.evaluate import main as evaluate_stage
from crmot.stages.train import ViewSAMModule
from crmot.stages.train import main as train
from crmot.training.clips import ClipDataset

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkpoint(tiny_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("train")
    train(["fit", "--config", str(REPO / "conf/train.yaml"), "--data.root", str(tiny_root), "--data.label_root",
           str(tiny_root), "--trainer.default_root_dir", str(out), "--trainer.accelerator", "cpu",
           "--trainer.enable_progress_bar", "false", "--model.text_encoder", "word", "--data.stride", "8",
           "--trainer.max_steps", "2"])
    return out / "checkpoints" / "last.ckpt"


def _evaluate(root: Path, checkpoint: Path, out: Path, *extra: str) -> None:
    evaluate_stage(["predict", "--config", str(REPO / "conf/evaluate.yaml"), "--data.root", str(root),
                    "--model.checkpoint", str(checkpoint), "--model.output_dir", str(out),
                    "--trainer.accelerator", "cpu", *extra])


def test_a_reloaded_checkpoint_predicts_what_the_trained_module_predicts(tiny_root, checkpoint):
    """Frozen random SAM2 weights are seeded, so only the trainable parts need to be in the checkpoint."""
    trained = ViewSAMModule.load_from_checkpoint(checkpoint, map_location="cpu", weights_only=False).model.eval()
    reloaded, info = load_viewsam(checkpoint)
    reloaded.eval()
    assert info["global_step"] == 2 and info["name"] == trained.name
    clip = ClipDataset(tiny_root, tiny_root, "train", frames=2, stride=100, image_size=128, augment=False)[(0, 0)]
    with torch.no_grad():
        a = trained(clip["images"], clip["views"], clip["sentences"])
        b = reloaded(clip["images"], clip["views"], clip["sentences"])
    assert all(torch.equal(x[k], y[k]) for x, y in zip(a, b) for k in x)


def test_every_expression_and_view_is_answered_scored_and_skipped_when_done(tiny_root, checkpoint, tmp_path):
    _evaluate(tiny_root, checkpoint, tmp_path, "--model.candidates.objectness", "0.0", "--model.fusion.refer_threshold", "0.0")
    predictions = load_predictions(tmp_path / "test" / "predictions")
    scenes = [load_scene(tiny_root, "test", name) for name in list_scenes(tiny_root, "test")]
    expected = {e.name for s in scenes for e in s.expressions}
    assert set(predictions) == expected
    assert all(set(views) == {v.index for v in scenes[0].views} for views in predictions.values())
    assert sum(len(t) for views in predictions.values() for t in views.values()) > 0  # thresholds 0: rows exist
    for name, views in predictions.items():
        for k, tracks in views.items():
            masks = (tmp_path / "test" / "predictions" / name / f"View{k}.masks.jsonl").read_text().splitlines()
            assert len(masks) == len(tracks)
    metrics = json.loads((tmp_path / "test" / "metrics.json").read_text())
    assert metrics["predicted_by"]["model"].startswith("viewsam(sam2-tiny-random-init")
    assert 0.0 <= metrics["mean"]["CVRIDF1"] <= 100.0
    manifest = next((tmp_path / "test" / "manifests").rglob("manifest.json"))
    before = manifest.stat().st_mtime_ns
    _evaluate(tiny_root, checkpoint, tmp_path, "--model.candidates.objectness", "0.0", "--model.fusion.refer_threshold", "0.0")
    assert manifest.stat().st_mtime_ns == before


def test_a_missing_or_foreign_checkpoint_is_a_clear_error(tiny_root, tmp_path, capsys):
    with pytest.raises(SystemExit):
        _evaluate(tiny_root, tmp_path / "nope.ckpt", tmp_path / "out")
    assert "ViewSAM checkpoint not found" in capsys.readouterr().err
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(SystemExit):
        _evaluate(tiny_root, foreign, tmp_path / "out")
    assert "not a ViewSAM training checkpoint" in capsys.readouterr().err
