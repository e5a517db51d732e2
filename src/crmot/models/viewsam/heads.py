"""Candidate decoder: one query per box prompt, as SAM2 answers its prompts.

Each prompt (a stage-1 box at inference, a label box moved a little in training) becomes a query
from its box appearance and position. The queries attend to each other (the people around) and to
the view-conditioned frame tokens and view tokens; each then gives an objectness (is the prompt an
object at all), an identity embedding (the same object in every view and frame), and the box's
view-conditioned cells, which the referring head grounds the words in (adding the query's context to
the cells hurt referring: the words then matched the crowd, not the person). Nothing here
reads the expression, so one pass serves every expression of a scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from crmot.models.viewsam.appearance import BoxAppearance
from crmot.models.viewsam.conditioning import FiLM

IDENTITY_DIM = 128


@dataclass
class Prompts:
    """Box prompts of B images: ``boxes`` (B, N, 4) normalised x0, y0, x1, y1 and ``padding`` (B, N),
    True where an image has fewer than N prompts."""

    boxes: torch.Tensor
    padding: torch.Tensor

    def to(self, device: torch.device) -> Prompts:
        return Prompts(self.boxes.to(device), self.padding.to(device))


class MLP(nn.Sequential):
    def __init__(self, dims: list[int]) -> None:
        layers: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), nn.GELU()]
        super().__init__(*layers[:-1])


class CandidateDecoder(nn.Module):
    def __init__(self, width: int, feature_dim: int, fine_channels: int, layers: int = 2, feedforward: int = 512,
                 heads: int = 4, film: bool = True) -> None:
        super().__init__()
        self.appearance = BoxAppearance(fine_channels, width)
        self.summary = nn.Linear(self.appearance.cells * width, width)
        self.box_embed = MLP([4, width, width])
        self.visual = nn.Linear(feature_dim, width)
        layer = nn.TransformerDecoderLayer(width, heads, feedforward, dropout=0.0, batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, layers)
        self.norm = nn.LayerNorm(width)
        self.objectness = nn.Linear(width, 1)
        self.identity = MLP([2 * width, width, IDENTITY_DIM])
        self.cell_film = FiLM(width, width, channels_last=True) if film else None  # the view conditions colours

    def forward(self, visual: torch.Tensor, view_tokens: torch.Tensor | None, fine: torch.Tensor, images: torch.Tensor,
                masks: torch.Tensor, prompts: Prompts, condition: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``visual`` (B, H*W, C) frame tokens with their position encoding, ``view_tokens`` (B, M, D)
        or None; ``fine`` SAM2's finest level, ``images`` the input frames and ``masks`` (B, N, m, m)
        the prompts' mask probabilities, which the box appearance reads; ``condition`` (B, D) the view
        condition that FiLMs the cells. Returns per prompt: objectness logits (B, N), identity
        (B, N, 128) unit vectors and parts (B, N, cells, D)."""
        cells = self.appearance(fine, images, masks, prompts.boxes)
        if self.cell_film is not None:
            cells = self.cell_film(cells, condition)
        pooled = self.summary(cells.flatten(2))
        queries = pooled + self.box_embed(prompts.boxes)
        memory = self.visual(visual)
        if view_tokens is not None:
            memory = torch.cat([memory, view_tokens], 1)
        # A row of padding only (an image without prompts) would leave attention nothing to normalise over.
        padding = prompts.padding & ~prompts.padding.all(1, keepdim=True)
        out = self.norm(self.decoder(queries, memory, tgt_key_padding_mask=padding))
        return {"objectness": self.objectness(out).squeeze(-1),
                "identity": F.normalize(self.identity(torch.cat([out, pooled], -1)), dim=-1),
                "parts": cells}
