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
    """Two-stage, as in RT-DETR / DINO's query selection: every frame token scores how likely an object
    centre lies in its cell, the top ``queries`` tokens become the object queries, each anchored at
    its cell; the decoder then refines the anchored box. Localisation starts from the grid instead of
    being learned from scratch by free queries, which is what lets the heads train in minutes."""

    def __init__(self, dim: int = 256, queries: int = 16, layers: int = 6, feedforward: int = 2048, heads: int = 8) -> None:
        super().__init__()
        self.num_queries = queries
        self.queries = nn.Embedding(queries, dim)
        self.token_objectness = MLP([dim, dim, 1])
        self.token_box = MLP([dim, dim, 4])
        self.query_proj = nn.Sequential(nn.Linear(dim, dim), nn.LayerNorm(dim))
        layer = nn.TransformerDecoderLayer(dim, heads, feedforward, dropout=0.0, batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, layers)
        self.norm = nn.LayerNorm(dim)
        self.box = MLP([dim, dim, 4])
        self.objectness = nn.Linear(dim, 1)
        self.refer = nn.Linear(dim, dim)
        self.refer_bias = nn.Parameter(torch.zeros(()))
        self.identity = MLP([dim, dim, IDENTITY_DIM])

    def forward(self, visual: torch.Tensor, grid: tuple[int, int], others: torch.Tensor, others_mask: torch.Tensor,
                sentence: torch.Tensor) -> dict[str, torch.Tensor]:
        """``visual`` (B, H*W, D) frame tokens of an H x W ``grid``; ``others`` (B, M, D) expression
        and view tokens with ``others_mask`` (B, M) True where padding; ``sentence`` (B, D) pooled
        expression vector. Returns per query: boxes (B, Q, 4) as normalised cx, cy, w, h, objectness
        and refer logits (B, Q), identity (B, Q, 128) unit vectors; and per token the centre logits
        ``token_objectness`` (B, H*W) that chose the queries."""
        b, n, _ = visual.shape
        token_logits = self.token_objectness(visual).squeeze(-1)
        chosen = token_logits.detach().topk(min(self.num_queries, n), dim=1).indices  # (B, Q)
        picked = torch.gather(visual, 1, chosen[..., None].expand(-1, -1, visual.shape[-1]))
        anchors = cell_boxes(grid, visual.device)[chosen]  # (B, Q, 4)
        reference = torch.logit(anchors, eps=1e-4) + self.token_box(picked)
        q = self.query_proj(picked.detach()) + self.queries.weight[: chosen.shape[1]]
        memory = torch.cat([visual, others], 1)
        padding = torch.cat([torch.zeros(b, n, dtype=torch.bool, device=visual.device), others_mask], 1)
        out = self.norm(self.decoder(q, memory, memory_key_padding_mask=padding))
        refer = (self.refer(out) * sentence[:, None]).sum(-1) / out.shape[-1] ** 0.5 + self.refer_bias
        return {
            "boxes": (reference + self.box(out)).sigmoid(),
            "objectness": self.objectness(out).squeeze(-1),
            "refer": refer,
            "identity": F.normalize(self.identity(out), dim=-1),
            "token_objectness": token_logits,
        }


def cell_boxes(grid: tuple[int, int], device: torch.device) -> torch.Tensor:
    """(H*W, 4) anchor box of each grid cell, normalised cx, cy, w, h (row-major, like flattened tokens)."""
    h, w = grid
    ys, xs = torch.meshgrid((torch.arange(h, device=device) + 0.5) / h, (torch.arange(w, device=device) + 0.5) / w,
                            indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten(), torch.full_like(xs.flatten(), 1 / w),
                        torch.full_like(ys.flatten(), 1 / h)], -1)


def centre_cells(boxes: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """(G,) index of the grid cell holding each (G, 4) cx, cy, w, h box's centre."""
    h, w = grid
    col = (boxes[:, 0] * w).long().clamp(0, w - 1)
    row = (boxes[:, 1] * h).long().clamp(0, h - 1)
    return row * w + col
