"""ViewSAM: a frozen SAM2 with view-conditioned cross-modal semantics, answering box prompts.

Built on the real ``sam2`` modules: the Hiera image encoder + FPN neck and SAM2's prompt encoder and
mask decoder, all frozen (Meta's weights, or crmot's synthetic pretraining for ``nano``). Trainable:
view conditioning (camera token + condition encoder; FiLM on SAM2's three levels, on the box cells
and on the words; and/or view tokens), the text projection, the candidate decoder and the referring
head.

Like SAM2, ViewSAM answers prompts: each box prompt (stage-1 tracklet boxes at inference) gets a
mask from SAM2's decoder, an objectness, an identity embedding that agrees across views and time,
and, for every expression, the probability that the expression refers to it. The expression-free
part (:meth:`encode`, :meth:`describe`) runs once per frame, whatever the number of expressions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from crmot.errors import ConfigError
from crmot.models import sam2 as sam2_models
from crmot.models.viewsam.conditioning import VIEW_CONDITIONING, FiLM, ViewCondition, image_statistics
from crmot.models.viewsam.grounding import Grounding
from crmot.models.viewsam.heads import CandidateDecoder, Prompts
from crmot.models.viewsam.text import build_text_encoder

#: Mask logit of a prompt whose mask was not decoded (sigmoid ~ 2e-9).
NO_MASK_LOGIT = -20.0


@dataclass(frozen=True)
class Size:
    sam2: str  # SAM2 size (crmot.models.sam2.SIZES)
    image_size: int
    width: int  # candidate decoder and text width
    layers: int
    feedforward: int


#: ``nano`` is for CPU runs on the synthetic world; the others are SAM2's own sizes at its native 1024 px.
SIZES = {
    "nano": Size("nano", 256, 128, 2, 512),
    "tiny": Size("tiny", 1024, 256, 3, 1024),
    "small": Size("small", 1024, 256, 3, 1024),
    "base_plus": Size("base_plus", 1024, 256, 3, 1024),
    "large": Size("large", 1024, 256, 3, 1024),
}


@dataclass
class ImageFeatures:
    """What SAM2's frozen image encoder makes of B frames: the FPN levels [hr0, hr1, top] and the top
    level's position encoding. They depend on the pixels alone, so they can be computed ahead of the
    step that uses them (``data.encode_in_workers``: in a DataLoader worker, ``crmot.training.clips``)."""

    levels: list[torch.Tensor]
    pos: torch.Tensor

    def to(self, device: torch.device) -> ImageFeatures:
        return ImageFeatures([x.to(device) for x in self.levels], self.pos.to(device))


@dataclass
class Encoded:
    """Expression-free features of B frames (each of one view): the input images, SAM2 levels
    (view-FiLMed), the top level's position encoding, the view condition and view tokens (None where
    the configuration has none)."""

    images: torch.Tensor  # (B, 3, S, S)
    levels: list[torch.Tensor]  # [hr0, hr1, top], each (B, C, H, W)
    pos: torch.Tensor  # (B, C, h, w)
    condition: torch.Tensor | None  # (B, D)
    view_tokens: torch.Tensor | None  # (B, K, D)


@dataclass
class Text:
    words: torch.Tensor  # (E, L, D)
    mask: torch.Tensor  # (E, L) True for real tokens


class ViewSAM(nn.Module):
    def __init__(self, size: str = "nano", view_conditioning: str = "both", text_encoder: str = "minilm",
                 sam2_checkpoint: str | None = None, text_checkpoint: str | None = None,
                 allow_random_init: bool = False, max_views: int = 16) -> None:
        super().__init__()
        if size not in SIZES:
            raise ConfigError(f"size must be one of {sorted(SIZES)}, not {size!r}")
        if view_conditioning not in VIEW_CONDITIONING:
            raise ConfigError(f"view_conditioning must be one of {VIEW_CONDITIONING}, not {view_conditioning!r}")
        self.size = SIZES[size]
        self.view_conditioning = view_conditioning
        checkpoint = sam2_models.resolve_checkpoint(self.size.sam2, sam2_checkpoint, allow_random_init,
                                                    "model.sam2_checkpoint")
        self.backbone = sam2_models.backbone_name(self.size.sam2, checkpoint)
        self.sam = sam2_models.build_model(self.size.sam2, checkpoint, self.size.image_size)
        self.sam.requires_grad_(False)
        self.sam.eval()
        feature_dim, width = self.sam.hidden_dim, self.size.width
        self.text, text_dim = build_text_encoder(text_encoder, width, text_checkpoint)
        self.text_kind = text_encoder
        #: ids of the tokens of the training expressions (None: every word counts); set by training and
        #: kept in the checkpoint
        self.vocabulary: frozenset[int] | None = None
        self.text_proj = nn.Sequential(nn.Linear(text_dim, width), nn.LayerNorm(width))
        self.text_adapter = nn.TransformerEncoderLayer(width, 4, 2 * width, dropout=0.0, batch_first=True,
                                                       norm_first=True)
        hr0 = self.sam.sam_mask_decoder.conv_s0.out_channels
        film = view_conditioning in ("film", "both")
        self.decoder = CandidateDecoder(width, feature_dim, hr0, self.size.layers, self.size.feedforward, film=film)
        self.grounding = Grounding(width, self.decoder.appearance.cells)
        self.no_view = view_conditioning == "none"
        if not self.no_view:
            self.condition = ViewCondition(feature_dim, width, max_views)
        if film:
            channels = (hr0, self.sam.sam_mask_decoder.conv_s1.out_channels, feature_dim)
            self.film = nn.ModuleList(FiLM(width, c) for c in channels)
            self.text_film = FiLM(width, width, channels_last=True)

    @property
    def name(self) -> str:
        return f"viewsam-{self.size_name}({self.backbone}, {self.text_kind})"

    @property
    def size_name(self) -> str:
        return next(k for k, v in SIZES.items() if v == self.size)

    def train(self, mode: bool = True) -> ViewSAM:
        super().train(mode)
        self.sam.eval()  # frozen: SAM2's own dropout / drop-path stay off
        return self

    # ------------------------------------------------------------------ expression-free
    def image_features(self, images: torch.Tensor) -> ImageFeatures:
        """SAM2's frozen image encoder on (B, 3, S, S) normalised frames."""
        with torch.no_grad():
            out = self.sam.forward_image(images)
        return ImageFeatures(list(out["backbone_fpn"]), out["vision_pos_enc"][-1])

    def encode(self, images: torch.Tensor, views: torch.Tensor, features: ImageFeatures | None = None) -> Encoded:
        """(B, 3, S, S) normalised frames and their (B,) 0-based camera indices; ``features``, the
        frames' :meth:`image_features` where they were computed already."""
        features = self.image_features(images) if features is None else features
        levels, pos = list(features.levels), features.pos
        condition = view_tokens = None
        if not self.no_view:
            condition, view_tokens = self.condition(levels[-1], image_statistics(images), views)
            if self.view_conditioning in ("film", "both"):
                levels = [film(x, condition) for film, x in zip(self.film, levels)]
            if self.view_conditioning == "film":
                view_tokens = None
        return Encoded(images, levels, pos, condition, view_tokens)

    def describe(self, encoded: Encoded, prompts: Prompts, trained_masks: torch.Tensor | None = None
                 ) -> dict[str, torch.Tensor]:
        """Per prompt: mask logits (B, N, 4s, 4s) from SAM2's decoder, then, reading the box and that
        mask, objectness (B, N), identity (B, N, 128) and parts (B, N, cells, D). The masks the heads
        read carry no gradient; in training, those ``trained_masks`` (B, N) selects are decoded with
        one, for the mask loss (SAM2's decoder runs once per prompt: a few suffice to train FiLM), and
        the rest without."""
        asked = ~prompts.padding
        trained = torch.zeros_like(asked) if trained_masks is None else trained_masks & asked
        with torch.no_grad():
            masks = self.segment(encoded, prompts.boxes, asked & ~trained)
        if trained.any():
            masks = torch.where(trained[..., None, None], self.segment(encoded, prompts.boxes, trained), masks)
        top = encoded.levels[-1]
        visual = (top + encoded.pos).flatten(2).transpose(1, 2)
        out = self.decoder(visual, encoded.view_tokens, encoded.levels[0], encoded.images, masks.detach().sigmoid(),
                           prompts, encoded.condition)
        return out | {"masks": masks}

    def segment(self, encoded: Encoded, boxes: torch.Tensor, select: torch.Tensor) -> torch.Tensor:
        """SAM2's mask decoder prompted with (B, N, 4) normalised xyxy boxes, for the ``select``ed
        ones: (B, N, 4s, 4s) logits, ``NO_MASK_LOGIT`` where not asked (padding)."""
        b, n = boxes.shape[:2]
        top = encoded.levels[-1]
        side = 4 * top.shape[-1]
        out = torch.full((b, n, side, side), NO_MASK_LOGIT, dtype=top.dtype, device=top.device)
        image, prompt = select.nonzero(as_tuple=True)
        if not len(image):
            return out
        corners = (boxes[image, prompt].detach().clamp(0, 1) * self.size.image_size).view(-1, 2, 2)
        labels = torch.tensor([2, 3], device=boxes.device).expand(len(image), 2)  # SAM's box-corner labels
        sparse, dense = self.sam.sam_prompt_encoder(points=(corners, labels), boxes=None, masks=None)
        masks, _, _, _ = self.sam.sam_mask_decoder(
            image_embeddings=top[image], image_pe=self.sam.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=False,
            repeat_image=False, high_res_features=[h[image] for h in encoded.levels[:2]])
        out[image, prompt] = masks[:, 0].to(out.dtype)
        return out

    # ------------------------------------------------------------------ expressions
    def encode_text(self, sentences: list[str]) -> Text:
        """The words of ``sentences`` in context; those outside the training vocabulary are read as
        context but left out of the referring head's AND: a word no training expression had was never
        grounded, and its untrained match would favour some candidates over others at random."""
        tokens, mask = self.text.tokens(list(sentences))
        words = self.text_adapter(self.text_proj(tokens.float()), src_key_padding_mask=~mask)
        return Text(words, mask & self.known_words(sentences, mask))

    def learn_vocabulary(self, sentences: list[str]) -> None:
        """Record the tokens of the training expressions (see :meth:`encode_text`)."""
        ids = self.text.token_ids(list(sentences))
        self.vocabulary = None if ids is None else frozenset(i for row in ids for i in row)

    def known_words(self, sentences: list[str], mask: torch.Tensor) -> torch.Tensor:
        """(E, L) True for tokens of the training vocabulary (all True when none is recorded)."""
        ids = self.text.token_ids(list(sentences)) if self.vocabulary else None
        if ids is None:
            return torch.ones_like(mask)
        known = torch.zeros_like(mask)
        for e, row in enumerate(ids):
            known[e, : len(row)] = torch.tensor([i in self.vocabulary for i in row[: mask.shape[1]]], dtype=torch.bool)
        return known

    def refer(self, encoded: Encoded, parts: torch.Tensor, text: Text) -> torch.Tensor:
        """(B, E, N) log-probability that expression e refers to prompt n of image b: the words as
        this image's view sees them (FiLM) grounded in the candidate's cells."""
        words = text.words[None].expand(len(parts), -1, -1, -1)
        if self.view_conditioning in ("film", "both"):
            words = self.text_film(words, encoded.condition)
        return self.grounding(parts, words, text.mask)

    def forward(self, images: torch.Tensor, views: torch.Tensor, prompts: Prompts, sentences: list[str],
                trained_masks: torch.Tensor | None = None, features: ImageFeatures | None = None
                ) -> dict[str, torch.Tensor]:
        """Everything for B frames, their box prompts and E expressions; ``refer`` is (B, E, N)."""
        encoded = self.encode(images, views, features)
        out = self.describe(encoded, prompts, trained_masks)
        out["refer"] = self.refer(encoded, out["parts"], self.encode_text(sentences))
        return out

    def parameter_table(self) -> dict[str, int]:
        """Frozen / trainable parameter counts and trainable as % of SAM2."""
        sam2 = sum(p.numel() for p in self.sam.parameters())
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        frozen = sum(p.numel() for p in self.parameters() if not p.requires_grad)
        parts = {name: sum(p.numel() for p in module.parameters() if p.requires_grad)
                 for name, module in self.named_children() if name != "sam"}
        return {"sam2": sam2, "frozen": frozen, "trainable": trainable,
                "trainable_percent": 100.0 * trainable / sam2, "parts": parts}


def normalised_prompts(boxes: list[torch.Tensor], device: torch.device | None = None) -> Prompts:
    """Prompts from per-image (N_i, 4) normalised xyxy boxes, padded to one length."""
    longest = max([len(b) for b in boxes] + [1])
    out = torch.zeros(len(boxes), longest, 4)
    out[..., 2:] = 1.0  # padding boxes: the whole image (never read)
    padding = torch.ones(len(boxes), longest, dtype=torch.bool)
    for i, b in enumerate(boxes):
        out[i, : len(b)] = b
        padding[i, : len(b)] = False
    return Prompts(out.to(device) if device else out, padding.to(device) if device else padding)

