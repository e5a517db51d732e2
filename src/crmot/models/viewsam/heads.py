"""Candidate decoder and its heads: object queries attend to the (view-conditioned) frame tokens,
the expression's tokens and the view tokens; each query gives a box, an objectness, a referring
logit and an identity embedding, the last two also from the box's appearance in the detail maps.
Masks come from SAM2's own mask decoder, prompted by the boxes."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from crmot.models.viewsam.appearance import BoxAppearance
from crmot.models.viewsam.boxes import box_cxcywh_to_xyxy

IDENTITY_DIM = 128


@dataclass
class Denoise:
    """Denoising queries of one instant (DN-DETR): noised label boxes (B, G, 4) normalised cx, cy, w, h,
    ``padding`` (B, G) True where a view has fewer than G labels. Their outputs are supervised against
    the labels they came from, without matching; the matching queries cannot attend to them."""

    boxes: torch.Tensor
    padding: torch.Tensor


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

    def __init__(self, dim: int = 256, queries: int = 16, layers: int = 6, feedforward: int = 2048, heads: int = 8,
                 detail_channels: int = 64) -> None:
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
        self.appearance = BoxAppearance(detail_channels, dim)
        self.refer = nn.Linear(dim, dim)
        self.refer_bias = nn.Parameter(torch.zeros(()))
        self.identity = MLP([dim, dim, IDENTITY_DIM])
        self.known = nn.Parameter(torch.zeros(dim))  # marks a denoising query (DN-DETR's label embedding)

    def forward(self, visual: torch.Tensor, grid: tuple[int, int], others: torch.Tensor, others_mask: torch.Tensor,
                sentence: torch.Tensor, detail: list[torch.Tensor], denoise: Denoise | None = None) -> dict[str, torch.Tensor]:
        """``visual`` (B, H*W, D) frame tokens of an H x W ``grid``; ``others`` (B, M, D) expression
        and view tokens with ``others_mask`` (B, M) True where padding; ``sentence`` (B, D) pooled
        expression vector; ``detail`` the high-resolution maps (B, C_i, H_i, W_i). Returns per query:
        boxes (B, Q, 4) as normalised cx, cy, w, h, objectness and refer logits (B, Q), identity
        (B, Q, 128) unit vectors; per token the centre logits ``token_objectness`` (B, H*W) that chose
        the queries; and, given ``denoise`` (training), the same heads for its queries under "denoise"."""
        b, n, _ = visual.shape
        token_logits = self.token_objectness(visual).squeeze(-1)
        chosen = token_logits.detach().topk(min(self.num_queries, n), dim=1).indices  # (B, Q)
        picked = torch.gather(visual, 1, chosen[..., None].expand(-1, -1, visual.shape[-1]))
        anchors = cell_boxes(grid, visual.device)[chosen]  # (B, Q, 4)
        reference = torch.logit(anchors, eps=1e-4) + self.token_box(picked)
        q = self.query_proj(picked.detach()) + self.queries.weight[: chosen.shape[1]]
        memory = torch.cat([visual, others], 1)
        padding = torch.cat([torch.zeros(b, n, dtype=torch.bool, device=visual.device), others_mask], 1)
        if denoise is None:
            return self.heads(self.norm(self.decoder(q, memory, memory_key_padding_mask=padding)), reference,
                              detail, sentence) | {"token_objectness": token_logits}
        q_known, reference_known = self.known_queries(visual, grid, denoise.boxes)
        queries = torch.cat([q, q_known], 1)
        total, matching = queries.shape[1], q.shape[1]
        blind = torch.zeros(total, total, dtype=torch.bool, device=visual.device)
        blind[:matching, matching:] = True  # the matching queries never see the answers
        query_padding = torch.cat([torch.zeros(b, matching, dtype=torch.bool, device=visual.device), denoise.padding], 1)
        out = self.norm(self.decoder(queries, memory, tgt_mask=blind, tgt_key_padding_mask=query_padding,
                                     memory_key_padding_mask=padding))
        main = self.heads(out[:, :matching], reference, detail, sentence)
        known = self.heads(out[:, matching:], reference_known, detail, sentence)
        return main | {"token_objectness": token_logits, "denoise": known}

    def known_queries(self, visual: torch.Tensor, grid: tuple[int, int], boxes: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """Queries for known (noised label) boxes: the token under each box centre, marked as known,
        anchored at the noised box itself."""
        cells = centre_cells(boxes.flatten(0, 1), grid).view(boxes.shape[:2])
        picked = torch.gather(visual, 1, cells[..., None].expand(-1, -1, visual.shape[-1]))
        return self.query_proj(picked.detach()) + self.known, torch.logit(boxes.clamp(0, 1), eps=1e-4)

    def heads(self, out: torch.Tensor, reference: torch.Tensor, detail: list[torch.Tensor], sentence: torch.Tensor
              ) -> dict[str, torch.Tensor]:
        """Box (an offset from the reference), objectness, referring and identity of decoded queries."""
        boxes = (reference + self.box(out)).sigmoid()
        seen = out + self.appearance(detail, box_cxcywh_to_xyxy(boxes).clamp(0, 1))
        refer = (self.refer(seen) * sentence[:, None]).sum(-1) / out.shape[-1] ** 0.5 + self.refer_bias
        return {
            "boxes": boxes,
            "objectness": self.objectness(out).squeeze(-1),
            "refer": refer,
            "identity": F.normalize(self.identity(seen), dim=-1),
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
