"""Training speed in every run's logs, so a figure like "steps/s on 8 GPUs" is read from the run
itself rather than timed by hand: Lightning's ThroughputMonitor, told that a batch is a list of
clips, plus the peak accelerator memory of the step."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ThroughputMonitor


class ClipThroughput(ThroughputMonitor):
    """Logs ``train/time``, ``train/batches`` and ``train/samples`` (cumulative, so any two logged
    steps give a rate), ``train/device/samples_per_sec`` over the last ``window_size`` steps, and, on
    CUDA, ``train/peak_mem_gb`` (the most memory PyTorch has held since the run began)."""

    def __init__(self, window_size: int = 50) -> None:
        super().__init__(batch_size_fn=len, window_size=window_size)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        if trainer.strategy.root_device.type == "cuda":
            pl_module.log("train/peak_mem_gb", torch.cuda.max_memory_allocated() / 2**30, on_step=True,
                          on_epoch=False, rank_zero_only=True)
