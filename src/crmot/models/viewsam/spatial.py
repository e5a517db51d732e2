"""Spatial prior: a light convolutional stem on the image, added to SAM2's top feature map.

As in ViT-Adapter's spatial prior module: a few strided convolutions see local detail (edges, small
objects) that a transformer's top level keeps only indirectly. With SAM2's pretrained weights it
refines what SAM2 already localises; with the random-init ``nano`` model of the demo it is what the
candidate decoder learns to localise from, as frozen random Hiera features carry little of where
things are. The last convolution starts at zero, so training starts from SAM2's features alone.
Its first convolution's output (stride 2) is also returned: the finest map the box-appearance pooling
reads colours from.
"""

from __future__ import annotations

import torch
from torch import nn


class SpatialPrior(nn.Module):
    def __init__(self, dim: int, stride: int = 16) -> None:
        super().__init__()
        steps = stride.bit_length() - 1  # stride 2 per convolution
        widths = [3] + [min(32 * 2 ** i, dim) for i in range(steps - 1)] + [dim]
        layers: list[nn.Module] = []
        for k, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.Conv2d(a, b, 3, stride=2, padding=1))
            if k < steps - 1:
                layers.append(nn.GELU())
        self.detail, self.stem = nn.Sequential(*layers[:2]), nn.Sequential(*layers[2:])
        self.detail_channels = widths[1]
        nn.init.zeros_(self.stem[-1].weight)
        nn.init.zeros_(self.stem[-1].bias)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, S, S) normalised images -> the detail map (B, 32, S / 2, S / 2) and the prior to add
        to the top level (B, dim, S / stride, S / stride)."""
        detail = self.detail(images)
        return detail, self.stem(detail)
