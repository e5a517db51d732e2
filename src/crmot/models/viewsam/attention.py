"""The attention kernels ViewSAM runs on a GPU.

ViewSAM's attention shapes change from clip to clip: the number of box prompts is the batch of
SAM2's mask decoder, and the sentences' lengths shape the text layers. For bf16 on Hopper, PyTorch
prefers cuDNN's fused attention, and cuDNN builds an execution plan for every new shape it meets.
Flash and memory-efficient attention need no plan, so ViewSAM asks for those (and the math kernel as
the last resort); fp32 and CPU runs already use them.
"""

from __future__ import annotations

import contextlib

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

PLAN_FREE = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]


def attention_kernels(device: torch.device) -> contextlib.AbstractContextManager:
    """Within it, scaled-dot-product attention on ``device`` avoids cuDNN's per-shape plans."""
    return sdpa_kernel(PLAN_FREE) if device.type == "cuda" else contextlib.nullcontext()
