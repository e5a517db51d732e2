"""The learning-rate schedule every crmot training uses: linear warm-up, then cosine to zero."""

from __future__ import annotations

import math

import torch


def warmup_cosine(optimizer: torch.optim.Optimizer, warmup: int, total: int) -> dict:
    """Lightning's ``configure_optimizers`` answer for ``optimizer`` stepped ``total`` times."""
    total = max(total, 1)
    warmup = min(warmup, total)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(total - warmup, 1))))

    return {"optimizer": optimizer,
            "lr_scheduler": {"scheduler": torch.optim.lr_scheduler.LambdaLR(optimizer, factor), "interval": "step"}}
