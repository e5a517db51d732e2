"""Class-agnostic pretraining of SAM2 ``nano``: box prompt in, the object's mask out, as SAM was trained.

The image encoder, prompt encoder and mask decoder learn together from random weights on the masks
of the pretraining world (:mod:`crmot.pretraining.world`); each step takes a batch of frames and up
to ``objects`` of their objects, prompts the decoder with each object's box (moved a little, as a
detector's box would be) and scores the mask (focal + dice, SAM's 20:1) and the predicted IoU (MSE).
The result is saved in Meta's release format, ``{"model": state_dict}``, plus ``"crmot"``: the name
every output gives it (``sam2-nano-synthetic``), the recipe, the world and the final loss.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.ops import sigmoid_focal_loss

from crmot.data import masks as rle
from crmot.data.synthetic import load_preset
from crmot.io import atomic_write_json
from crmot.models import sam2 as sam2_models
from crmot.models.viewsam.inputs import normalise, to_pixels
from crmot.pretraining.world import read_mask_world, write_mask_world
from crmot.stages.manifest import code_fingerprint, versions
from crmot.training.clips import jittered_boxes
from crmot.training.schedule import warmup_cosine

log = logging.getLogger(__name__)
BACKBONE = "sam2-nano-synthetic"


@dataclass(frozen=True)
class Recipe:
    preset: str = "pretrain"  # the pretraining world's size (conf/data/<preset>.yaml)
    seed: int = 0  # the world's seed (offset from every numbered world) and the training seed
    steps: int = 1500
    batch_size: int = 8  # frames per step
    objects: int = 8  # objects per frame, at most
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup: int = 100
    image_size: int = 256
    box_jitter: float = 0.1  # prompt boxes move by up to this share of their size
    min_pixels: int = 12  # smaller objects are not prompted


class MaskFrames(Dataset):
    """A frame at the model's input size, its objects' prompt boxes (normalised xyxy) and masks."""

    def __init__(self, frames: list[tuple[Path, list[dict]]], recipe: Recipe) -> None:
        self.frames, self.recipe = frames, recipe

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        epoch, index = key
        rng = np.random.default_rng([self.recipe.seed, epoch, index])
        path, masks = self.frames[index]
        with Image.open(path) as image:
            picture = image.convert("RGB")
        flip = bool(rng.random() < 0.5)
        pixels = to_pixels(picture, self.recipe.image_size)
        side = self.recipe.image_size // 4
        large = [r for r, area in zip(masks, rle.area(masks)) if area >= self.recipe.min_pixels]
        chosen = rng.permutation(len(large))[: self.recipe.objects]
        boxes, targets = [], []
        for i in chosen.tolist():  # only the chosen masks are decoded
            mask = rle.decode(large[i])
            rows, cols = np.nonzero(mask)
            h, w = mask.shape
            box = np.array([[cols.min() / w, rows.min() / h, (cols.max() + 1) / w, (rows.max() + 1) / h]])
            boxes.append(jittered_boxes(box, rng, self.recipe.box_jitter)[0])
            small = Image.fromarray(mask.astype(np.uint8) * 255).resize((side, side), Image.BILINEAR)
            targets.append(np.asarray(small, np.float32) / 255.0)
        boxes = torch.tensor(np.array(boxes), dtype=torch.float32).reshape(-1, 4)
        targets = torch.tensor(np.array(targets), dtype=torch.float32).reshape(-1, side, side)
        if flip:
            pixels, targets = pixels.flip(-1), targets.flip(-1)
            boxes = torch.stack([1 - boxes[:, 2], boxes[:, 1], 1 - boxes[:, 0], boxes[:, 3]], 1)
        return {"image": normalise(pixels), "boxes": boxes, "masks": targets}


class Shuffled(torch.utils.data.Sampler):
    """``(epoch, index)`` keys, reshuffled each epoch from the seed, for as many steps as the recipe asks."""

    def __init__(self, size: int, recipe: Recipe) -> None:
        self.size, self.recipe = size, recipe

    def __iter__(self):
        needed, epoch = self.recipe.steps * self.recipe.batch_size, 0
        while needed > 0:
            order = np.random.default_rng([self.recipe.seed, epoch]).permutation(self.size)[:needed]
            yield from ((epoch, int(i)) for i in order)
            needed -= len(order)
            epoch += 1

    def __len__(self) -> int:
        return self.recipe.steps * self.recipe.batch_size


class MaskPretraining(L.LightningModule):
    def __init__(self, recipe: Recipe) -> None:
        super().__init__()
        self.recipe = recipe
        self.sam = sam2_models.build_model("nano", None, recipe.image_size)
        self.history: list[dict] = []  # mean loss and mask IoU of every 100 steps, kept with the checkpoint
        self._window: list[tuple[float, float]] = []

    def training_step(self, batch: list[dict], batch_idx: int) -> torch.Tensor:
        images = torch.stack([b["image"] for b in batch]).to(self.device)
        out = self.sam.forward_image(images)
        levels = list(out["backbone_fpn"])
        image = torch.cat([torch.full((len(b["boxes"]),), i) for i, b in enumerate(batch)]).to(self.device)
        boxes = torch.cat([b["boxes"] for b in batch]).to(self.device)
        targets = torch.cat([b["masks"] for b in batch]).to(self.device)
        if not len(image):
            return None
        corners = (boxes * self.recipe.image_size).view(-1, 2, 2)
        labels = torch.tensor([2, 3], device=self.device).expand(len(image), 2)  # SAM's box-corner labels
        sparse, dense = self.sam.sam_prompt_encoder(points=(corners, labels), boxes=None, masks=None)
        masks, iou, _, _ = self.sam.sam_mask_decoder(
            image_embeddings=levels[-1][image], image_pe=self.sam.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=False,
            repeat_image=False, high_res_features=[h[image] for h in levels[:2]])
        logits = masks[:, 0]
        focal = sigmoid_focal_loss(logits, targets, reduction="none").mean((1, 2))
        p = logits.sigmoid()
        dice = 1 - (2 * (p * targets).sum((1, 2)) + 1) / (p.sum((1, 2)) + targets.sum((1, 2)) + 1)
        with torch.no_grad():
            hard = (logits > 0).float()
            truth = (targets > 0.5).float()
            actual = (hard * truth).sum((1, 2)) / ((hard + truth).clamp(max=1).sum((1, 2))).clamp(min=1)
        loss = (20 * focal + dice).mean() + F.mse_loss(iou[:, 0], actual)
        self.log_dict({"pretrain/loss": loss.detach(), "pretrain/mask_iou": actual.mean()}, prog_bar=True,
                      batch_size=len(batch))
        self._window.append((float(loss.detach()), float(actual.mean())))
        if len(self._window) == 100:
            loss_mean, iou_mean = np.mean(self._window, 0)
            self.history.append({"step": self.global_step + 1, "loss": round(float(loss_mean), 4),
                                 "mask_iou": round(float(iou_mean), 4)})
            log.info("pretraining step %d: loss %.4f, mask IoU %.3f", self.global_step + 1, loss_mean, iou_mean)
            self._window = []
        return loss

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.sam.parameters(), lr=self.recipe.lr, weight_decay=self.recipe.weight_decay)
        return warmup_cosine(optimizer, self.recipe.warmup, self.recipe.steps)


def pretrain(out: Path, world: Path, recipe: Recipe, accelerator: str = "auto", num_workers: int = 1) -> dict:
    """Write (or reuse) the pretraining world, train SAM2 nano on it and save the checkpoint at ``out``."""
    started = time.perf_counter()
    summary_path = world / "world.json"
    if not summary_path.is_file():
        log.info("writing the pretraining world to %s (preset %s, seed %d)", world, recipe.preset, recipe.seed)
        write_mask_world(world, load_preset(recipe.preset), recipe.seed)
    frames = read_mask_world(world)
    L.seed_everything(recipe.seed, verbose=False)
    module = MaskPretraining(recipe)
    loader = DataLoader(MaskFrames(frames, recipe), batch_size=recipe.batch_size,
                        sampler=Shuffled(len(frames), recipe), num_workers=num_workers, collate_fn=list)
    trainer = L.Trainer(accelerator=accelerator, devices=1, max_steps=recipe.steps, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, gradient_clip_val=1.0)
    trainer.fit(module, loader)
    facts = {"backbone": BACKBONE, "recipe": asdict(recipe), "world": str(world),
             "world_summary": json.loads(summary_path.read_text()), "history": module.history,
             "seconds": round(time.perf_counter() - started, 1), "code": code_fingerprint(__name__), "versions": versions(),
             "device": str(trainer.strategy.root_device)}
    facts = json.loads(json.dumps(facts))  # plain types only: the checkpoint loads with weights_only
    state = {k: v.detach().cpu().contiguous() for k, v in module.sam.state_dict().items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_suffix(".tmp")
    torch.save({"model": state, "crmot": facts}, temporary)
    temporary.replace(out)
    atomic_write_json(out.with_suffix(".json"), facts)
    return facts
