"""Text encoders for ViewSAM: frozen MiniLM (default), frozen open_clip text tower, or a weight-free
trainable word encoder; all give (B, L, D) token features, then a trainable projection to the model
width that the view condition modulates (FiLM): the same sentence grounds differently per camera.
A frozen encoder's features of a sentence never change, so they are computed once and kept."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import torch
from torch import nn

from crmot.errors import ConfigError, MissingFileError

TEXT_ENCODERS = ("minilm", "clip", "word")


class WordEncoder(nn.Module):
    """Weight-free: lower-case words hashed into ``vocab`` buckets (CRC32, stable across runs), a
    learned embedding with positions and one transformer layer."""

    def __init__(self, dim: int = 256, vocab: int = 4096, max_length: int = 48) -> None:
        super().__init__()
        self.vocab, self.max_length, self.dim = vocab, max_length, dim
        self.embed = nn.Embedding(vocab + 1, dim, padding_idx=0)
        self.position = nn.Parameter(torch.zeros(max_length, dim))
        self.layer = nn.TransformerEncoderLayer(dim, 4, 2 * dim, dropout=0.0, batch_first=True)

    def tokenize(self, sentences: list[str]) -> torch.Tensor:
        ids = [[1 + zlib.crc32(w.encode()) % self.vocab for w in re.findall(r"[a-z]+", s.lower())][: self.max_length]
               for s in sentences]
        out = torch.zeros(len(ids), max(1, max(map(len, ids), default=1)), dtype=torch.long)
        for i, row in enumerate(ids):
            out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        return out

    def token_ids(self, sentences: list[str]) -> list[list[int]]:
        return [[i for i in row if i > 0] for row in self.tokenize(sentences).tolist()]

    def tokens(self, sentences: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        ids = self.tokenize(sentences).to(self.position.device)
        mask = ids > 0
        x = self.embed(ids) + self.position[: ids.shape[1]]
        return self.layer(x, src_key_padding_mask=~mask), mask


class CLIPTextEncoder(nn.Module):
    """Frozen open_clip text tower from a local checkpoint; its sentence embedding is one token."""

    def __init__(self, architecture: str = "ViT-B-32", checkpoint: str | None = None) -> None:
        super().__init__()
        import open_clip

        if not checkpoint or not Path(checkpoint).is_file():
            raise MissingFileError(f"open_clip checkpoint {checkpoint!r} not found (model.text_checkpoint)")
        self.model = open_clip.create_model(architecture, pretrained=checkpoint).eval()
        self.model.requires_grad_(False)
        self.tokenizer = open_clip.get_tokenizer(architecture)
        self.dim = self.model.text_projection.shape[1]

    @torch.no_grad()
    def tokens(self, sentences: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        device = next(self.model.parameters()).device
        features = self.model.encode_text(self.tokenizer(sentences).to(device))
        return features[:, None], torch.ones(len(sentences), 1, dtype=torch.bool, device=device)


class CachedTokens(nn.Module):
    """A frozen encoder whose token features are kept per sentence (training repeats its sentences)."""

    def __init__(self, encoder: nn.Module, limit: int = 100_000) -> None:
        super().__init__()
        self.encoder, self.limit = encoder, limit
        self.cache: dict[str, torch.Tensor] = {}
        self.ids: dict[str, list[int]] = {}

    def token_ids(self, sentences: list[str]) -> list[list[int]] | None:
        """Per sentence, the ids of its real tokens in the order of :meth:`tokens` (kept like the
        features); None for an encoder whose tokens are not words (open_clip gives one sentence token)."""
        if not hasattr(self.encoder, "token_ids"):
            return None
        new = [s for s in dict.fromkeys(sentences) if s not in self.ids]
        if new:
            if len(self.ids) + len(new) > self.limit:
                self.ids.clear()
            self.ids.update(zip(new, self.encoder.token_ids(new)))
        return [self.ids[s] for s in sentences]

    def tokens(self, sentences: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        new = [s for s in dict.fromkeys(sentences) if s not in self.cache]
        if new:
            if len(self.cache) + len(new) > self.limit:
                self.cache.clear()
            features, mask = self.encoder.tokens(new)
            for sentence, f, m in zip(new, features, mask):
                self.cache[sentence] = f[m].cpu()
        rows = [self.cache[s] for s in sentences]
        device = next(self.encoder.parameters()).device
        out = torch.zeros(len(rows), max(len(r) for r in rows), rows[0].shape[-1], device=device)
        mask = torch.zeros(out.shape[:2], dtype=torch.bool, device=device)
        for i, r in enumerate(rows):
            out[i, : len(r)] = r.to(device)
            mask[i, : len(r)] = True
        return out, mask


def build_text_encoder(kind: str, dim: int, checkpoint: str | None = None) -> tuple[nn.Module, int]:
    """The encoder and the width of its token features."""
    if kind == "minilm":
        from crmot.models.text import SentenceEncoder

        encoder = SentenceEncoder(checkpoint)
        return CachedTokens(encoder), encoder.dim
    if kind == "clip":
        encoder = CLIPTextEncoder(checkpoint=checkpoint)
        return CachedTokens(encoder), encoder.dim
    if kind == "word":
        return WordEncoder(dim), dim
    raise ConfigError(f"text_encoder must be one of {TEXT_ENCODERS}, not {kind!r}")
