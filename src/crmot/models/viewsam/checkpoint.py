"""ViewSAM checkpoints: only the trainable parts are stored (SAM2 and a pretrained text encoder come
from their own checkpoints, or from the seeded random init), with the configuration that built them."""

from __future__ import annotations

from pathlib import Path

import torch

from crmot.errors import ConfigError, MissingFileError
from crmot.models.state import mismatch
from crmot.models.viewsam import ViewSAM

#: The constructor arguments of :class:`ViewSAM` that a training checkpoint records (Lightning hparams).
MODEL_ARGUMENTS = ("size", "view_conditioning", "text_encoder", "sam2_checkpoint", "text_checkpoint", "allow_random_init")
#: Prefix of the model's keys in a training checkpoint's state dict (``ViewSAMModule.model``).
PREFIX = "model."


def trainable_shapes(module: torch.nn.Module) -> dict[str, torch.Size]:
    names = {n for n, p in module.named_parameters() if p.requires_grad}
    return {k: v.shape for k, v in module.state_dict().items() if k in names}


def check_fits(expected: dict[str, torch.Size], found: dict[str, torch.Size], what: str) -> None:
    """A clear error listing the keys that differ between a checkpoint and the model built from config."""
    differs = mismatch(expected, found)
    if differs:
        raise ConfigError(f"checkpoint does not fit {what}: {differs}")


def load_viewsam(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[ViewSAM, dict]:
    """The trained ViewSAM of a ``make train`` checkpoint and the checkpoint's facts (step, name)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"ViewSAM checkpoint not found at {path} (model.checkpoint); train one with "
                               "`make train` (it writes <run>/train/checkpoints/last.ckpt)")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for a bad file
        raise ConfigError(f"{path}: not a readable checkpoint ({type(err).__name__}: {err})") from None
    hparams = checkpoint.get("hyper_parameters", {})
    if "viewsam" not in checkpoint or "size" not in hparams:
        raise ConfigError(f"{path}: not a ViewSAM training checkpoint (no 'viewsam' entry or model hparams)")
    model = ViewSAM(**{k: hparams[k] for k in MODEL_ARGUMENTS if k in hparams})
    state = {k[len(PREFIX):]: v for k, v in checkpoint["state_dict"].items() if k.startswith(PREFIX)}
    check_fits(trainable_shapes(model), {k: v.shape for k, v in state.items()}, f"{model.name} ({path})")
    model.load_state_dict(state, strict=False)
    vocabulary = checkpoint["viewsam"].get("vocabulary")
    model.vocabulary = frozenset(vocabulary) if vocabulary else None
    return model, {"path": str(path), "name": model.name, "global_step": checkpoint.get("global_step"),
                   "epoch": checkpoint.get("epoch"), "hparams": {k: hparams.get(k) for k in MODEL_ARGUMENTS},
                   # the loss weights it was trained with (None in checkpoints saved before they were recorded)
                   "loss": hparams.get("loss"),
                   # the clip sampler's seed (--data.seed): two runs that differ only by it are two draws
                   "training_seed": (checkpoint.get("datamodule_hyper_parameters") or {}).get("seed")}
