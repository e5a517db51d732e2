"""ViewSAM losses (DESIGN §4): per-frame Hungarian matching of candidates to label boxes; focal
objectness, L1 + GIoU boxes, focal + dice masks, BCE referring, InfoNCE identity across time within a
view and across views at the same instant; focal on the frame tokens' centre scores that choose
the queries (the cells holding a label box's centre are positive); and, for the denoising queries
(DN-DETR), the box and referring terms against the label each one came from, without matching."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torchvision.ops import generalized_box_iou, sigmoid_focal_loss

from crmot.models.viewsam import SelectMasks, box_cxcywh_to_xyxy
from crmot.models.viewsam.heads import centre_cells


@dataclass
class LossWeights:
    objectness: float = 2.0
    proposal: float = 1.0
    l1: float = 5.0
    giou: float = 2.0
    mask_focal: float = 5.0
    dice: float = 1.0
    refer: float = 2.0
    identity: float = 0.5
    denoise: float = 1.0
    temperature: float = 0.1


@torch.no_grad()
def match(boxes: torch.Tensor, objectness: torch.Tensor, targets: torch.Tensor, w: LossWeights) -> tuple[torch.Tensor, torch.Tensor]:
    """Hungarian matching of Q candidates (Q, 4) to G label boxes (G, 4), both cx, cy, w, h in [0, 1]."""
    if not len(targets):
        return torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    targets = targets.to(boxes.device)  # labels may still be on the CPU (benchmarks, plain loops)
    cost = (w.l1 * torch.cdist(boxes.float(), targets.float(), p=1)
            - w.giou * generalized_box_iou(box_cxcywh_to_xyxy(boxes.float()), box_cxcywh_to_xyxy(targets.float()))
            - w.objectness * objectness.float().sigmoid()[:, None])
    rows, cols = linear_sum_assignment(cost.cpu().numpy())
    return torch.as_tensor(rows, dtype=torch.long), torch.as_tensor(cols, dtype=torch.long)


class LabelMatches:
    """``select_masks`` for ViewSAM in training, and the matching the loss then reads: at each
    instant, the candidates :func:`match` pairs with a label box get a mask (the only masks the loss
    reads), and ``pairs`` keeps (step, row) -> (candidates, labels) so :func:`clip_loss` does not
    match the same tensors again."""

    def __init__(self, targets: list[list[dict]], w: LossWeights) -> None:
        self.targets, self.w = targets, w
        self.pairs: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}

    def __call__(self, step: int, out: dict[str, torch.Tensor]) -> torch.Tensor:
        chosen = torch.zeros(out["objectness"].shape, dtype=torch.bool, device=out["objectness"].device)
        views = len(self.targets[step])
        for i in range(len(chosen)):
            q, g = match(out["boxes"][i].detach(), out["objectness"][i].detach(), self.targets[step][i % views]["boxes"],
                         self.w)
            self.pairs[(step, i)] = (q, g)
            chosen[i, q.to(chosen.device)] = True
        return chosen


def mean_clip_loss(clips: list[dict], decode: Callable[[dict, LabelMatches], list[dict[str, torch.Tensor]]],
                   w: LossWeights) -> dict[str, torch.Tensor]:
    """Each term of :func:`clip_loss` averaged over ``clips``; ``decode(clip, select_masks)`` runs
    the model, which decodes masks for the label-matched candidates only (:class:`LabelMatches`),
    and the loss reuses that matching."""
    totals: dict[str, torch.Tensor] = {}
    for clip in clips:
        matches = LabelMatches(clip["targets"], w)
        for k, v in clip_loss(decode(clip, matches), clip["targets"], w, matches.pairs).items():
            totals[k] = totals.get(k, 0.0) + v / len(clips)
    return totals


def square_grid(tokens: int) -> tuple[int, int]:
    """SAM2's input is square, so its top feature grid is too."""
    side = round(tokens ** 0.5)
    if side * side != tokens:
        raise ValueError(f"{tokens} frame tokens do not form a square grid")
    return side, side


def dice_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    p = logits.sigmoid().flatten(1)
    t = targets.flatten(1)
    return (1 - (2 * (p * t).sum(1) + 1) / (p.sum(1) + t.sum(1) + 1)).mean()


def clip_loss(outputs: list[dict[str, torch.Tensor]], targets: list[list[dict]], w: LossWeights,
              pairs: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] | None = None) -> dict[str, torch.Tensor]:
    """``outputs[t]`` holds (E*V, Q, ...) candidates (expression-major); ``targets[t][v]`` holds boxes
    (G, 4), ids (G,), referred (E, G) and masks (G, h, w) or None. ``pairs``: the matching already
    made while decoding (:class:`LabelMatches`); without it, candidates are matched here. Returns each
    term and their weighted ``loss``."""
    device = outputs[0]["boxes"].device
    zero = torch.zeros((), device=device)
    terms = {k: zero for k in ("objectness", "proposal", "l1", "giou", "mask_focal", "dice", "refer", "identity", "denoise")}
    images = matched = known = 0
    embeddings, identities = [], []
    for t, out in enumerate(outputs):
        views = len(targets[t])
        for i in range(len(out["boxes"])):
            e, v = divmod(i, views)
            target = targets[t][v]
            referred = target["referred"][e].to(device)
            boxes, objectness = out["boxes"][i].float(), out["objectness"][i].float()
            q, g = pairs[(t, i)] if pairs is not None else match(boxes, objectness, target["boxes"], w)
            q, g = q.to(device), g.to(device)
            labels = torch.zeros_like(objectness)
            labels[q] = 1.0
            terms["objectness"] = terms["objectness"] + sigmoid_focal_loss(objectness, labels, reduction="sum")
            cells = out["token_objectness"][i].float()
            centres = torch.zeros_like(cells)
            centres[centre_cells(target["boxes"].to(device), square_grid(len(cells)))] = 1.0
            terms["proposal"] = terms["proposal"] + sigmoid_focal_loss(cells, centres, reduction="sum")
            images += 1
            if "denoise" in out and len(target["boxes"]):
                count = len(target["boxes"])
                terms["denoise"] = terms["denoise"] + denoise_loss(
                    {k: x[i, :count] for k, x in out["denoise"].items()}, target["boxes"], referred, w)
                embeddings.append(out["denoise"]["identity"][i, :count].float())
                identities.append(target["ids"].to(device))
                known += count
            if not len(q):
                continue
            matched += len(q)
            gt_boxes = target["boxes"].to(device)[g]
            terms["l1"] = terms["l1"] + F.l1_loss(boxes[q], gt_boxes, reduction="sum")
            terms["giou"] = terms["giou"] + (1 - torch.diag(generalized_box_iou(
                box_cxcywh_to_xyxy(boxes[q]), box_cxcywh_to_xyxy(gt_boxes)))).sum()
            terms["refer"] = terms["refer"] + F.binary_cross_entropy_with_logits(
                out["refer"][i][q].float(), referred[g].float(), reduction="sum")
            if target["masks"] is not None:
                logits = out["masks"][i][q].float()
                gt_masks = target["masks"].to(device)[g].float()
                terms["mask_focal"] = terms["mask_focal"] + sigmoid_focal_loss(logits, gt_masks, reduction="mean") * len(q)
                terms["dice"] = terms["dice"] + dice_loss(logits, gt_masks) * len(q)
            embeddings.append(out["identity"][i][q].float())
            identities.append(target["ids"].to(device)[g])
    norm = max(matched, 1)
    divisor = {"objectness": max(images, 1), "proposal": max(images, 1), "denoise": max(known, 1)}
    terms = {k: v / divisor.get(k, norm) for k, v in terms.items()}
    if embeddings:
        terms["identity"] = identity_nce(torch.cat(embeddings), torch.cat(identities), w.temperature)
    terms["loss"] = sum(getattr(w, k) * v for k, v in terms.items())
    return terms


def denoise_loss(known: dict[str, torch.Tensor], gt_boxes: torch.Tensor, referred: torch.Tensor, w: LossWeights
                 ) -> torch.Tensor:
    """Summed box and referring loss of one view's denoising queries against their own labels."""
    boxes = known["boxes"].float()
    gt_boxes = gt_boxes.to(boxes.device)
    giou = torch.diag(generalized_box_iou(box_cxcywh_to_xyxy(boxes), box_cxcywh_to_xyxy(gt_boxes)))
    refer = F.binary_cross_entropy_with_logits(known["refer"].float(), referred.float(), reduction="sum")
    return w.l1 * F.l1_loss(boxes, gt_boxes, reduction="sum") + w.giou * (1 - giou).sum() + w.refer * refer


def identity_nce(embeddings: torch.Tensor, ids: torch.Tensor, temperature: float) -> torch.Tensor:
    """Supervised InfoNCE: each embedding against all others; positives = same identity (other
    frames of its view, other views at the same instant, and any other frame)."""
    similarity = embeddings @ embeddings.T / temperature
    eye = torch.eye(len(ids), dtype=torch.bool, device=ids.device)
    positive = (ids[:, None] == ids[None, :]) & ~eye
    has = positive.any(1)
    if not has.any():
        return embeddings.sum() * 0.0
    logits = similarity.masked_fill(eye, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    loss = -(log_prob.masked_fill(~positive, 0.0).sum(1) / positive.sum(1).clamp(min=1))
    return loss[has].mean()
