"""ViewSAM over a whole scene, window by window: the candidates of every expression in every view.

The expression-free work (frozen SAM2 features, view conditioning) runs once per window of frames
for all views; the decoder then runs for expressions in batches, its SAM2 memory carried from one
window to the next. Only confident candidates (objectness, then NMS) are kept, as compact rows, so
memory grows with the number of objects, never with pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torchvision.ops import nms

from crmot.data import masks as rle
from crmot.data.crtrack import Scene
from crmot.data.frames import read_frame
from crmot.models.viewsam import ViewSAM, box_cxcywh_to_xyxy
from crmot.models.viewsam.inputs import model_input


@dataclass
class CandidateConfig:
    objectness: float = 0.3  # least objectness probability of a kept candidate (focal-trained: low scale)
    nms_iou: float = 0.6  # candidates of one frame overlapping more than this are one
    window: int = 8  # frames encoded together (bounded memory on long videos)
    expression_batch: int = 4  # expressions decoded together (GPU memory grows with it)


@dataclass
class ViewCandidates:
    """Kept candidates of one expression in one view, one row each (frames ascending)."""

    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)  # xywh pixels of the view
    objectness: list[float] = field(default_factory=list)
    refer: list[float] = field(default_factory=list)
    identity: list[np.ndarray] = field(default_factory=list)
    masks: list[dict] = field(default_factory=list)  # COCO RLE at the model's mask resolution

    def __len__(self) -> int:
        return len(self.frames)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"frames": np.asarray(self.frames, np.int64), "boxes": np.asarray(self.boxes, np.float64).reshape(-1, 4),
                "objectness": np.asarray(self.objectness), "refer": np.asarray(self.refer),
                "identity": np.asarray(self.identity, np.float32) if self.identity else np.zeros((0, 0), np.float32)}


#: candidates[expression name][view index]
SceneCandidates = dict[str, dict[int, ViewCandidates]]


@torch.inference_mode()
def predict_scene(model: ViewSAM, scene: Scene, config: CandidateConfig, device: torch.device,
                  autocast: torch.dtype | None = None) -> SceneCandidates:
    """Run ViewSAM on every expression of ``scene``: frames in windows, expressions in batches."""
    model.eval()
    expressions = list(scene.expressions)
    out: SceneCandidates = {e.name: {v.index: ViewCandidates() for v in scene.views} for e in expressions}
    if not expressions:
        return out  # nothing asked: no frame is read
    batches = [expressions[i:i + config.expression_batch] for i in range(0, len(expressions), config.expression_batch)]
    states: list[tuple | None] = [None] * len(batches)
    views = torch.arange(len(scene.views), device=device)
    size = model.size.image_size

    def confident(step: int, candidates: dict[str, torch.Tensor]) -> torch.Tensor:
        return candidates["objectness"].sigmoid() >= config.objectness  # only these are kept: only these need masks

    with torch.autocast(device.type, dtype=autocast or torch.float32, enabled=autocast is not None):
        for start in range(1, scene.num_frames + 1, config.window):
            frames = list(range(start, min(start + config.window, scene.num_frames + 1)))
            images = torch.stack([torch.stack([model_input(read_frame(v, f), size) for f in frames]) for v in scene.views])
            encoded = model.encode(images.to(device), views)
            for b, batch in enumerate(batches):
                outputs, states[b] = model.decode(encoded, [e.sentence for e in batch], states[b], confident)
                for frame, result in zip(frames, outputs):
                    _keep(result, batch, scene, frame, config, out)
    return out


def _keep(result: dict[str, torch.Tensor], batch, scene: Scene, frame: int, config: CandidateConfig,
          out: SceneCandidates) -> None:
    """Confident, non-duplicate candidates of one instant into their expression's and view's rows."""
    num_views = len(scene.views)
    objectness = result["objectness"].float().sigmoid()
    refer = result["refer"].float().sigmoid()
    boxes = box_cxcywh_to_xyxy(result["boxes"].float()).clamp(0, 1)
    for i in range(objectness.shape[0]):  # i = expression * V + view
        expression, view = batch[i // num_views], scene.views[i % num_views]
        keep = torch.nonzero(objectness[i] >= config.objectness).flatten()
        keep = keep[nms(boxes[i, keep], objectness[i, keep], config.nms_iou)]
        if not len(keep):
            continue
        scale = torch.tensor([view.seqinfo.width, view.seqinfo.height] * 2, device=boxes.device)
        xyxy = (boxes[i, keep] * scale).cpu().numpy().astype(np.float64)
        xywh = np.column_stack([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]])
        masks = (result["masks"][i, keep] > 0).cpu().numpy()
        rows = out[expression.name][view.index]
        rows.frames += [frame] * len(keep)
        rows.boxes += list(xywh)
        rows.objectness += objectness[i, keep].tolist()
        rows.refer += refer[i, keep].tolist()
        rows.identity += list(result["identity"][i, keep].float().cpu().numpy())
        rows.masks += [rle.encode(m) for m in masks]
