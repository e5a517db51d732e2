"""Training steps shown the way the other stages show frames (:class:`crmot.progress.FrameProgress`):
a bar on a terminal, a plain line every few seconds in a log. ``make demo`` turns Lightning's own bar
off, as a log cannot redraw it, and would otherwise train for minutes without a word."""

from __future__ import annotations

from typing import Any

import lightning as L

from crmot import progress


class StepProgress(L.Callback):
    def __init__(self, what: str = "ViewSAM training") -> None:
        self.what = what
        self.progress: progress.FrameProgress | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.progress = progress.on_rank_zero(trainer, self.what)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self.progress is not None:
            total = trainer.max_steps if trainer.max_steps > 0 else None
            self.progress.advance("steps", trainer.global_step, total)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        progress.stop(self.progress)
        self.progress = None
