"""Learned ReID embedders for stage 2: torchreid OSNet and the open_clip image tower.

Both load local checkpoints (no network at run time); random weights only with ``allow_random_init``
(speed checks and tests), and the backend name then says so. Crops are batched on the device.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from crmot.crops import Crop, Embedder
from crmot.errors import ConfigError, MissingFileError
from crmot.models.state import mismatch

_IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
_IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def _batch(crops: list[Crop], size: tuple[int, int], mean: torch.Tensor, std: torch.Tensor,
           device: torch.device) -> torch.Tensor:
    """Crops resized to ``size`` (h, w), normalised, as one (N, 3, h, w) tensor."""
    tensors = [F.interpolate(torch.from_numpy(c.image).permute(2, 0, 1)[None] / 255.0, size=size,
                             mode="bilinear", align_corners=False) for c in crops]
    return ((torch.cat(tensors) - mean) / std).to(device)


class _TorchEmbedder(Embedder):
    kind: str  # backend name; "-random-init" is appended when no checkpoint is given
    where: str  # how to get a checkpoint, for the error message
    input_size: tuple[int, int]
    mean, std = _IMAGENET_MEAN, _IMAGENET_STD

    def __init__(self, checkpoint: str | None, allow_random_init: bool, batch_size: int) -> None:
        self.checkpoint, self.allow_random_init, self.batch_size = checkpoint, allow_random_init, batch_size
        self.name = self.kind if checkpoint else f"{self.kind}-random-init"
        self.device = torch.device("cpu")
        self.model: torch.nn.Module | None = None

    def checkpoint_path(self) -> str | None:
        """The checkpoint to load, or None for random weights (only when allowed)."""
        if self.checkpoint and Path(self.checkpoint).is_file():
            return self.checkpoint
        if self.checkpoint or not self.allow_random_init:
            raise MissingFileError(f"checkpoint {self.checkpoint!r} not found (config key "
                                   f"model.embedder.init_args.checkpoint); {self.where}, or set "
                                   "allow_random_init: true for speed tests only")
        return None

    def setup(self, device) -> None:
        self.device = torch.device(device)
        if self.model is None:
            self.model = self.build().eval().to(self.device)
            with torch.inference_mode():  # the width of a feature, whatever the architecture
                self._dim = int(self.forward(torch.zeros(1, 3, *self.input_size, device=self.device)).shape[-1])
        self.model.to(self.device)

    @property
    def dim(self) -> int:
        if self.model is None:
            self.setup(self.device)
        return self._dim

    def build(self) -> torch.nn.Module:
        raise NotImplementedError

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images)

    @torch.inference_mode()
    def embed(self, crops: list[Crop]) -> np.ndarray:
        if self.model is None:
            self.setup(self.device)
        out = []
        for start in range(0, len(crops), self.batch_size):
            images = _batch(crops[start:start + self.batch_size], self.input_size, self.mean, self.std, self.device)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
                features = self.forward(images)
            out.append(F.normalize(features.float(), dim=-1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)


class OSNetEmbedder(_TorchEmbedder):
    """torchreid OSNet (``osnet_x1_0`` by default), 256x128 crops, 512-d features."""

    kind, where = "osnet", "download an OSNet state dict from the torchreid model zoo"
    input_size = (256, 128)

    def __init__(self, variant: str = "osnet_x1_0", checkpoint: str | None = None, allow_random_init: bool = False,
                 batch_size: int = 64) -> None:
        super().__init__(checkpoint, allow_random_init, batch_size)
        self.variant = variant

    def build(self) -> torch.nn.Module:
        from torchreid.reid.models import build_model

        path = self.checkpoint_path()
        model = build_model(self.variant, num_classes=1, pretrained=False)
        if path:
            load_osnet_state(model, path)
        return model

    def describe(self) -> dict:
        return {"name": self.name, "variant": self.variant, "checkpoint": self.checkpoint}


def load_osnet_state(model: torch.nn.Module, path: str) -> None:
    """torchreid's release format: a state dict, maybe under ``state_dict`` and with DataParallel's
    ``module.`` prefix. The classifier (trained for another set of identities) is left out; every
    other key must fit, or the error names the file and the config key."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    own = {k: v.shape for k, v in model.state_dict().items() if not k.startswith("classifier.")}
    differs = mismatch(own, {k: v.shape for k, v in state.items()})
    if differs:
        raise ConfigError(f"{path} (model.embedder.init_args.checkpoint) does not fit this OSNet variant: {differs}")
    model.load_state_dict(state, strict=False)  # only the classifier stays as built


class CLIPEmbedder(_TorchEmbedder):
    """open_clip image tower (``ViT-B-32`` by default), 224x224 crops."""

    kind, where = "clip", "save open_clip weights (.bin / .safetensors) locally"
    input_size = (224, 224)
    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)

    def __init__(self, architecture: str = "ViT-B-32", checkpoint: str | None = None, allow_random_init: bool = False,
                 batch_size: int = 64) -> None:
        super().__init__(checkpoint, allow_random_init, batch_size)
        self.architecture = architecture

    def build(self) -> torch.nn.Module:
        import open_clip

        return open_clip.create_model(self.architecture, pretrained=self.checkpoint_path())

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(images)

    def describe(self) -> dict:
        return {"name": self.name, "architecture": self.architecture, "checkpoint": self.checkpoint}
