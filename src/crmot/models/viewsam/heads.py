"""Candidate decoder and its heads: object queries attend to the (view-conditioned) frame tokens,
the expression's tokens and the view tokens; each query gives a box, an objectness, a referring
logit and an identity embedding. Masks come from SAM2's own mask decoder, prompted by the boxes."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

IDENTITY_DIM = 128


class MLP(nn.Sequential):
    def __init__(self, dims: list[int]) -> None:
        layers: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), nn.GELU()]
        super().__init__(*layers[:-1])


class CandidateDecoder(nn.Module):
    def __init__(self, dim: int = 256, queries: int = 16, layers: int = 6, feedforward: int = 2048, heads: int = 8) -> None:
        super().__init__()
        self.queries = nn.Embedding(queries, dim)
        layer = nn.TransformerDecoderLayer(dim, heads, feedforward, dropout=0.0, batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, layers)
        self.norm = nn.LayerNorm(dim)
        self.box = MLP([dim, dim, 4])
        self.objectness = nn.Linear(dim, 1)
        self.refer = nn.Linear(dim, dim)
        self.refer_bias = nn.Parameter(torch.zeros(()))
        self.identity = MLP([dim, dim, IDENTITY_DIM])

    def forward(self, memory: torch.Tensor, memory_mask: torch.Tensor, sentence: torch.Tensor) -> dict[str, torch.Tensor]:
        """``memory`` (B, M, D) tokens with ``memory_mask`` (B, M) True where padding; ``sentence``
        (B, D) pooled expression vector. Returns per query: boxes (B, Q, 4) as normalised cx, cy, w, h,
        objectness and refer logits (B, Q), identity (B, Q, 128) unit vectors."""
        b = memory.shape[0]
        q = self.queries.weight[None].expand(b, -1, -1)
        out = self.norm(self.decoder(q, memory, memory_key_padding_mask=memory_mask))
        refer = (self.refer(out) * sentence[:, None]).sum(-1) / out.shape[-1] ** 0.5 + self.refer_bias
        return {
            "boxes": self.box(out).sigmoid(),
            "objectness": self.objectness(out).squeeze(-1),
            "refer": refer,
            "identity": F.normalize(self.identity(out), dim=-1),
        }
