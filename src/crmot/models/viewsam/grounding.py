"""Referring head: does a candidate fit an expression, word by word.

Every word looks for the cells of the candidate's box it speaks of, scores whether they agree with
it, and carries a learned weight (a colour word matters, "A man wearing" does not). Where a word
looks depends on the word in its sentence and on the cells' places in the box, never on what the
cells show: "red" next to "coat" looks at the upper body whatever colour is there, so red trousers
do not answer for a red coat. The candidate fits when every weighted word
agrees: a noisy AND, ``log p = sum_w g_w log sigmoid(m_w)``, so one wrong garment sinks the match
however well the others fit. Each word is learned from every sentence it appears in, which is what
lets a model trained on a few scenes ground combinations of colours it has never seen together.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: log p never reaches 0 exactly: log(1 - p) must stay finite.
MAX_LOG_P = -1e-6


class Grounding(nn.Module):
    def __init__(self, dim: int, cells: int) -> None:
        super().__init__()
        self.query = nn.Linear(dim, dim)
        self.key = nn.Parameter(torch.randn(cells, dim) * dim ** -0.5)  # where each cell lies in the box
        self.word_value, self.cell_value = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.gate = nn.Linear(dim, 1)
        nn.init.constant_(self.gate.bias, -2.0)  # words start at weight ~0.12: p starts near 0.3, not 0
        self.bias = nn.Parameter(torch.zeros(()))
        self.scale = dim ** -0.5

    def forward(self, parts: torch.Tensor, words: torch.Tensor, word_mask: torch.Tensor) -> torch.Tensor:
        """``parts`` (B, N, K, D) candidate cells, ``words`` (B, E, L, D) the expressions' words as seen in
        each image's view, ``word_mask`` (E, L) True for real tokens -> (B, E, N) log-probabilities."""
        where = torch.einsum("beld,kd->belk", self.query(words), self.key) * self.scale  # (B, E, L, K)
        attention = where[:, :, None].expand(-1, -1, parts.shape[1], -1, -1)
        agreement = torch.einsum("beld,bnkd->benlk", self.word_value(words), self.cell_value(parts)) * self.scale
        match = (attention.softmax(-1) * agreement).sum(-1) + self.bias  # (B, E, N, L)
        weight = torch.sigmoid(self.gate(words)).squeeze(-1) * word_mask  # (B, E, L)
        return (weight[:, :, None] * F.logsigmoid(match)).sum(-1).clamp(max=MAX_LOG_P)


def log_not(log_p: torch.Tensor) -> torch.Tensor:
    """log(1 - p) from log p, exact near p = 1 (log p is at most ``MAX_LOG_P``)."""
    return torch.log(-torch.expm1(log_p))


def refer_loss(log_p: torch.Tensor, referred: torch.Tensor) -> torch.Tensor:
    """Summed binary cross-entropy of log-probabilities against 0/1 targets."""
    return -(referred * log_p + (1 - referred) * log_not(log_p)).sum()
