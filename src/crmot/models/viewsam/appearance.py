"""Box appearance: what a candidate looks like, read at its box from the high-resolution maps.

Expressions name the colours of a person's head, coat and trousers. A query that attended to the
top feature level (stride 16) sees a small person mixed with the background around them, so its
referring and identity heads get, in addition, the detail maps pooled inside the candidate's own box
on a grid of rows (head, coat, trousers, feet) and columns, as in Faster R-CNN's RoIAlign head.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import roi_align

#: rows x columns of the pooling grid: top to bottom, a person's head, upper body, lower body, feet.
GRID = (4, 2)


class BoxAppearance(nn.Module):
    def __init__(self, channels: int, dim: int, grid: tuple[int, int] = GRID) -> None:
        super().__init__()
        self.grid = grid
        self.proj = nn.Sequential(nn.Linear(channels * grid[0] * grid[1], dim), nn.GELU(), nn.Linear(dim, dim))

    def forward(self, maps: list[torch.Tensor], boxes: torch.Tensor) -> torch.Tensor:
        """``maps`` (B, C_i, H_i, W_i) with sum(C_i) = ``channels``, ``boxes`` (B, Q, 4) normalised
        x0, y0, x1, y1 -> (B, Q, dim). Boxes are not differentiated through (they are detached)."""
        b, q = boxes.shape[:2]
        index = torch.arange(b, device=boxes.device, dtype=boxes.dtype).repeat_interleave(q)[:, None]
        pooled = []
        for feature in maps:
            h, w = feature.shape[-2:]
            scaled = boxes.detach().flatten(0, 1) * torch.tensor([w, h, w, h], device=boxes.device, dtype=boxes.dtype)
            rois = torch.cat([index, scaled], 1).to(feature.dtype)
            pooled.append(roi_align(feature, rois, self.grid, spatial_scale=1.0, sampling_ratio=2, aligned=True))
        return self.proj(torch.cat(pooled, 1).flatten(1).to(boxes.dtype)).view(b, q, -1)
