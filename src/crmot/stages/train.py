"""Stage 3 as a Lightning fit stage: ViewSAM trained on a label root (pseudo labels by default).

    crmot train fit [--model.view_conditioning film] [--trainer.max_steps 200]

``make train GPUS=8 [NODES=1] [PRECISION=bf16-mixed]`` runs Lightning DDP with bf16-mixed. Only the
trainable parameters are checkpointed (SAM2 and the text encoder are frozen and come from their own
checkpoints); a checkpoint from another configuration fails with the mismatched keys listed. The data
position is checkpointed too, so a resumed run equals the uninterrupted one step for step.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.accelerators import CPUAccelerator
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint, ProgressBar, ThroughputMonitor
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from rich.console import Console
from rich.table import Table

from crmot.errors import ConfigError
from crmot.models.viewsam import ViewSAM, normalised_prompts
from crmot.models.viewsam.attention import attention_kernels
from crmot.models.viewsam.checkpoint import check_fits, trainable_shapes
from crmot.stages.launch import run_stage, with_packaged_config
from crmot.training.clips import ClipDataset, ClipSampler, ResumableLoader
from crmot.training.losses import LossWeights, clip_loss
from crmot.training.schedule import warmup_cosine

log = logging.getLogger(__name__)


class ViewSAMModule(L.LightningModule):
    flops_per_batch = None  # ClipThroughput logs no FLOP figures: a clip's cost varies with its prompts

    def __init__(self, size: str = "nano", view_conditioning: str = "both", text_encoder: str = "minilm",
                 sam2_checkpoint: str | None = None, text_checkpoint: str | None = None,
                 allow_random_init: bool = False, lr: float = 3e-4, weight_decay: float = 0.05,
                 warmup_steps: int = 20, loss: LossWeights | None = None) -> None:
        super().__init__()
        self.weights = loss or LossWeights()
        self.save_hyperparameters(ignore=["loss"])
        # the weights themselves rather than None (a default): a checkpoint keeps saying how it was
        # trained after a default changes; plain floats, for torch.load(weights_only=True)
        self.hparams["loss"] = asdict(self.weights)
        self.model = ViewSAM(size, view_conditioning, text_encoder, sam2_checkpoint, text_checkpoint, allow_random_init)
        self.strict_loading = False  # frozen weights are not in our checkpoints; on_load_checkpoint checks the rest

    @property
    def image_size(self) -> int:
        return self.model.size.image_size

    def on_fit_start(self) -> None:
        print_parameter_table(self.model)
        data = getattr(self.trainer, "datamodule", None)
        if data is not None and getattr(data, "dataset", None) is not None:
            self.model.learn_vocabulary(data.dataset.sentences())

    def forward(self, clip: dict) -> dict[str, torch.Tensor]:
        prompts = normalised_prompts([t["prompts"] for t in clip["targets"]], self.device)
        trained = torch.zeros(prompts.padding.shape, dtype=torch.bool, device=self.device)
        for b, target in enumerate(clip["targets"]):
            trained[b, : len(target["trained_mask"])] = target["trained_mask"].to(self.device)
        features = clip["features"].to(self.device) if "features" in clip else None
        with attention_kernels(self.device):
            return self.model(clip["images"].to(self.device), clip["views"].to(self.device), prompts, clip["sentences"],
                              trained, features)

    def clip_losses(self, clips: list[dict]) -> dict[str, torch.Tensor]:
        """Each loss term averaged over the clips of the batch."""
        totals: dict[str, torch.Tensor] = {}
        for clip in clips:
            for k, v in clip_loss(self(clip), clip["targets"], self.weights).items():
                totals[k] = totals.get(k, 0.0) + v / len(clips)
        return totals

    def training_step(self, clips: list[dict], batch_idx: int) -> torch.Tensor:
        losses = self.clip_losses(clips)
        self.log_dict({f"train/{k}": v.detach() for k, v in losses.items()}, batch_size=len(clips),
                      prog_bar=False, on_step=True, on_epoch=False)
        self.log("train/loss_epoch", losses["loss"].detach(), batch_size=len(clips), on_step=False, on_epoch=True,
                 prog_bar=True, sync_dist=True)
        return losses["loss"]

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        return warmup_cosine(optimizer, self.hparams.warmup_steps, int(self.trainer.estimated_stepping_batches))

    # ------------------------------------------------------------------ checkpoints: trainable parts only
    def trainable_keys(self) -> dict[str, torch.Size]:
        return trainable_shapes(self)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        keep = self.trainable_keys()
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in keep}
        checkpoint["viewsam"] = {"name": self.model.name, "parameters": self.model.parameter_table(),
                                 "vocabulary": sorted(self.model.vocabulary or ())}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        expected = self.trainable_keys()
        check_fits(expected, {k: v.shape for k, v in checkpoint["state_dict"].items()},
                   f"this ViewSAM configuration ({self.model.name}, view_conditioning={self.hparams.view_conditioning})")
        frozen = {k: v for k, v in self.state_dict().items() if k not in expected}
        checkpoint["state_dict"] = {**frozen, **checkpoint["state_dict"]}


class ViewSAMData(L.LightningDataModule):
    """Training clips of a label root. ``encode_in_workers`` (``num_workers`` >= 1) runs SAM2's frozen
    image encoder in the DataLoader workers of a CPU run, each on one core, and leaves the step the
    other cores: the frozen half of the next clip overlaps the trainable half of this one (on 2 cores
    a step of the synthetic recipe takes a tenth to a fifth less time). On a GPU it does nothing: the GPU
    runs the encoder faster in the step."""

    def __init__(self, root: str = "data/synth", label_root: str = "runs/demo/pseudo", split: str = "train",
                 clip_frames: int = 2, frame_gap: int = 4, stride: int = 4, expressions_per_clip: int = 16,
                 negatives: int = 2, batch_size: int = 1, num_workers: int = 0, encode_in_workers: bool = False,
                 augment: bool = True, seed: int = 0, image_size: int | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.dataset: ClipDataset | None = None
        self._threads: int | None = None  # the step's thread count before encode_in_workers split the cores

    def setup(self, stage: str) -> None:
        module = self.trainer.lightning_module
        size = self.hparams.image_size or module.image_size
        h = self.hparams
        encoder = None
        if h.encode_in_workers:
            if h.num_workers < 1:
                raise ConfigError("data.encode_in_workers runs SAM2's image encoder in the DataLoader workers: it "
                                  f"needs data.num_workers >= 1, not {h.num_workers}")
            if isinstance(self.trainer.accelerator, CPUAccelerator):
                encoder = module.model.image_features
            else:
                log.info("data.encode_in_workers is for CPU runs: on %s the step runs SAM2's encoder itself",
                         type(self.trainer.accelerator).__name__)
        self.dataset = ClipDataset(h.root, h.label_root, h.split, h.clip_frames, h.frame_gap, h.stride, size, h.augment,
                                   h.seed, h.expressions_per_clip, h.negatives, encoder)
        log.info("%d training clips from %s (labels %s)", len(self.dataset), h.root, h.label_root)
        if encoder is not None:  # once the labels have loaded: a bad root leaves the process as it was
            self._threads = torch.get_num_threads()
            torch.set_num_threads(max(1, self._threads - h.num_workers))  # each worker takes one core

    def teardown(self, stage: str) -> None:
        if self._threads is not None:
            torch.set_num_threads(self._threads)
            self._threads = None

    def train_dataloader(self) -> ResumableLoader:
        trainer = self.trainer
        sampler = ClipSampler(len(self.dataset), self.hparams.seed, True, trainer.global_rank, trainer.world_size)
        return ResumableLoader(self.dataset, sampler, self.hparams.batch_size, self.hparams.num_workers)


@rank_zero_only
def print_parameter_table(model: ViewSAM) -> None:
    table_data = model.parameter_table()
    table = Table(title=f"{model.name}: parameters")
    table.add_column("part")
    table.add_column("parameters", justify="right")
    table.add_column("% of SAM2", justify="right")
    sam2 = table_data["sam2"]
    table.add_row("SAM2 (frozen)", f"{sam2:,}", "100.0")
    for name, count in table_data["parts"].items():
        if count:
            table.add_row(f"{name} (trainable)", f"{count:,}", f"{100 * count / sam2:.2f}")
    table.add_row("frozen total", f"{table_data['frozen']:,}", "")
    table.add_row("trainable total", f"{table_data['trainable']:,}", f"{table_data['trainable_percent']:.2f}", style="bold")
    Console().print(table)


class TrainCLI(LightningCLI):
    """Checkpoints and logs live under ``--trainer.default_root_dir`` (the run's train folder), so a
    second ``make train`` finds ``checkpoints/last.ckpt`` there and continues from it."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.add_argument("--checkpoint_every", type=int, default=50, help="steps between checkpoints")

    def instantiate_trainer(self, **kwargs):
        config = self.config_init[self.subcommand] if self.subcommand else self.config_init
        root = Path(config["trainer"].get("default_root_dir") or "runs/train")
        if config["trainer"].get("logger") is not False:
            config["trainer"]["logger"] = [CSVLogger(root, name="logs", version=""),
                                           TensorBoardLogger(root, name="tensorboard", version="")]
        checkpoint = ModelCheckpoint(dirpath=root / "checkpoints", monitor="train/loss", save_top_k=2,
                                     save_last=True, every_n_train_steps=config["checkpoint_every"])
        # ``callbacks`` passed here replaces the config's list, so the config's callbacks come along
        kwargs["callbacks"] = [*config_callbacks(config["trainer"]), *kwargs.get("callbacks", []), checkpoint]
        return super().instantiate_trainer(**kwargs)


def config_callbacks(trainer: dict) -> list[Callback]:
    """The config's callbacks, less those that the run's own flags switch off: a progress bar under
    ``enable_progress_bar: false``, and the callbacks that only feed loggers under ``logger: false``
    (Lightning would refuse both combinations)."""
    callbacks = trainer.get("callbacks") or []
    callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
    if trainer.get("enable_progress_bar") is False:
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    if trainer.get("logger") is False:
        callbacks = [c for c in callbacks if not isinstance(c, (LearningRateMonitor, ThroughputMonitor))]
    return callbacks


def main(args: list[str] | None = None) -> None:
    torch.set_float32_matmul_precision("high")
    args = with_packaged_config(args, "train.yaml")
    run_stage(lambda: TrainCLI(ViewSAMModule, ViewSAMData, save_config_kwargs={"overwrite": True}, args=args))
