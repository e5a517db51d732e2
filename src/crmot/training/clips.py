"""Training samples: short clips (T frames of all V views of one scene), the box prompts of each
frame, and up to E of the scene's expressions, each with the prompts it refers to.

The prompts are the label boxes moved and resized a little (stage-1 boxes, which prompt ViewSAM at
inference, are never exactly the labels) plus a few boxes on no object, which teach the objectness
to turn down a wrong prompt. Every expression of the clip's scene is asked about every prompt, so
one clip teaches each word against every person in view.

Images come from the data root, labels from ``label_root`` (stage-2 pseudo labels; the dataset's
own ground truth for the upper-bound baseline), through the one CRTrack loader; the data root's
labels are never read. Every random choice of a sample is drawn from ``(seed, epoch, index)``, and
the sampler's position is part of the checkpoint: a resumed run sees exactly the samples the
uninterrupted run would have seen.

Given an ``image_encoder`` (the model's frozen SAM2 image encoder), a sample carries its frames'
features too. In a DataLoader worker on a CPU this runs the frozen half of the next step while the
trainable half of this one runs in the main process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler

from crmot.data import masks as rle
from crmot.data.crtrack import CRTrackFormatError, Scene, list_scenes, load_scene
from crmot.data.frames import read_frame
from crmot.data.white_balance import sample_view_gain
from crmot.models.viewsam.inputs import normalise, to_pixels

#: A label box cut by an augmentation crop is kept if this share of it remains.
MIN_KEPT_AREA = 0.3
#: Prompts are label boxes moved by up to this share of their size and resized by up to 1 +- it.
PROMPT_JITTER = 0.15
#: A box drawn as a negative prompt overlaps no label box by more than this IoU.
NEGATIVE_IOU = 0.3
#: Label prompts per image whose mask is trained (the mask loss needs few; SAM2's decoder is costly).
TRAINED_MASKS = 2


@dataclass(frozen=True)
class ClipRef:
    scene: int  # index into the dataset's scenes
    start: int  # first frame, 1-based


class ClipDataset(Dataset):
    def __init__(self, root: str | Path, label_root: str | Path, split: str = "train", frames: int = 2,
                 frame_gap: int = 4, stride: int = 4, image_size: int = 256, augment: bool = True, seed: int = 0,
                 expressions: int = 16, negatives: int = 2, image_encoder: Callable | None = None) -> None:
        self.frames, self.frame_gap, self.image_size = frames, frame_gap, image_size
        self.image_encoder = image_encoder
        self.augment, self.seed, self.expressions, self.negatives = augment, seed, expressions, negatives
        self.scenes: list[tuple[Scene, Scene]] = []
        self.refs: list[ClipRef] = []
        for name in list_scenes(label_root, split):
            labels = load_scene(label_root, split, name)
            images = load_scene(root, split, name, labels=False)
            if len(labels.views) != len(images.views):
                raise CRTrackFormatError(Path(label_root), f"scene {name}: {len(labels.views)} labelled views, "
                                         f"{len(images.views)} image views in {root}")
            if any(v.gt is None for v in labels.views) or not labels.expressions:
                raise CRTrackFormatError(Path(label_root), f"scene {name}: needs gt.txt in every view and expressions")
            index = len(self.scenes)
            self.scenes.append((images, labels))
            span = (frames - 1) * frame_gap
            self.refs += [ClipRef(index, s) for s in range(1, max(labels.num_frames - span, 1) + 1, stride)]
        if not self.refs:
            raise CRTrackFormatError(Path(label_root), f"no training clip in split {split!r}")
        self._masks: dict[tuple[int, int], list[dict] | None] = {}
        self._gains: dict[tuple[int, int], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.refs)

    def sentences(self) -> list[str]:
        """Every expression of every training scene (the words the model can learn)."""
        return [e.sentence for _, labels in self.scenes for e in labels.expressions]

    def __getitem__(self, key: tuple[int, int]) -> dict:
        epoch, index = key
        ref = self.refs[index]
        rng = np.random.default_rng([self.seed, epoch, index])
        images, labels = self.scenes[ref.scene]
        order = rng.permutation(len(labels.expressions))[: self.expressions]
        expressions = [labels.expressions[e] for e in sorted(order.tolist())]
        frames = [min(ref.start + t * self.frame_gap, labels.num_frames) for t in range(self.frames)]
        pixels, views, targets = [], [], []
        for v, (image_view, label_view) in enumerate(zip(images.views, labels.views)):
            width, height = image_view.seqinfo.width, image_view.seqinfo.height
            crop, flip, gain = self._augmentation(rng, width, height)
            masks = self._view_masks(ref.scene, v, label_view)
            white = self._view_gain(ref.scene, v, image_view)
            for frame in frames:
                picture = to_pixels(Image.fromarray(read_frame(image_view, frame)).crop(crop), self.image_size, white)
                picture = (picture * gain).clamp(0, 1)
                pixels.append(normalise(picture.flip(-1) if flip else picture))
                views.append(v)
                rows = np.flatnonzero(label_view.gt.frames == frame)
                targets.append(self._targets(label_view.gt, rows, masks, crop, flip, [e.ids for e in expressions], rng))
        sample = {"images": torch.stack(pixels), "views": torch.tensor(views), "targets": targets,
                  "sentences": [e.sentence for e in expressions], "names": [e.name for e in expressions]}
        if self.image_encoder is not None:
            sample["features"] = self.image_encoder(sample["images"])
        return sample

    def _augmentation(self, rng: np.random.Generator, width: int, height: int):
        """Per view, the same for all frames of the clip: crop (scale 0.8-1), flip, colour gain."""
        if not self.augment:
            return (0, 0, width, height), False, torch.ones(3, 1, 1)
        scale = rng.uniform(0.8, 1.0)
        w, h = int(width * scale), int(height * scale)
        x0, y0 = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
        gain = torch.from_numpy(rng.uniform(0.9, 1.1, 3).astype(np.float32)).view(3, 1, 1) * float(rng.uniform(0.85, 1.15))
        return (x0, y0, x0 + w, y0 + h), bool(rng.random() < 0.5), gain

    def _view_gain(self, scene: int, view: int, image_view) -> np.ndarray:
        """The view's white balance, as inference applies it (estimated once per view)."""
        if (scene, view) not in self._gains:
            self._gains[(scene, view)] = sample_view_gain(image_view)
        return self._gains[(scene, view)]

    def _view_masks(self, scene: int, view: int, label_view) -> list[dict] | None:
        key = (scene, view)
        if key not in self._masks:
            path = label_view.masks_path
            self._masks[key] = rle.read_jsonl(path, len(label_view.gt)) if path.exists() else None
        return self._masks[key]

    def _targets(self, gt, rows: np.ndarray, masks, crop, flip: bool, referred_ids: list, rng: np.random.Generator) -> dict:
        """One image's labels: label boxes (G) as normalised xyxy, their ids and ``referred`` (E, G);
        the prompts (P = G + negatives) with their ``objectness`` target, ``owner`` label and whether
        their mask is trained (``trained_mask``); ``masks``, the label masks of the trained prompts
        (K, m, m) in prompt order (only those are decoded: the loss reads no other), or None."""
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
        labels = clipped / np.array([w, h, w, h])
        ids = gt.ids[rows]
        negatives = negative_boxes(labels, self.negatives, rng)
        prompts = np.concatenate([jittered_boxes(labels, rng), negatives])
        trained_mask = torch.zeros(len(prompts), dtype=torch.bool)
        mask_tensor = None
        if masks is not None:
            trained_mask[rng.permutation(len(labels))[:TRAINED_MASKS]] = True
            mask_tensor = self._label_masks(masks, rows[trained_mask[: len(rows)].numpy()], crop, flip)
        return {"boxes": torch.from_numpy(labels).float(), "ids": torch.from_numpy(ids).long(),
                "referred": torch.from_numpy(_referred(ids, referred_ids)),
                "masks": mask_tensor, "prompts": torch.from_numpy(prompts).float(),
                "objectness": torch.cat([torch.ones(len(labels)), torch.zeros(len(negatives))]),
                "owner": torch.cat([torch.arange(len(labels)), torch.full((len(negatives),), -1)]),
                "trained_mask": trained_mask}

    def _label_masks(self, masks: list[dict], rows: np.ndarray, crop, flip: bool) -> torch.Tensor:
        """(K, m, m) float masks of label ``rows``, cropped, flipped and resized as the image (m = S / 4)."""
        side = self.image_size // 4
        out = torch.zeros(len(rows), side, side)
        for n, row in enumerate(rows.tolist()):
            m = Image.fromarray(rle.decode(masks[row]).astype(np.uint8) * 255).crop(crop).resize((side, side), Image.BILINEAR)
            out[n] = torch.from_numpy(np.asarray(m, np.float32) / 255.0)
        return out.flip(-1) if flip else out


def jittered_boxes(xyxy: np.ndarray, rng: np.random.Generator, scale: float = PROMPT_JITTER) -> np.ndarray:
    """(G, 4) normalised x0, y0, x1, y1 boxes, each moved and resized at random, kept in the image."""
    size = xyxy[:, 2:] - xyxy[:, :2]
    centre = (xyxy[:, :2] + xyxy[:, 2:]) / 2 + rng.uniform(-scale / 2, scale / 2, size.shape) * size
    size = size * (1 + rng.uniform(-scale, scale, size.shape))
    return np.clip(np.concatenate([centre - size / 2, centre + size / 2], 1), 0.0, 1.0)


def negative_boxes(labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``count`` person-shaped boxes that overlap no label box by more than ``NEGATIVE_IOU``:
    half shifted copies of a label (a prompt beside a person), half anywhere."""
    out = []
    for k in range(count):
        if k % 2 == 0 and len(labels):
            box = labels[rng.integers(len(labels))]
            size = box[2:] - box[:2]
            shift = rng.choice([-1, 1], 2) * rng.uniform(0.6, 1.2, 2) * size
            candidate = np.concatenate([box[:2] + shift, box[2:] + shift])
        else:
            w = rng.uniform(0.03, 0.15)
            h = min(w * rng.uniform(1.5, 4.0) * 1.6, 0.9)
            x, y = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
            candidate = np.array([x, y, x + w, y + h])
        candidate = np.clip(candidate, 0.0, 1.0)
        apart = not len(labels) or box_iou(candidate[None], labels).max() <= NEGATIVE_IOU
        if np.all(candidate[2:] - candidate[:2] > 0.005) and apart:
            out.append(candidate)
    return np.asarray(out, np.float64).reshape(-1, 4)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A, B) IoU of xyxy boxes."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    area = lambda x: np.prod(np.clip(x[:, 2:] - x[:, :2], 0, None), axis=-1)  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None] - inter, 1e-12)


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
        # persistent workers keep their dataset's caches (masks, white balance) from epoch to epoch
        super().__init__(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                         collate_fn=list, persistent_workers=num_workers > 0)
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


def _referred(ids: np.ndarray, referred_ids: list) -> np.ndarray:
    """(expressions, labels) bool: which label boxes each expression refers to; a frame of a view
    may hold no label box at all (nobody there, or the pseudo labels missed everyone)."""
    referred = np.zeros((len(referred_ids), len(ids)), bool)
    if not len(ids) or not referred_ids:
        return referred
    expression = np.repeat(np.arange(len(referred_ids)), [len(wanted) for wanted in referred_ids])
    wanted = np.concatenate([np.asarray(w, dtype=ids.dtype) for w in referred_ids])
    hit = wanted[:, None] == ids[None, :]  # (referents, labels)
    np.logical_or.at(referred, expression, hit)
    return referred
