"""ViewSAM: a frozen SAM2 with view-conditioned cross-modal semantics (DESIGN §4, stage 3).

Built on the real ``sam2`` modules: the Hiera image encoder + FPN neck (frozen), the prompt encoder
and mask decoder (frozen; prompted with candidate boxes), the memory encoder and memory attention
(frozen; they carry the previous frame of the same view into the current one). Trainable: view
conditioning (camera token + condition encoder, FiLM on the three feature levels and/or view tokens),
the text projection modulated by the view, a spatial prior (a light conv stem added to the top
feature map, whose first map also feeds the box appearance), the candidate decoder and its heads.

Memory-drift recalibration: at inference, frames after the first are predicted with and without
memory; when the two disagree on what is referred (box IoU of the referred candidates below
``drift_iou``), the memory-free prediction is kept, as memory can carry a wrong object along.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from crmot.models import sam2 as sam2_models
from crmot.models.viewsam.boxes import box_cxcywh_to_xyxy, paired_iou
from crmot.models.viewsam.conditioning import VIEW_CONDITIONING, FiLM, ViewCondition
from crmot.models.viewsam.heads import CandidateDecoder, Denoise
from crmot.models.viewsam.spatial import SpatialPrior
from crmot.models.viewsam.text import build_text_encoder


@dataclass(frozen=True)
class Size:
    sam2: str  # sam2 config size
    image_size: int
    layers: int
    feedforward: int
    queries: int


#: ``nano`` is for tests and the CPU demo; the others match SAM2's own sizes at its native 1024 px.
SIZES = {
    "nano": Size("tiny", 128, 2, 512, 12),
    "tiny": Size("tiny", 1024, 6, 1536, 24),
    "small": Size("small", 1024, 6, 1536, 24),
    "base_plus": Size("base_plus", 1024, 6, 1536, 24),
    "large": Size("large", 1024, 6, 1536, 24),
}


#: Mask logit of a candidate whose mask was not decoded (sigmoid ~ 2e-9: absent from memory).
NO_MASK_LOGIT = -20.0


SelectMasks = Callable[[int, dict[str, torch.Tensor]], torch.Tensor]  # (instant, candidates) -> (E*V, Q) bool


@dataclass
class Encoded:
    """Expression-free features of (V, T) frames: SAM2 levels (view-FiLMed), position encoding, the
    view condition and view tokens (None where the configuration has none)."""

    levels: list[torch.Tensor]  # [hr0, hr1, top], each (V, T, C, H, W)
    detail: torch.Tensor  # (V, T, C, S/2, S/2): the spatial prior's first map, for box appearance
    pos: torch.Tensor  # (V, T, C, h, w)
    condition: torch.Tensor | None  # (V, T, D)
    view_tokens: torch.Tensor | None  # (V, T, K, D)


class ViewSAM(nn.Module):
    def __init__(self, size: str = "nano", view_conditioning: str = "both", text_encoder: str = "minilm",
                 sam2_checkpoint: str | None = None, text_checkpoint: str | None = None,
                 allow_random_init: bool = False, max_views: int = 16, drift_iou: float = 0.3) -> None:
        super().__init__()
        if size not in SIZES:
            raise ValueError(f"size must be one of {sorted(SIZES)}, not {size!r}")
        if view_conditioning not in VIEW_CONDITIONING:
            raise ValueError(f"view_conditioning must be one of {VIEW_CONDITIONING}, not {view_conditioning!r}")
        self.size = SIZES[size]
        self.view_conditioning = view_conditioning
        self.drift_iou = drift_iou
        self.sam = sam2_models.build_model(self.size.sam2, sam2_checkpoint, self.size.image_size, allow_random_init)
        self.sam.requires_grad_(False)
        self.sam.eval()
        self.random_init = sam2_checkpoint is None
        dim = self.sam.hidden_dim
        self.text, text_dim = build_text_encoder(text_encoder, dim, text_checkpoint)
        self.text_kind = text_encoder
        self.text_proj = nn.Sequential(nn.Linear(text_dim, dim), nn.LayerNorm(dim))
        self.spatial = SpatialPrior(dim, stride=self.size.image_size // self.sam.sam_image_embedding_size)
        hr0 = self.sam.sam_mask_decoder.conv_s0.out_channels
        self.decoder = CandidateDecoder(dim, self.size.queries, self.size.layers, self.size.feedforward,
                                        detail_channels=hr0 + self.spatial.detail_channels)
        self.no_view = view_conditioning == "none"
        if not self.no_view:
            self.condition = ViewCondition(dim, max_views)
        if view_conditioning in ("film", "both"):
            channels = (hr0, self.sam.sam_mask_decoder.conv_s1.out_channels, dim)
            self.film = nn.ModuleList(FiLM(dim, c) for c in channels)
            self.text_film = FiLM(dim, dim, channels_last=True)

    @property
    def name(self) -> str:
        return f"viewsam(sam2-{self.size.sam2}{'-random-init' if self.random_init else ''}, {self.text_kind})"

    def train(self, mode: bool = True) -> "ViewSAM":
        super().train(mode)
        self.sam.eval()  # frozen: SAM2's own dropout / drop-path stay off
        return self

    # ------------------------------------------------------------------ parts
    @torch.no_grad()
    def encode_images(self, images: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Frozen SAM2 image encoder: [hr0, hr1, top] features and the top level's position encoding."""
        out = self.sam.forward_image(images)
        return list(out["backbone_fpn"]), out["vision_pos_enc"][-1]

    def encode_text(self, sentences: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        tokens, mask = self.text.tokens(sentences)
        return self.text_proj(tokens.float()), mask

    def segment(self, top: torch.Tensor, high_res: list[torch.Tensor], boxes: torch.Tensor,
                select: torch.Tensor | None = None) -> torch.Tensor:
        """SAM2's mask decoder prompted with candidate boxes: (B, Q, 4) normalised boxes ->
        (B, Q, 4s, 4s) mask logits (s = top feature size). With ``select`` (B, Q) bool, only those
        candidates are decoded (the rest get a large negative logit): inference needs few masks."""
        b, q = boxes.shape[:2]
        if select is None:
            image = torch.arange(b, device=boxes.device).repeat_interleave(q)
            query = torch.arange(q, device=boxes.device).repeat(b)
        else:
            image, query = select.nonzero(as_tuple=True)
        if not len(image):
            side = 4 * top.shape[-1]
            return torch.full((b, q, side, side), NO_MASK_LOGIT, dtype=top.dtype, device=top.device)
        size = self.size.image_size
        prompts = (box_cxcywh_to_xyxy(boxes[image, query].detach()).clamp(0, 1) * size).view(-1, 2, 2)
        labels = torch.tensor([2, 3], device=boxes.device).expand(len(image), 2)  # SAM's box-corner labels
        sparse, dense = self.sam.sam_prompt_encoder(points=(prompts, labels), boxes=None, masks=None)
        masks, _, _, _ = self.sam.sam_mask_decoder(
            image_embeddings=top[image], image_pe=self.sam.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=False,
            repeat_image=False, high_res_features=[h[image] for h in high_res])
        if select is None:
            return masks.view(b, q, *masks.shape[-2:])
        out = torch.full((b, q, *masks.shape[-2:]), NO_MASK_LOGIT, dtype=masks.dtype, device=masks.device)
        out[image, query] = masks[:, 0]
        return out

    def with_memory(self, top: torch.Tensor, pos: torch.Tensor, previous_top: torch.Tensor,
                    previous_mask: torch.Tensor) -> torch.Tensor:
        """SAM2 memory attention of this frame on the previous frame's memory (features + mask)."""
        b, c, h, w = top.shape
        size = self.size.image_size
        mask = F.interpolate(previous_mask, size=(size, size), mode="bilinear", align_corners=False)
        memory = self.sam.memory_encoder(previous_top, mask, skip_mask_sigmoid=True)
        features = memory["vision_features"].flatten(2).permute(2, 0, 1)
        memory_pos = memory["vision_pos_enc"][-1].flatten(2).permute(2, 0, 1) + self.sam.maskmem_tpos_enc[self.sam.num_maskmem - 2]
        out = self.sam.memory_attention(curr=[top.flatten(2).permute(2, 0, 1)], curr_pos=[pos.flatten(2).permute(2, 0, 1)],
                                        memory=features, memory_pos=memory_pos, num_obj_ptr_tokens=0)
        return out.permute(1, 2, 0).view(b, c, h, w)

    # ------------------------------------------------------------------ forward
    def forward(self, images: torch.Tensor, views: torch.Tensor, sentences: list[str],
                denoise: list[Denoise] | None = None, select_masks: SelectMasks | None = None
                ) -> list[dict[str, torch.Tensor]]:
        """``images`` (V, T, 3, S, S) of one clip (T frames of V views), ``views`` (V,) camera indices,
        E expressions. Returns T dicts of candidates for the E x V (expression-major) pairs at that
        instant: boxes (E*V, Q, 4), objectness, refer (E*V, Q), identity (E*V, Q, 128), masks
        (E*V, Q, 4s, 4s); after the first instant, with SAM2 memory of the previous frame (and, in
        eval, drift recalibration). Training passes ``denoise`` queries (V views) for each instant;
        their heads come back under "denoise". ``select_masks``: see :meth:`decode`."""
        outputs, _ = self.decode(self.encode(images, views), list(sentences), denoise=denoise, select_masks=select_masks)
        return outputs

    def encode(self, images: torch.Tensor, views: torch.Tensor) -> Encoded:
        """The expression-free part: frozen SAM2 features of (V, T) frames, view-conditioned."""
        v, t = images.shape[:2]
        levels, pos = self.encode_images(images.flatten(0, 1))
        detail, prior = self.spatial(images.flatten(0, 1))
        levels[-1] = levels[-1] + prior
        condition = view_tokens = None
        if not self.no_view:
            condition, view_tokens = self.condition(levels[-1], views.repeat_interleave(t))
            if self.view_conditioning in ("film", "both"):
                levels = [film(x, condition) for film, x in zip(self.film, levels)]
            if self.view_conditioning == "film":
                view_tokens = None
        shape = lambda x: None if x is None else x.view(v, t, *x.shape[1:])  # noqa: E731
        return Encoded([shape(x) for x in levels], shape(detail), shape(pos), shape(condition), shape(view_tokens))

    def decode(self, encoded: Encoded, sentences: list[str], state: tuple | None = None,
               select_masks: SelectMasks | None = None, denoise: list[Denoise] | None = None
               ) -> tuple[list[dict[str, torch.Tensor]], tuple]:
        """Candidates for E expressions on encoded (V, T) frames: T dicts with batch E*V
        (expression-major). ``state`` is the memory left by the previous call (same E and V), so a
        long video is decoded window by window; the returned state continues it. With
        ``select_masks(step, candidates)`` -> (E*V, Q) bool, only the chosen candidates get a mask
        (SAM2's mask decoder runs once per candidate): inference asks for the confident ones,
        training for those matched to a label; the others' masks stay empty, in the memory too."""
        e, (v, t) = len(sentences), encoded.pos.shape[:2]
        words, word_mask = self.encode_text(sentences)  # (E, L, D)
        words, word_mask = words.repeat_interleave(v, 0), word_mask.repeat_interleave(v, 0)
        per_expression = lambda x: x.repeat(e, *([1] * (x.dim() - 1)))  # noqa: E731  (V, ...) -> (E*V, ...)
        outputs, previous = [], state
        for step in range(t):
            levels = [per_expression(x[:, step]) for x in encoded.levels]
            pos = per_expression(encoded.pos[:, step])
            text = words
            if self.view_conditioning in ("film", "both"):
                text = self.text_film(words, per_expression(encoded.condition[:, step]))
            view_tokens = None if encoded.view_tokens is None else per_expression(encoded.view_tokens[:, step])
            detail = [levels[0], per_expression(encoded.detail[:, step])]
            known = None if denoise is None else Denoise(per_expression(denoise[step].boxes), per_expression(denoise[step].padding))
            top, args = levels[-1], (pos, text, word_mask, view_tokens, detail, known)
            if previous is not None:
                remembered = self.with_memory(top, pos, *previous)
                out = self.candidates(remembered, *args)
                if not self.training:
                    out, remembered = self.recalibrate(out, self.candidates(top, *args), remembered, top)
                top = remembered
            else:
                out = self.candidates(top, *args)
            select = None if select_masks is None else select_masks(step, out)
            out["masks"] = self.segment(top, levels[:2], out["boxes"], select)
            previous = (levels[-1], self.memory_mask(out))
            outputs.append(out)
        return outputs, previous

    def candidates(self, top, pos, text, text_mask, view_tokens, detail, denoise=None) -> dict[str, torch.Tensor]:
        """Candidates of one instant (no masks yet): the decoder reads frame tokens, expression words
        and view tokens; its referring and identity heads also the detail maps inside each box."""
        visual = (top + pos).flatten(2).transpose(1, 2)
        parts, masks = [text], [~text_mask]
        if view_tokens is not None:
            parts.append(view_tokens)
            masks.append(torch.zeros(view_tokens.shape[:2], dtype=torch.bool, device=top.device))
        weights = text_mask.float()
        sentence = (text * weights[..., None]).sum(1) / weights.sum(1, keepdim=True).clamp(min=1)
        return self.decoder(visual, tuple(top.shape[-2:]), torch.cat(parts, 1), torch.cat(masks, 1), sentence, detail,
                            denoise)

    @staticmethod
    def memory_mask(out: dict[str, torch.Tensor]) -> torch.Tensor:
        """What the next frame remembers: the union of confident candidates' masks (V, 1, 4s, 4s)."""
        weight = out["objectness"].sigmoid()[..., None, None]
        return (out["masks"].sigmoid() * weight).amax(dim=1, keepdim=True)

    def recalibrate(self, with_memory: dict, without: dict, remembered: torch.Tensor, top: torch.Tensor
                    ) -> tuple[dict, torch.Tensor]:
        """Keep the memory-based prediction (and its features) unless its referred object moved away
        from the memory-free one's; there, memory carried a wrong object along and is dropped."""
        rows = torch.arange(len(with_memory["boxes"]), device=with_memory["boxes"].device)
        a = box_cxcywh_to_xyxy(with_memory["boxes"][rows, with_memory["refer"].argmax(1)])
        b = box_cxcywh_to_xyxy(without["boxes"][rows, without["refer"].argmax(1)])
        keep = paired_iou(a, b) >= self.drift_iou
        pick = lambda x, y: torch.where(keep.view(-1, *([1] * (x.dim() - 1))), x, y)  # noqa: E731
        return {k: pick(v, without[k]) for k, v in with_memory.items()}, pick(remembered, top)

    def parameter_table(self) -> dict[str, int]:
        """Frozen / trainable parameter counts and trainable as % of SAM2."""
        sam2 = sum(p.numel() for p in self.sam.parameters())
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        frozen = sum(p.numel() for p in self.parameters() if not p.requires_grad)
        parts = {name: sum(p.numel() for p in module.parameters() if p.requires_grad)
                 for name, module in self.named_children() if name != "sam"}
        return {"sam2": sam2, "frozen": frozen, "trainable": trainable,
                "trainable_percent": 100.0 * trainable / sam2, "parts": parts}
