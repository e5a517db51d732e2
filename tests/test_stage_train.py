"""Stage 3: ViewSAM parameters, losses that learn, bf16 on CPU, exact resume, DDP gradient sync."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import lightning as L
import pytest
import torch

from crmot.models.viewsam import NO_MASK_LOGIT, ViewSAM
from crmot.stages.train import main as train
from crmot.training.clips import ClipDataset, denoise_queries
from crmot.training.losses import LabelMatches, LossWeights, clip_loss, mean_clip_loss

REPO = Path(__file__).resolve().parents[1]


def _fit(root: Path, out: Path, *extra: str) -> None:
    train(["fit", "--config", str(REPO / "conf/train.yaml"), "--data.root", str(root), "--data.label_root", str(root),
           "--trainer.default_root_dir", str(out), "--trainer.accelerator", "cpu", "--trainer.enable_progress_bar",
           "false", "--model.text_encoder", "word", "--data.stride", "8", *extra])


def _trainable(checkpoint: Path) -> dict[str, torch.Tensor]:
    return torch.load(checkpoint, map_location="cpu", weights_only=False)["state_dict"]


def test_view_conditioning_none_has_only_the_heads_and_film_adds_what_the_table_says():
    none = ViewSAM("nano", "none", "word", allow_random_init=True)
    both = ViewSAM("nano", "both", "word", allow_random_init=True)
    t_none, t_both = none.parameter_table(), both.parameter_table()
    assert t_none["sam2"] == t_both["sam2"] == sum(p.numel() for p in none.sam.parameters())
    heads = sum(t_none["parts"][k] for k in ("text", "text_proj", "spatial", "decoder"))
    assert t_none["trainable"] == heads
    assert t_both["trainable"] - t_none["trainable"] == sum(t_both["parts"][k] for k in ("condition", "film", "text_film"))
    assert all(not p.requires_grad for p in both.sam.parameters())


def test_twenty_steps_on_one_clip_lower_the_loss(tiny_root):
    torch.manual_seed(0)
    model = ViewSAM("nano", "both", "word", allow_random_init=True)
    clip = ClipDataset(tiny_root, tiny_root, "train", frames=2, stride=100, image_size=128, augment=False,
                       expressions=2)[(0, 0)]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for _ in range(20):
        denoise = denoise_queries(clip["targets"], torch.device("cpu"))
        loss = mean_clip_loss([clip], lambda c, matches: model(c["images"], c["views"], c["sentences"], denoise, matches),
                              LossWeights())["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    assert losses[-1] < 0.7 * losses[0], losses


def test_decoding_only_the_matched_masks_changes_no_loss_or_gradient(tiny_root):
    """Training asks SAM2's mask decoder for the matched candidates' masks only: on one frame (no
    memory) the loss and every gradient are those of decoding all of them."""
    torch.manual_seed(0)
    model = ViewSAM("nano", "both", "word", allow_random_init=True)
    clip = ClipDataset(tiny_root, tiny_root, "train", frames=1, stride=100, image_size=128, augment=False,
                       expressions=2)[(0, 0)]
    weights = LossWeights()

    def run(matches):
        model.zero_grad()
        outputs = model(clip["images"], clip["views"], clip["sentences"], None, matches)
        terms = clip_loss(outputs, clip["targets"], weights, None if matches is None else matches.pairs)
        terms["loss"].backward()
        grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
        return outputs, terms, grads

    _, terms_all, grads_all = run(None)
    outputs, terms, grads = run(LabelMatches(clip["targets"], weights))
    assert terms["mask_focal"] > 0 and torch.allclose(terms["loss"], terms_all["loss"], atol=1e-5)
    assert grads.keys() == grads_all.keys()
    assert all(torch.allclose(grads[k], grads_all[k], atol=1e-5, rtol=1e-4) for k in grads)
    decoded = (outputs[0]["masks"] != NO_MASK_LOGIT).flatten(2).any(-1)  # candidates that got a mask
    matched = sum(len(t["boxes"]) for t in clip["targets"][0]) * len(clip["sentences"])
    assert int(decoded.sum()) == matched < decoded.numel()


def test_a_clip_carries_its_expression_and_others_of_its_scene_each_with_its_referents(tiny_root):
    dataset = ClipDataset(tiny_root, tiny_root, "train", frames=2, stride=100, image_size=128, expressions=3)
    ref = dataset.refs[1]
    clip = dataset[(0, 1)]
    _, labels = dataset.scenes[ref.scene]
    by_name = {e.name: e for e in labels.expressions}
    assert clip["names"][0] == labels.expressions[ref.expression].name
    assert len(set(clip["names"])) == len(clip["names"]) == min(3, len(labels.expressions)) > 1
    for target, view in zip(clip["targets"][0], labels.views):
        for e, name in enumerate(clip["names"]):
            assert target["referred"][e].tolist() == [int(i) in by_name[name].ids for i in target["ids"]]


def test_bf16_mixed_trains_on_cpu(tiny_root, tmp_path):
    _fit(tiny_root, tmp_path, "--trainer.max_steps", "2", "--trainer.precision", "bf16-mixed")
    state = _trainable(tmp_path / "checkpoints" / "last.ckpt")
    assert all(torch.isfinite(v).all() for v in state.values())


def test_resume_reproduces_the_uninterrupted_run_exactly(tiny_root, tmp_path):
    """Resume mid-epoch from the step-2 checkpoint of a 4-step run; weights at step 4 must be equal."""
    common = ("--trainer.max_steps", "4", "--checkpoint_every", "2")
    _fit(tiny_root, tmp_path / "straight", *common)
    (step2,) = (tmp_path / "straight/checkpoints").glob("*step=2*.ckpt")
    assert torch.load(step2, map_location="cpu", weights_only=False)["global_step"] == 2
    _fit(tiny_root, tmp_path / "resumed", *common, "--ckpt_path", str(step2))
    a, b = _trainable(tmp_path / "straight/checkpoints/last.ckpt"), _trainable(tmp_path / "resumed/checkpoints/last.ckpt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not any(k.startswith("model.sam.") for k in a)  # frozen SAM2 stays out of checkpoints


def test_checkpoint_of_another_configuration_names_the_mismatched_keys(tiny_root, tmp_path, capsys):
    _fit(tiny_root, tmp_path, "--trainer.max_steps", "1")
    with pytest.raises(SystemExit):
        _fit(tiny_root, tmp_path, "--trainer.max_steps", "2", "--model.view_conditioning", "none", "--ckpt_path", "last")
    err = capsys.readouterr().err
    assert "does not fit this ViewSAM configuration" in err and "model.condition" in err


DDP_SCRIPT = textwrap.dedent("""
    import sys, torch, lightning as L
    from crmot.stages.train import ViewSAMModule, ViewSAMData
    root, out = sys.argv[1], sys.argv[2]

    class Dump(L.Callback):
        def on_train_end(self, trainer, module):
            state = {n: p.detach().clone() for n, p in module.named_parameters() if p.requires_grad}
            torch.save(state, f"{out}/rank{trainer.global_rank}.pt")

    L.seed_everything(0)
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_steps=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, use_distributed_sampler=False,
                        callbacks=[Dump()])
    module = ViewSAMModule(size="nano", text_encoder="word", allow_random_init=True)
    trainer.fit(module, ViewSAMData(root=root, label_root=root, stride=8))
""")


def test_ddp_two_processes_keep_identical_parameters(tiny_root, tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    result = subprocess.run([sys.executable, str(script), str(tiny_root), str(tmp_path)], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    a, b = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    init = _initial_parameters()
    assert any(not torch.equal(a[k], init[k]) for k in a)  # a step was taken


def _initial_parameters() -> dict[str, torch.Tensor]:
    from crmot.stages.train import ViewSAMModule

    L.seed_everything(0)
    module = ViewSAMModule(size="nano", text_encoder="word", allow_random_init=True)
    return {n: p.detach() for n, p in module.named_parameters() if p.requires_grad}
