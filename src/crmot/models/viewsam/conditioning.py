"""View conditioning: a per-camera learnable token plus a condition encoder from the frame's global
features and colour statistics (so cameras never seen in training still get a condition, and a
camera's colour cast is visible to it), applied as FiLM on SAM2's multi-scale features, on the
appearance map and on the expression's words, and, as extra tokens, in the candidates' attention."""

from __future__ import annotations

import torch
from torch import nn

VIEW_CONDITIONING = ("film", "tokens", "both", "none")
#: Per-channel mean and standard deviation of the normalised input image.
IMAGE_STATISTICS = 6


def image_statistics(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, S, S) -> (B, 6): what a grey-world white balance would read of the camera's cast."""
    return torch.cat([images.mean(dim=(2, 3)), images.std(dim=(2, 3))], 1)


class ViewCondition(nn.Module):
    def __init__(self, feature_dim: int, dim: int, max_views: int = 16, num_tokens: int = 2) -> None:
        super().__init__()
        self.camera = nn.Embedding(max_views, dim)
        nn.init.normal_(self.camera.weight, std=0.02)
        self.encoder = nn.Sequential(nn.Linear(feature_dim + IMAGE_STATISTICS, dim), nn.GELU(), nn.Linear(dim, dim))
        self.to_tokens = nn.Linear(dim, num_tokens * dim)
        self.num_tokens = num_tokens

    def forward(self, top_features: torch.Tensor, statistics: torch.Tensor, views: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C, H, W) frame features, (B, 6) image statistics and (B,) 0-based camera indices ->
        condition (B, D) and view tokens (B, num_tokens, D)."""
        pooled = torch.cat([top_features.mean(dim=(2, 3)), statistics], 1)
        condition = self.encoder(pooled) + self.camera(views.clamp(max=self.camera.num_embeddings - 1))
        tokens = self.to_tokens(condition).view(len(views), self.num_tokens, -1)
        return condition, tokens


class FiLM(nn.Module):
    """Per-channel scale and shift from the view condition; starts as the identity."""

    def __init__(self, condition_dim: int, channels: int, channels_last: bool = False) -> None:
        super().__init__()
        self.channels_last = channels_last  # (B, ..., C) tokens rather than (B, C, H, W) maps
        self.proj = nn.Linear(condition_dim, 2 * channels)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, features: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.proj(condition).chunk(2, dim=-1)
        if self.channels_last:
            shape = (len(condition),) + (1,) * (features.dim() - 2) + (-1,)
        else:
            shape = (len(condition), -1) + (1,) * (features.dim() - 2)
        return features * (1 + gamma.view(shape)) + beta.view(shape)
