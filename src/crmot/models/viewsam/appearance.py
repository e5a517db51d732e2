"""Box appearance: what a candidate looks like, read inside its box.

Expressions name the colours of a person's headwear, coat, trousers and shoes, and what they carry.
SAM2's top level (stride 16) mixes a small person with the ground around them, so each candidate
also reads its own box on a grid of cells (rows from head to feet, columns left and right), as
Faster R-CNN's RoIAlign head does: the cells are what words are grounded in. A cell holds SAM2's
finest level (stride 4: shapes and edges) and the image's own pixels sampled at twice the grid's
resolution (colour at the resolution of a person's shoes), each sample with SAM2's mask of the
prompted object there: the model tells the coat's colour from the ground's between the legs.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import roi_align

#: rows x columns of the cell grid: head to feet, left and right.
GRID = (8, 2)
#: Image samples per cell side: a cell sees 2 x 2 colour samples.
PIXEL_SAMPLES = 2


class BoxAppearance(nn.Module):
    def __init__(self, feature_channels: int, dim: int, grid: tuple[int, int] = GRID) -> None:
        super().__init__()
        self.grid = grid
        channels = feature_channels + 4 * PIXEL_SAMPLES ** 2  # colour and mask weight of each sample
        self.proj = nn.Sequential(nn.Linear(channels, dim), nn.GELU(), nn.Linear(dim, dim))
        self.cell = nn.Parameter(torch.zeros(grid[0] * grid[1], dim))  # where in the box a cell lies
        nn.init.normal_(self.cell, std=0.02)
        self.norm = nn.LayerNorm(dim)

    @property
    def cells(self) -> int:
        return self.grid[0] * self.grid[1]

    def forward(self, features: torch.Tensor, images: torch.Tensor, masks: torch.Tensor, boxes: torch.Tensor
                ) -> torch.Tensor:
        """``features`` (B, C, H, W) a feature level, ``images`` (B, 3, S, S), ``masks`` (B, N, m, m)
        each prompt's mask probabilities over the image, ``boxes`` (B, N, 4) normalised x0, y0, x1, y1
        -> (B, N, cells, dim), cells row-major from the top left."""
        b, n = boxes.shape[:2]
        rows, cols = self.grid
        samples = (rows * PIXEL_SAMPLES, cols * PIXEL_SAMPLES)
        level = _pool(features, boxes, self.grid).flatten(2).transpose(1, 2)  # (B*N, cells, C)
        pixels = _pool(images, boxes, samples)  # (B*N, 3, 2R, 2C)
        weights = _pool(masks.flatten(0, 1)[:, None], boxes.flatten(0, 1)[:, None], samples)  # each its own mask
        pixels = torch.cat([pixels, weights.to(pixels.dtype)], 1)
        pixels = pixels.view(b * n, 4, rows, PIXEL_SAMPLES, cols, PIXEL_SAMPLES).permute(0, 2, 4, 1, 3, 5)
        cells = torch.cat([level, pixels.reshape(b * n, rows * cols, -1)], -1)
        return self.norm(self.proj(cells.to(boxes.dtype)) + self.cell).view(b, n, self.cells, -1)


def _pool(maps: torch.Tensor, boxes: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """RoIAlign of (B, C, H, W) maps in (B, N, 4) normalised boxes -> (B*N, C, *grid)."""
    b, n = boxes.shape[:2]
    h, w = maps.shape[-2:]
    index = torch.arange(b, device=boxes.device, dtype=boxes.dtype).repeat_interleave(n)[:, None]
    scale = torch.tensor([w, h, w, h], device=boxes.device, dtype=boxes.dtype)
    rois = torch.cat([index, boxes.detach().flatten(0, 1) * scale], 1).to(maps.dtype)
    return roi_align(maps, rois, grid, spatial_scale=1.0, sampling_ratio=2, aligned=True)
