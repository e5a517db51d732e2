"""One scene's views as stage 2 reads them: frames, colour casts, sizes, and tracklet prototypes."""

from __future__ import annotations

import numpy as np

from crmot.association.appearance import collect_crops, pool
from crmot.association.records import Tracklet
from crmot.crops import Embedder
from crmot.data.crtrack import Scene
from crmot.data.frames import read_frame
from crmot.data.white_balance import sample_view_gain
from crmot.tracklets.types import VideoSource


class SceneContext:
    """Frame access, colour casts and image sizes of one scene's views."""

    def __init__(self, scene: Scene, gain_frames: int) -> None:
        self.scene = scene
        self.views = [v.index for v in scene.views]
        self.sizes = {v.index: (v.seqinfo.height, v.seqinfo.width) for v in scene.views}
        self.gains = {k: sample_view_gain(scene.view(k), gain_frames) for k in self.views}

    def read(self, view: int, frame: int) -> np.ndarray:
        return read_frame(self.scene.view(view), frame)

    def video(self, view: int) -> VideoSource:
        v = self.scene.view(view)
        return VideoSource(v.num_frames, v.seqinfo.height, v.seqinfo.width, lambda f: read_frame(v, f), v.frame_path)

    def crops(self, tracklets: list[Tracklet], per_tracklet: int):
        return collect_crops(tracklets, self.read, self.gains, self.sizes, per_tracklet)


def tracklet_prototypes(tracklets: list[Tracklet], ctx: SceneContext, embedder: Embedder, per_tracklet: int) -> np.ndarray:
    crops = ctx.crops(tracklets, per_tracklet)
    embeddings = embedder.embed(crops)
    owners = np.array([c.owner for c in crops], np.int64)
    weights = np.array([c.weight for c in crops], np.float32)
    return pool(embeddings, owners, weights, len(tracklets))  # zeros for tracklets without a crop
