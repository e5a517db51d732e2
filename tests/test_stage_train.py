"""Stage 3: ViewSAM parameters, losses that learn, the weak path never reads ground truth, bf16 on
CPU, exact resume, DDP gradient sync."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import textwrap
from dataclasses import asdict
from pathlib import Path

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import LearningRateMonitor, RichProgressBar

from crmot.data import crtrack
from crmot.models.viewsam import NO_MASK_LOGIT, ViewSAM
from crmot.models.viewsam.checkpoint import load_viewsam
from crmot.stages.train import ViewSAMModule, config_callbacks
from crmot.stages.train import main as train
from crmot.training.clips import ClipDataset, ClipSampler, ResumableLoader
from crmot.training.losses import LossWeights
from crmot.training.throughput import ClipThroughput

REPO = Path(__file__).resolve().parents[1]
CONFIG = str(REPO / "conf/train_synthetic.yaml")


def _fit(root: Path, out: Path, *extra: str, labels: Path | None = None, config: str = CONFIG) -> None:
    train(["fit", "--config", config, "--data.root", str(root), "--data.label_root", str(labels or root),
           "--trainer.default_root_dir", str(out), "--trainer.accelerator", "cpu", "--trainer.enable_progress_bar",
           "false", "--trainer.logger", "false", "--model.text_encoder", "word", "--data.stride", "8",
           "--data.expressions_per_clip", "4", *extra])


def _trainable(checkpoint: Path) -> dict[str, torch.Tensor]:
    return torch.load(checkpoint, map_location="cpu", weights_only=False)["state_dict"]


def test_view_conditioning_none_has_only_the_heads_and_film_adds_what_the_table_says():
    none = ViewSAM("nano", "none", "word", allow_random_init=True)
    both = ViewSAM("nano", "both", "word", allow_random_init=True)
    t_none, t_both = none.parameter_table(), both.parameter_table()
    assert t_none["sam2"] == t_both["sam2"] == sum(p.numel() for p in none.sam.parameters())
    heads = sum(t_none["parts"][k] for k in ("text", "text_proj", "text_adapter", "decoder", "grounding"))
    assert t_none["trainable"] == heads
    cell_film = sum(p.numel() for p in both.decoder.cell_film.parameters())  # the view FiLMs the box cells too
    assert t_both["trainable"] - t_none["trainable"] == cell_film + sum(
        t_both["parts"][k] for k in ("condition", "film", "text_film"))
    assert all(not p.requires_grad for p in both.sam.parameters())


def test_twenty_steps_on_one_clip_lower_the_loss(tiny_root):
    torch.manual_seed(0)
    module = ViewSAMModule("nano", "both", "word", allow_random_init=True)
    clip = ClipDataset(tiny_root, tiny_root, "train", frames=2, stride=100, image_size=256, augment=False,
                       expressions=4)[(0, 0)]
    optimizer = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for _ in range(20):
        loss = module.clip_losses([clip])["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses


def test_only_the_trained_masks_are_decoded_with_a_gradient_and_their_values_are_unchanged(tiny_root):
    torch.manual_seed(0)
    module = ViewSAMModule("nano", "both", "word", allow_random_init=True)
    clip = ClipDataset(tiny_root, tiny_root, "train", frames=1, stride=100, image_size=256, augment=False,
                       expressions=2)[(0, 0)]
    trained = clip["targets"][0]["trained_mask"]
    assert 0 < int(trained.sum()) < len(trained)
    out = module(clip)
    with torch.no_grad():
        plain = module.model.describe(module.model.encode(clip["images"], clip["views"]),
                                      _prompts(clip, module.device))
    assert torch.allclose(out["masks"], plain["masks"], atol=1e-5)
    padded = torch.zeros(out["masks"].shape[1], dtype=torch.bool)  # the view's prompts, padded to the clip's most
    padded[: len(trained)] = trained
    out["masks"][0, padded].sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.model.film.parameters())
    padding = _prompts(clip, module.device).padding
    assert torch.all(out["masks"][padding] == NO_MASK_LOGIT)


def test_the_loss_reads_the_label_mask_of_each_trained_prompt_and_only_those_are_decoded(tiny_root):
    dataset = ClipDataset(tiny_root, tiny_root, "train", frames=2, stride=100, image_size=256, augment=False,
                          expressions=2)
    clip = dataset[(0, 0)]
    side = 256 // 4
    for target in clip["targets"]:
        trained = torch.nonzero(target["trained_mask"]).flatten()
        assert target["masks"].shape == (len(trained), side, side)
        for mask, prompt in zip(target["masks"], trained.tolist()):  # in prompt order
            rows, cols = torch.nonzero(mask > 0.5, as_tuple=True)
            x0, y0, x1, y1 = (target["boxes"][target["owner"][prompt]] * side).tolist()
            assert x0 - 1 <= cols.float().mean() <= x1 + 1 and y0 - 1 <= rows.float().mean() <= y1 + 1


def test_the_frozen_encoder_in_a_worker_gives_the_step_the_features_it_would_compute_itself(tiny_root):
    torch.manual_seed(0)
    module = ViewSAMModule("nano", "both", "word", allow_random_init=True)
    dataset = ClipDataset(tiny_root, tiny_root, "train", frames=1, stride=100, image_size=256, expressions=2,
                          image_encoder=module.model.image_features)
    (clip,) = next(iter(ResumableLoader(dataset, ClipSampler(len(dataset)), num_workers=1)))
    own = module.model.image_features(clip["images"])
    pairs = [*zip(clip["features"].levels, own.levels), (clip["features"].pos, own.pos)]
    assert len(pairs) == 4 and all(torch.allclose(a, b, atol=1e-5) for a, b in pairs)
    with torch.no_grad():
        ahead, inline = module(clip), module({k: v for k, v in clip.items() if k != "features"})
    assert torch.allclose(ahead["refer"], inline["refer"], atol=1e-5)


def test_a_label_root_that_fails_to_load_leaves_the_processs_threads_as_they_were(tiny_root, tmp_path, capsys):
    threads = torch.get_num_threads()
    empty = tmp_path / "labels"
    (empty / "images" / "train").mkdir(parents=True)
    with pytest.raises(SystemExit):
        _fit(tiny_root, tmp_path / "run", "--trainer.max_steps", "1", labels=empty)
    assert "no training clip" in capsys.readouterr().err and torch.get_num_threads() == threads


def test_encode_in_workers_without_a_worker_names_both_settings(tiny_root, tmp_path, capsys):
    with pytest.raises(SystemExit):
        _fit(tiny_root, tmp_path, "--trainer.max_steps", "1", "--data.num_workers", "0")
    err = capsys.readouterr().err
    assert "data.encode_in_workers" in err and "data.num_workers >= 1" in err


def _prompts(clip: dict, device):
    from crmot.models.viewsam import normalised_prompts

    return normalised_prompts([t["prompts"] for t in clip["targets"]], device)


def test_a_clip_asks_each_expression_about_every_label_prompt_and_negatives_belong_to_no_one(tiny_root):
    dataset = ClipDataset(tiny_root, tiny_root, "train", frames=2, stride=100, image_size=128, expressions=3,
                          negatives=2)
    ref = dataset.refs[-1]
    clip = dataset[(0, len(dataset) - 1)]
    _, labels = dataset.scenes[ref.scene]
    by_sentence = {e.sentence: e for e in labels.expressions}
    assert len(set(clip["sentences"])) == len(clip["sentences"]) == min(3, len(labels.expressions)) > 1
    for target in clip["targets"]:
        for e, sentence in enumerate(clip["sentences"]):
            assert target["referred"][e].tolist() == [int(i) in by_sentence[sentence].ids for i in target["ids"]]
        labelled = target["owner"] >= 0
        assert torch.equal(target["objectness"], labelled.float())
        assert target["owner"][labelled].tolist() == list(range(len(target["boxes"])))
        assert len(target["prompts"]) == len(target["owner"]) and not target["trained_mask"][~labelled].any()


def test_weak_training_never_reads_the_data_roots_labels(tiny_root, tmp_path, monkeypatch):
    """Pseudo labels in their own root: training reads images from the data root and every label from
    the label root, never the data root's gt.txt, masks or descriptions."""
    labels = tmp_path / "pseudo"
    shutil.copytree(tiny_root, labels, ignore=shutil.ignore_patterns("img1"))
    data_root = str(tiny_root)
    for name in ("read_tracks", "read_descriptions"):
        original = getattr(crtrack, name)

        def guarded(path, *args, _original=original, **kwargs):
            assert not str(path).startswith(data_root), f"weak training read {path}"
            return _original(path, *args, **kwargs)

        monkeypatch.setattr(crtrack, name, guarded)
    from crmot.data import masks as rle

    original_masks = rle.read_jsonl

    def guarded_masks(path, *args, **kwargs):
        assert not str(path).startswith(data_root), f"weak training read {path}"
        return original_masks(path, *args, **kwargs)

    monkeypatch.setattr(rle, "read_jsonl", guarded_masks)
    _fit(tiny_root, tmp_path / "run", "--trainer.max_steps", "1", labels=labels)
    assert (tmp_path / "run/checkpoints/last.ckpt").is_file()


def test_words_no_training_expression_had_are_left_out_of_the_referring_and(tiny_root, tmp_path):
    """The checkpoint keeps the training expressions' vocabulary; at inference a word outside it is
    read as context but carries no weight in the referring head, every trained word does."""
    _fit(tiny_root, tmp_path / "run", "--trainer.max_steps", "1")
    model, _ = load_viewsam(tmp_path / "run/checkpoints/last.ckpt")
    trained = ClipDataset(tiny_root, tiny_root, image_size=256).sentences()
    real = model.text.tokens(trained)[1]
    assert model.vocabulary and (model.known_words(trained, real) | ~real).all()
    unseen = model.encode_text([trained[0], trained[0] + " riding a zeppelin past a quasar"]).mask
    words = len(model.text.token_ids([trained[0]])[0])
    assert unseen[0, :words].all() and unseen[1, :words].all()
    assert unseen[1].sum() == words + 3  # "riding", "a", "a" were trained; "zeppelin", "past", "quasar" never


def test_the_real_configuration_without_sam2_weights_names_the_setting(tiny_root, tmp_path, capsys):
    with pytest.raises(SystemExit):
        _fit(tiny_root, tmp_path, "--trainer.max_steps", "1", config=str(REPO / "conf/train.yaml"))
    err = capsys.readouterr().err
    assert "model.sam2_checkpoint" in err and "sam2.1_hiera_base_plus.pt" in err


def test_bf16_mixed_trains_on_cpu_and_the_process_gets_its_threads_back(tiny_root, tmp_path):
    threads = torch.get_num_threads()
    _fit(tiny_root, tmp_path, "--trainer.max_steps", "2", "--trainer.precision", "bf16-mixed")
    state = _trainable(tmp_path / "checkpoints" / "last.ckpt")
    assert all(torch.isfinite(v).all() for v in state.values())
    assert torch.get_num_threads() == threads  # the config's encoder worker borrowed a core for the fit only


def test_the_configs_callbacks_reach_the_trainer_and_its_logs_give_the_run_s_speed(tiny_root, tmp_path):
    train(["fit", "--config", CONFIG, "--data.root", str(tiny_root), "--data.label_root", str(tiny_root),
           "--trainer.default_root_dir", str(tmp_path), "--trainer.accelerator", "cpu", "--trainer.enable_progress_bar",
           "false", "--model.text_encoder", "word", "--data.stride", "8", "--data.expressions_per_clip", "4",
           "--trainer.max_steps", "3", "--trainer.log_every_n_steps", "1"])
    with (tmp_path / "logs" / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    lr = [float(r["lr-AdamW"]) for r in rows if r["lr-AdamW"]]  # LearningRateMonitor, from the config
    assert len(lr) == 3 and lr[0] < lr[-1]  # warm-up
    timed = [r for r in rows if r["train/time"]]  # ClipThroughput, from the config
    assert [int(float(r["train/batches"])) for r in timed] == [1, 2, 3]
    assert [float(r["train/samples"]) for r in timed] == [1, 2, 3]  # batch_size 1: a sample is a clip
    assert all(float(a["train/time"]) < float(b["train/time"]) for a, b in zip(timed, timed[1:]))


def test_without_lightnings_bar_the_demos_flag_still_reports_the_training_steps(tiny_root, tmp_path, capsys):
    _fit(tiny_root, tmp_path, "--trainer.max_steps", "3",
         "--trainer.callbacks+=crmot.training.step_progress.StepProgress")  # as make demo passes it
    assert "ViewSAM training: steps 3/3" in capsys.readouterr().err  # a log gets the line at the end


def test_a_runs_flags_switch_off_the_configs_callbacks_that_lightning_would_refuse():
    bar, lr, throughput = RichProgressBar(), LearningRateMonitor(), ClipThroughput()
    everything = {"callbacks": [bar, lr, throughput]}
    assert config_callbacks(everything) == [bar, lr, throughput]
    assert config_callbacks({**everything, "enable_progress_bar": False}) == [lr, throughput]
    assert config_callbacks({**everything, "logger": False}) == [bar]
    assert config_callbacks({"callbacks": None}) == []


def test_resume_reproduces_the_uninterrupted_run_exactly(tiny_root, tmp_path):
    """Resume mid-epoch from the step-2 checkpoint of a 4-step run; weights at step 4 must be equal."""
    common = ("--trainer.max_steps", "4", "--checkpoint_every", "2", "--model.loss.rank", "0.5")
    _fit(tiny_root, tmp_path / "straight", *common)
    (step2,) = (tmp_path / "straight/checkpoints").glob("*step=2*.ckpt")
    assert torch.load(step2, map_location="cpu", weights_only=False)["global_step"] == 2
    _fit(tiny_root, tmp_path / "resumed", *common, "--ckpt_path", str(step2))
    a, b = _trainable(tmp_path / "straight/checkpoints/last.ckpt"), _trainable(tmp_path / "resumed/checkpoints/last.ckpt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not any(k.startswith("model.sam.") for k in a)  # frozen SAM2 stays out of checkpoints
    _, facts = load_viewsam(tmp_path / "resumed/checkpoints/last.ckpt")  # loads with weights_only
    assert facts["loss"] == {**asdict(LossWeights()), "rank": 0.5}  # the weights it was trained with


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
    trainer.fit(module, ViewSAMData(root=root, label_root=root, stride=8, expressions_per_clip=4))
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
    L.seed_everything(0)
    module = ViewSAMModule(size="nano", text_encoder="word", allow_random_init=True)
    return {n: p.detach() for n, p in module.named_parameters() if p.requires_grad}


def test_the_rank_term_prefers_the_referred_prompt_on_top_and_ignores_images_with_nobody_to_rank():
    from crmot.training.losses import rank_loss

    referred = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # the second expression refers to no one here
    on_top = torch.log(torch.tensor([[0.9, 0.2, 0.1], [0.5, 0.5, 0.5]]))
    below = torch.log(torch.tensor([[0.2, 0.9, 0.1], [0.5, 0.5, 0.5]]))
    (top, count), (low, _) = rank_loss(on_top, referred), rank_loss(below, referred)
    assert count == 1 and 0 < top < low
    assert rank_loss(on_top[:, :1], referred[:, :1])[1] == 0  # one prompt: nothing to rank against


def test_referred_identities_are_scored_once_at_their_mean_probability_over_views_and_frames():
    from crmot.training.losses import LossWeights, clip_loss, pool_identities

    # two images (two views) of identities 7 and 9; "X" refers to 7, which does not look like X in view 2
    log_p = torch.log(torch.tensor([[0.9, 0.1, 0.2, 0.1]]))  # rows: 7 (view 1), 9 (view 1), 7 (view 2), 9 (view 2)
    ids = torch.tensor([7, 9, 7, 9])
    pooled, referred, rows = pool_identities(log_p, torch.tensor([[1.0, 0.0, 1.0, 0.0]]), ids)
    assert torch.allclose(pooled.exp(), torch.tensor([[0.55, 0.1]])) and referred.tolist() == [[1.0, 0.0]]
    assert rows.tolist() == [2.0, 2.0]

    def clip_terms(pooling: str) -> dict[str, torch.Tensor]:
        refer = log_p.view(1, 2, 2).transpose(0, 1).contiguous().requires_grad_()  # (B=2, E=1, N=2)
        out = {"objectness": torch.zeros(2, 2), "identity": F.normalize(torch.ones(2, 2, 4), dim=-1), "refer": refer,
               "masks": torch.zeros(2, 2, 4, 4)}
        image = {"objectness": torch.ones(2), "owner": torch.arange(2), "trained_mask": torch.zeros(2, dtype=torch.bool),
                 "referred": torch.tensor([[True, False]]), "ids": torch.tensor([7, 9]), "masks": None}
        terms = clip_loss(out, [image, image], LossWeights(refer_pooling=pooling))
        terms["refer"].backward()
        terms["grad"] = refer.grad
        return terms

    row, referred = clip_terms("row"), clip_terms("referred")
    assert referred["refer"] < row["refer"]  # the identity fits X as a whole
    assert abs(referred["grad"][1, 0, 0]) < 0.5 * abs(row["grad"][1, 0, 0])  # the row that hides X is excused
    # every row of someone X does not mean stays a negative of its own
    assert torch.allclose(referred["grad"][:, 0, 1], row["grad"][:, 0, 1])
    with pytest.raises(ValueError, match="refer_pooling"):
        clip_loss({"objectness": torch.zeros(0, 0)}, [], LossWeights(refer_pooling="identity"))
