"""ViewSAM over a whole scene, window by window: its answer for every stage-1 box of every view.

The stage-1 tracklets' boxes are ViewSAM's prompts, as detector boxes prompt SAM2. For a window of
frames of all views, the expression-free part (frozen SAM2, view conditioning, candidate decoder)
runs once; the referring head then scores every expression against every box, so a scene with many
expressions costs hardly more than one with a few. Only compact rows are kept (one mask RLE per
box), so memory grows with the number of boxes, never with pixels or frames.

With ``flip``, every frame is also read mirrored (training flips frames, so a mirrored camera is one
the model knows) and the two readings are averaged: the referring probability, objectness and
identity of a box then rest on two looks at it, at twice the cost. Masks come from the frame as shot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from crmot.data import masks as rle
from crmot.data.crtrack import Scene
from crmot.data.frames import read_frame
from crmot.data.tracks import Tracks
from crmot.data.white_balance import sample_view_gain
from crmot.models.viewsam import IDENTITY_DIM, ViewSAM, normalised_prompts
from crmot.models.viewsam.attention import attention_kernels
from crmot.models.viewsam.inputs import model_input


@dataclass(frozen=True)  # a shared default of the stage's signature
class CandidateConfig:
    window: int = 8  # frames per view encoded together (bounded memory on long videos)
    expression_batch: int = 32  # expressions scored together (memory grows with it)
    flip: bool = True  # also read each frame mirrored and average the two readings


@dataclass
class ViewRows:
    """ViewSAM's reading of one view's stage-1 rows (same order as ``tracks``)."""

    tracks: Tracks  # stage-1 rows: frames, tracklet ids, xywh boxes
    objectness: np.ndarray  # (R,) probability that the box holds an object
    identity: np.ndarray  # (R, 128) unit vectors
    refer: np.ndarray  # (R, E) probability that expression e refers to the row's object
    masks: list[dict]  # COCO RLE at the model's mask resolution
    #: row -> its mask at the frame's size, made when an answer first needs it (many expressions
    #: answer the same people: each mask is resized once, not once per expression)
    full_masks: dict[int, dict] = field(default_factory=dict, init=False, repr=False)


@torch.inference_mode()
def predict_scene(model: ViewSAM, scene: Scene, prompts: dict[int, Tracks], sentences: list[str],
                  config: CandidateConfig, device: torch.device, autocast: torch.dtype | None = None,
                  last_frame: int | None = None, progress=None) -> dict[int, ViewRows]:
    """Run ViewSAM on every stage-1 row of ``scene`` (``prompts``: view index -> its tracklet rows),
    up to ``last_frame`` (default: the whole scene); ``progress(done, total)`` after each window."""
    model.eval()
    size = model.size.image_size
    objectness = {k: np.zeros(len(t)) for k, t in prompts.items()}
    identity = {k: np.zeros((len(t), IDENTITY_DIM), np.float32) for k, t in prompts.items()}
    refer = {k: np.zeros((len(t), len(sentences))) for k, t in prompts.items()}
    masks: dict[int, list[dict | None]] = {k: [None] * len(t) for k, t in prompts.items()}
    batch_size = config.expression_batch
    texts = [model.encode_text(sentences[i:i + batch_size]) for i in range(0, len(sentences), batch_size)]
    views = [v for v in scene.views if len(prompts[v.index])]
    gains = {v.index: sample_view_gain(v) for v in views}
    with torch.autocast(device.type, dtype=autocast or torch.float32, enabled=autocast is not None):
        last = min(last_frame or scene.num_frames, scene.num_frames)
        for start in range(1, last + 1, config.window):
            frames = range(start, min(start + config.window, last + 1))
            if progress is not None:
                progress(start - 1, last)
            images, camera, boxes, rows = [], [], [], []
            for v in views:
                tracks = prompts[v.index]
                scale = np.array([v.seqinfo.width, v.seqinfo.height] * 2, np.float64)
                for f in frames:
                    found = np.flatnonzero(tracks.frames == f)
                    if not len(found):
                        continue
                    images.append(model_input(read_frame(v, f), size, gains[v.index]))
                    camera.append(v.index - 1)
                    boxes.append(torch.from_numpy(np.clip(tracks.xyxy[found] / scale, 0, 1)).float())
                    rows.append((v.index, found))
            if not images:
                continue
            out = read_frames(model, torch.stack(images).to(device), torch.tensor(camera, device=device), boxes,
                              texts, config.flip)
            for b, (k, found) in enumerate(rows):
                n = len(found)
                objectness[k][found] = out["objectness"][b, :n].cpu().numpy()
                identity[k][found] = out["identity"][b, :n].cpu().numpy()
                if texts:
                    refer[k][found] = out["refer"][b, :, :n].T.cpu().numpy()
                binary = (out["masks"][b, :n] > 0).cpu().numpy()
                for i, row in enumerate(found.tolist()):
                    masks[k][row] = rle.encode(binary[i])
    return {k: ViewRows(prompts[k], objectness[k], identity[k], refer[k], masks[k]) for k in prompts}


def read_frames(model: ViewSAM, images: torch.Tensor, camera: torch.Tensor, boxes: list[torch.Tensor], texts: list,
                flip: bool) -> dict[str, torch.Tensor]:
    """ViewSAM's reading of B frames' boxes as probabilities: objectness (B, N), identity (B, N, 128),
    refer (B, E, N) (None without ``texts``) and mask logits (B, N, m, m); with ``flip`` averaged with
    the mirrored frames'."""
    if flip:
        mirrored = [torch.stack([1 - b[:, 2], b[:, 1], 1 - b[:, 0], b[:, 3]], 1) for b in boxes]
        images, camera, boxes = torch.cat([images, images.flip(-1)]), camera.repeat(2), boxes + mirrored
    with attention_kernels(images.device):
        encoded = model.encode(images, camera)
        out = model.describe(encoded, normalised_prompts(boxes, images.device))
        refer = [model.refer(encoded, out["parts"], text).float().exp() for text in texts]
    read = {"objectness": out["objectness"].float().sigmoid(), "identity": out["identity"].float(),
            "refer": torch.cat(refer, 1) if refer else None, "masks": out["masks"]}
    if flip:
        half = len(images) // 2
        read = {k: v if v is None or k == "masks" else (v[:half] + v[half:]) / 2 for k, v in read.items()}
        read["identity"] = torch.nn.functional.normalize(read["identity"], dim=-1)
        read["masks"] = read["masks"][:half]  # from the frames as shot
    return read
