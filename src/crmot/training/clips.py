"""Training samples: short clips (T frames of all V views of one scene) with E of the scene's
expressions: the clip's own expression and E - 1 others of the same scene, so that the referring head
sees the same people answer different expressions differently (one expression per clip lets it learn
who is often referred instead of what the words say).

Images come from the data root, labels from ``label_root`` (stage-2 pseudo labels, or the dataset's
GT for the ``oracle`` baseline), through the one CRTrack loader. Every random choice of a sample
(augmentation) is drawn from ``(seed, epoch, index)``, and the sampler's position is part of the
checkpoint: a resumed run sees exactly the samples the uninterrupted run would have seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler

from crmot.data import masks as rle
from crmot.data.crtrack import CRTrackFormatError, Scene, list_scenes, load_scene
from crmot.data.frames import read_frame
from crmot.models.viewsam.heads import Denoise
from crmot.models.viewsam.inputs import normalise, to_pixels

#: A label box cut by an augmentation crop is kept if this share of it remains.
MIN_KEPT_AREA = 0.3
#: Denoising queries start from label boxes moved by up to this share of their size, and scaled by
#: up to 1 +- it (DN-DETR's box noise scale).
BOX_NOISE = 0.4


@dataclass(frozen=True)
class ClipRef:
    scene: int  # index into the dataset's scenes
    expression: int
    start: int  # first frame, 1-based


class ClipDataset(Dataset):
    def __init__(self, root: str | Path, label_root: str | Path, split: str = "train", frames: int = 2,
                 stride: int = 4, image_size: int = 128, augment: bool = True, seed: int = 0,
                 expressions: int = 1) -> None:
        self.frames, self.image_size, self.augment, self.seed = frames, image_size, augment, seed
        self.expressions = expressions
        self.scenes: list[tuple[Scene, Scene]] = []
        self.refs: list[ClipRef] = []
        for name in list_scenes(label_root, split):
            labels = load_scene(label_root, split, name)
            images = load_scene(root, split, name)
            if len(labels.views) != len(images.views):
                raise CRTrackFormatError(Path(label_root), f"scene {name}: {len(labels.views)} labelled views, "
                                         f"{len(images.views)} image views in {root}")
            if any(v.gt is None for v in labels.views) or not labels.expressions:
                raise CRTrackFormatError(Path(label_root), f"scene {name}: needs gt.txt in every view and expressions")
            index = len(self.scenes)
            self.scenes.append((images, labels))
            starts = range(1, max(labels.num_frames - frames + 1, 1) + 1, stride)
            self.refs += [ClipRef(index, e, s) for e in range(len(labels.expressions)) for s in starts]
        if not self.refs:
            raise CRTrackFormatError(Path(label_root), f"no training clip in split {split!r}")
        self._masks: dict[tuple[int, int], list[dict] | None] = {}

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        epoch, index = key
        ref = self.refs[index]
        rng = np.random.default_rng([self.seed, epoch, index])
        images, labels = self.scenes[ref.scene]
        others = np.delete(np.arange(len(labels.expressions)), ref.expression)
        chosen = [ref.expression, *rng.permutation(others)[: self.expressions - 1].tolist()]
        expressions = [labels.expressions[e] for e in chosen]
        frames = [min(ref.start + t, labels.num_frames) for t in range(self.frames)]
        clip = torch.zeros(len(labels.views), self.frames, 3, self.image_size, self.image_size)
        targets: list[list[dict]] = [[] for _ in frames]
        for v, (image_view, label_view) in enumerate(zip(images.views, labels.views)):
            width, height = image_view.seqinfo.width, image_view.seqinfo.height
            crop, flip, gain = self._augmentation(rng, width, height)
            masks = self._view_masks(ref.scene, v, label_view)
            for t, frame in enumerate(frames):
                pixels = to_pixels(Image.fromarray(read_frame(image_view, frame)).crop(crop), self.image_size)
                pixels = (pixels * gain).clamp(0, 1)
                clip[v, t] = normalise(pixels.flip(-1) if flip else pixels)
                rows = np.flatnonzero(label_view.gt.frames == frame)
                targets[t].append(self._targets(label_view.gt, rows, masks, crop, flip, [e.ids for e in expressions], rng))
        return {"images": clip, "views": torch.arange(len(labels.views)), "sentences": [e.sentence for e in expressions],
                "targets": targets, "names": [e.name for e in expressions]}

    def _augmentation(self, rng: np.random.Generator, width: int, height: int):
        """Per view, the same for all frames of the clip: crop (scale 0.8-1), flip, colour gain."""
        if not self.augment:
            return (0, 0, width, height), False, torch.ones(3, 1, 1)
        scale = rng.uniform(0.8, 1.0)
        w, h = int(width * scale), int(height * scale)
        x0, y0 = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
        gain = torch.from_numpy(rng.uniform(0.8, 1.2, 3).astype(np.float32)).view(3, 1, 1) * float(rng.uniform(0.85, 1.15))
        return (x0, y0, x0 + w, y0 + h), bool(rng.random() < 0.5), gain

    def _view_masks(self, scene: int, view: int, label_view) -> list[dict] | None:
        key = (scene, view)
        if key not in self._masks:
            path = label_view.masks_path
            self._masks[key] = rle.read_jsonl(path, len(label_view.gt)) if path.exists() else None
        return self._masks[key]

    def _targets(self, gt, rows: np.ndarray, masks, crop, flip: bool, referred_ids: list, rng: np.random.Generator) -> dict:
        """One view's labels at one instant; ``referred`` (E, G): which boxes each expression refers to."""
        x0, y0, x1, y1 = crop
        w, h = x1 - x0, y1 - y0
        boxes = gt.xyxy[rows] - np.array([x0, y0, x0, y0])
        clipped = np.clip(boxes, 0, [w, h, w, h])
        area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
        kept_area = np.prod(np.clip(clipped[:, 2:] - clipped[:, :2], 0, None), axis=1)
        keep = kept_area >= MIN_KEPT_AREA * np.maximum(area, 1e-9)
        rows, clipped = rows[keep], clipped[keep]
        if flip:
            clipped[:, [0, 2]] = w - clipped[:, [2, 0]]
        cxcywh = np.column_stack([(clipped[:, 0] + clipped[:, 2]) / 2 / w, (clipped[:, 1] + clipped[:, 3]) / 2 / h,
                                  (clipped[:, 2] - clipped[:, 0]) / w, (clipped[:, 3] - clipped[:, 1]) / h])
        mask_tensor = None
        if masks is not None:
            side = self.image_size // 4
            mask_tensor = torch.zeros(len(rows), side, side)
            for n, row in enumerate(rows.tolist()):
                m = Image.fromarray(rle.decode(masks[row]).astype(np.uint8) * 255).crop(crop).resize((side, side), Image.BILINEAR)
                mask_tensor[n] = torch.from_numpy(np.asarray(m, np.float32) / 255.0)
            if flip:
                mask_tensor = mask_tensor.flip(-1)
        ids = gt.ids[rows]
        return {"boxes": torch.from_numpy(cxcywh).float(), "ids": torch.from_numpy(ids).long(),
                "referred": torch.from_numpy(np.stack([np.isin(ids, r) for r in referred_ids])), "masks": mask_tensor,
                "noised": torch.from_numpy(noised_boxes(cxcywh, rng)).float()}


def noised_boxes(cxcywh: np.ndarray, rng: np.random.Generator, scale: float = BOX_NOISE) -> np.ndarray:
    """(G, 4) normalised cx, cy, w, h label boxes, each moved and resized at random (the denoising
    queries' starting boxes)."""
    size = cxcywh[:, 2:]
    shift = rng.uniform(-scale / 2, scale / 2, size.shape) * size
    resize = 1 + rng.uniform(-scale, scale, size.shape)
    return np.clip(np.column_stack([cxcywh[:, :2] + shift, size * resize]), 1e-3, 1.0)


def denoise_queries(targets: list[list[dict]], device: torch.device) -> list[Denoise] | None:
    """Each instant's noised label boxes, padded across views to one length (None without labels)."""
    longest = max(len(view["noised"]) for instant in targets for view in instant)
    if not longest:
        return None
    queries = []
    for instant in targets:
        boxes = torch.full((len(instant), longest, 4), 0.5)
        padding = torch.ones(len(instant), longest, dtype=torch.bool)
        for v, view in enumerate(instant):
            boxes[v, : len(view["noised"])] = view["noised"]
            padding[v, : len(view["noised"])] = False
        queries.append(Denoise(boxes.to(device), padding.to(device)))
    return queries


class ClipSampler(Sampler):
    """Shuffled per epoch from ``(seed, epoch)``, sharded over ranks, resumable at any position."""

    def __init__(self, size: int, seed: int = 0, shuffle: bool = True, rank: int = 0, world_size: int = 1) -> None:
        self.size, self.seed, self.shuffle, self.rank, self.world_size = size, seed, shuffle, rank, world_size
        self.epoch = 0
        self.start = 0  # samples of this epoch already consumed (set on resume)

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.start = 0
        self.epoch = epoch

    def order(self) -> list[int]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.size) if self.shuffle else np.arange(self.size)
        per_rank = len(order) // self.world_size  # equal shares keep DDP ranks in step
        return order[self.rank * per_rank:(self.rank + 1) * per_rank].tolist()

    def __iter__(self):
        order = self.order()
        start, self.start = self.start, 0
        return iter([(self.epoch, i) for i in order[start:]])

    def __len__(self) -> int:
        return len(self.order())


class ResumableLoader(DataLoader):
    """A DataLoader whose position Lightning saves in checkpoints (``state_dict`` / ``load_state_dict``)."""

    def __init__(self, dataset: ClipDataset, sampler: ClipSampler, batch_size: int = 1, num_workers: int = 0) -> None:
        super().__init__(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                         collate_fn=list, persistent_workers=False)
        self.consumed = 0

    def __iter__(self):
        self.consumed = self.sampler.start
        for batch in super().__iter__():
            self.consumed += len(batch)
            yield batch

    def state_dict(self) -> dict:
        return {"epoch": self.sampler.epoch, "consumed": self.consumed}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.epoch = state["epoch"]
        self.sampler.start = state["consumed"]
