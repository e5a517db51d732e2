"""SAM2 nano's synthetic pretraining writes a checkpoint in Meta's release format that the one
checkpoint rule loads and names; the rule itself: named files must exist, random weights must be asked for."""

from __future__ import annotations

import pytest
import torch

from crmot.data.synthetic import load_preset
from crmot.models import sam2 as sam2_models
from crmot.pretraining.train import BACKBONE, Recipe, pretrain
from crmot.pretraining.world import SEED_OFFSET, read_mask_world, write_mask_world


def test_the_mask_world_holds_masks_only_and_never_a_numbered_world(tmp_path):
    summary = write_mask_world(tmp_path / "world", load_preset("tiny"), seed=0, workers=1)
    assert summary["seed_offset"] == SEED_OFFSET
    frames = read_mask_world(tmp_path / "world")
    assert frames and all(path.is_file() and isinstance(masks, list) for path, masks in frames)
    assert not list((tmp_path / "world").rglob("gt.txt")) and not list((tmp_path / "world").rglob("*.txt"))


def test_a_short_pretraining_writes_a_release_format_checkpoint_that_loads_and_is_named(tmp_path):
    recipe = Recipe(preset="tiny", steps=3, batch_size=2, objects=2, warmup=1)
    out = tmp_path / "sam2_nano.pt"
    facts = pretrain(out, tmp_path / "world", recipe, accelerator="cpu", num_workers=0)
    assert facts["backbone"] == BACKBONE and facts["recipe"]["steps"] == 3
    assert out.with_suffix(".json").is_file() and not out.with_suffix(".tmp").exists()
    saved = torch.load(out, map_location="cpu", weights_only=True)
    assert set(saved) == {"model", "crmot"}
    path = sam2_models.resolve_checkpoint("nano", str(out), False, "model.sam2_checkpoint")
    assert sam2_models.backbone_name("nano", path) == BACKBONE
    model = sam2_models.build_model("nano", path, 256)
    random = sam2_models.build_model("nano", None, 256)
    loaded, initial = model.state_dict(), random.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in saved["model"].items())
    assert any(not torch.equal(initial[k], v) for k, v in saved["model"].items())  # three steps were taken


def test_one_rule_for_sam2_checkpoints(tmp_path):
    key = "model.sam2_checkpoint"
    with pytest.raises(FileNotFoundError, match="random weights only with allow_random_init"):
        sam2_models.resolve_checkpoint("nano", None, False, key)
    assert sam2_models.resolve_checkpoint("nano", None, True, key) is None
    with pytest.raises(FileNotFoundError, match=r"missing.pt \(model.sam2_checkpoint\)"):
        sam2_models.resolve_checkpoint("base_plus", str(tmp_path / "missing.pt"), True, key)  # never falls back
    with pytest.raises(ValueError, match="nano only"):
        sam2_models.resolve_checkpoint("tiny", "synthetic", False, key)
    shipped = sam2_models.resolve_checkpoint("nano", "synthetic", False, key)
    assert shipped == sam2_models.SYNTHETIC_CHECKPOINT and sam2_models.backbone_name("nano", shipped) == BACKBONE
    assert sam2_models.backbone_name("nano", None) == "sam2-nano-random-init"
    bad = tmp_path / "bad.pt"
    torch.save({"state_dict": {}}, bad)
    with pytest.raises(ValueError, match="no 'model' entry"):
        sam2_models.backbone_name("nano", bad)
    foreign = tmp_path / "foreign.pt"
    torch.save({"model": {"not.a.sam2.key": torch.zeros(1)}}, foreign)
    with pytest.raises(ValueError, match="does not fit this SAM2 size"):
        sam2_models.build_model("nano", foreign, 256)
