"""ViewSAM: a frozen SAM2 with view-conditioned cross-modal semantics (DESIGN §4, stage 3).

Built on the real ``sam2`` modules: the Hiera image encoder + FPN neck (frozen), the prompt encoder
and mask decoder (frozen; prompted with candidate boxes), the memory encoder and memory attention
(frozen; they carry the previous frame of the same view into the current one). Trainable: view
conditioning (camera token + condition encoder, FiLM on the three feature levels and/or view tokens),
the text projection modulated by the view, the candidate decoder and its heads.

Memory-drift recalibration: at inference, frames after the first are predicted with and without
memory; when the two disagree on what is referred (box IoU of the referred candidates below
``drift_iou``), the memory-free prediction is kept, as memory can carry a wrong object along.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from crmot.models import sam2 as sam2_models
from crmot.models.viewsam.conditioning import VIEW_CONDITIONING, FiLM, ViewCondition
from crmot.models.viewsam.heads import CandidateDecoder
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


def box_cxcywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


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
        self.decoder = CandidateDecoder(dim, self.size.queries, self.size.layers, self.size.feedforward)
        self.no_view = view_conditioning == "none"
        if not self.no_view:
            self.condition = ViewCondition(dim, max_views)
        if view_conditioning in ("film", "both"):
            channels = (self.sam.sam_mask_decoder.conv_s0.out_channels, self.sam.sam_mask_decoder.conv_s1.out_channels, dim)
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

    def segment(self, top: torch.Tensor, high_res: list[torch.Tensor], boxes: torch.Tensor) -> torch.Tensor:
        """SAM2's mask decoder prompted with each candidate box: (B, Q, 4) normalised boxes ->
        (B, Q, 4s, 4s) mask logits (s = top feature size)."""
        b, q = boxes.shape[:2]
        size = self.size.image_size
        prompts = (box_cxcywh_to_xyxy(boxes.detach()).clamp(0, 1) * size).reshape(b * q, 2, 2)
        labels = torch.tensor([2, 3], device=boxes.device).expand(b * q, 2)  # SAM's box-corner labels
        sparse, dense = self.sam.sam_prompt_encoder(points=(prompts, labels), boxes=None, masks=None)
        repeat = lambda x: x.repeat_interleave(q, dim=0)  # noqa: E731
        masks, _, _, _ = self.sam.sam_mask_decoder(
            image_embeddings=repeat(top), image_pe=self.sam.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=False,
            repeat_image=False, high_res_features=[repeat(h) for h in high_res])
        return masks.view(b, q, *masks.shape[-2:])

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
    def forward(self, images: torch.Tensor, views: torch.Tensor, sentence: str) -> list[dict[str, torch.Tensor]]:
        """``images`` (V, T, 3, S, S) of one clip (T frames of V views), ``views`` (V,) camera indices,
        one expression. Returns T dicts of candidates for the V views at that instant: boxes
        (V, Q, 4), objectness, refer (V, Q), identity (V, Q, 128), masks (V, Q, 4s, 4s); after the
        first instant, with SAM2 memory of the previous frame (and, in eval, drift recalibration)."""
        v, t = images.shape[:2]
        levels, pos = self.encode_images(images.flatten(0, 1))
        cameras = views.repeat_interleave(t)
        text, text_mask = self.encode_text([sentence])
        text, text_mask = text.expand(v * t, -1, -1), text_mask.expand(v * t, -1)
        view_tokens = None
        if not self.no_view:
            condition, view_tokens = self.condition(levels[-1], cameras)
            if self.view_conditioning in ("film", "both"):
                levels = [film(x, condition) for film, x in zip(self.film, levels)]
                text = self.text_film(text, condition)
            if self.view_conditioning == "film":
                view_tokens = None
        shape = lambda x: x.view(v, t, *x.shape[1:])  # noqa: E731
        levels, pos, text, text_mask = [shape(x) for x in levels], shape(pos), shape(text), shape(text_mask)
        view_tokens = shape(view_tokens) if view_tokens is not None else None
        outputs, previous = [], None
        for step in range(t):
            top = levels[-1][:, step]
            args = ([levels[0][:, step], levels[1][:, step]], pos[:, step], text[:, step], text_mask[:, step],
                    None if view_tokens is None else view_tokens[:, step])
            if previous is None:
                out = self.predict_frame(top, *args)
            else:
                out = self.predict_frame(self.with_memory(top, pos[:, step], *previous), *args)
                if not self.training:
                    out = self.recalibrate(out, self.predict_frame(top, *args))
            previous = (top, self.memory_mask(out))
            outputs.append(out)
        return outputs

    def predict_frame(self, top, high_res, pos, text, text_mask, view_tokens) -> dict[str, torch.Tensor]:
        visual = (top + pos).flatten(2).transpose(1, 2)
        parts, masks = [visual, text], [torch.zeros(visual.shape[:2], dtype=torch.bool, device=top.device), ~text_mask]
        if view_tokens is not None:
            parts.append(view_tokens)
            masks.append(torch.zeros(view_tokens.shape[:2], dtype=torch.bool, device=top.device))
        weights = text_mask.float()
        sentence = (text * weights[..., None]).sum(1) / weights.sum(1, keepdim=True).clamp(min=1)
        out = self.decoder(torch.cat(parts, 1), torch.cat(masks, 1), sentence)
        out["masks"] = self.segment(top, high_res, out["boxes"])
        return out

    @staticmethod
    def memory_mask(out: dict[str, torch.Tensor]) -> torch.Tensor:
        """What the next frame remembers: the union of confident candidates' masks (V, 1, 4s, 4s)."""
        weight = out["objectness"].sigmoid()[..., None, None]
        return (out["masks"].sigmoid() * weight).amax(dim=1, keepdim=True)

    def recalibrate(self, with_memory: dict, without: dict) -> dict:
        """Keep the memory-based prediction unless its referred object moved away from the memory-free one."""
        from torchvision.ops import box_iou

        keep = []
        for i in range(len(with_memory["boxes"])):
            a = with_memory["boxes"][i][with_memory["refer"][i].argmax()]
            b = without["boxes"][i][without["refer"][i].argmax()]
            keep.append(box_iou(box_cxcywh_to_xyxy(a[None]), box_cxcywh_to_xyxy(b[None]))[0, 0] >= self.drift_iou)
        keep = torch.stack(keep)
        return {k: torch.where(keep.view(-1, *([1] * (v.dim() - 1))), v, without[k]) for k, v in with_memory.items()}

    def parameter_table(self) -> dict[str, int]:
        """Frozen / trainable parameter counts and trainable as % of SAM2."""
        sam2 = sum(p.numel() for p in self.sam.parameters())
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        frozen = sum(p.numel() for p in self.parameters() if not p.requires_grad)
        parts = {name: sum(p.numel() for p in module.parameters() if p.requires_grad)
                 for name, module in self.named_children() if name != "sam"}
        return {"sam2": sam2, "frozen": frozen, "trainable": trainable,
                "trainable_percent": 100.0 * trainable / sam2, "parts": parts}
