"""SAM2 (Meta's ``sam2`` package): the video predictor built from its own configs, checkpoints loaded strictly."""

from __future__ import annotations

from pathlib import Path

import torch

#: Our size names -> the sam2 package's SAM 2.1 configs (39 / 46 / 81 / 224 M parameters).
CONFIGS = {
    "tiny": "configs/sam2.1/sam2.1_hiera_t.yaml",
    "small": "configs/sam2.1/sam2.1_hiera_s.yaml",
    "base_plus": "configs/sam2.1/sam2.1_hiera_b+.yaml",
    "large": "configs/sam2.1/sam2.1_hiera_l.yaml",
}
#: Random weights (tests, speed checks, the CPU demo) are drawn from this seed, so a frozen random SAM2
#: is a function of its configuration: a trained ViewSAM finds the same frozen weights when reloaded.
RANDOM_INIT_SEED = 0
CHECKPOINT_HINT = "download the SAM 2.1 checkpoint of that size (e.g. sam2.1_hiera_base_plus.pt) to that path"


def build_video_predictor(size: str, checkpoint: str | None, device: torch.device, image_size: int | None = None,
                          allow_random_init: bool = False):
    """The sam2 video predictor; without a checkpoint only when ``allow_random_init`` (speed tests)."""
    from sam2.build_sam import build_sam2_video_predictor  # imports hydra: never initialise hydra before it

    if size not in CONFIGS:
        raise ValueError(f"SAM2 size must be one of {sorted(CONFIGS)}, not {size!r}")
    if checkpoint is not None and not Path(checkpoint).exists():
        raise FileNotFoundError(f"SAM2 checkpoint not found at {checkpoint} (model.backend.init_args.checkpoint): "
                                f"{CHECKPOINT_HINT}")
    if checkpoint is None and not allow_random_init:
        raise FileNotFoundError("no SAM2 checkpoint given (model.backend.init_args.checkpoint); set "
                                "allow_random_init: true only for speed tests")
    # A smaller input size makes CPU tests fast; real checkpoints keep their native 1024.
    overrides = [f"++model.image_size={image_size}"] if image_size else []
    # apply_postprocessing=False: the hole-filling step needs the CUDA extension, which is not built.
    return build_sam2_video_predictor(CONFIGS[size], ckpt_path=checkpoint, device=str(device),
                                      hydra_overrides_extra=overrides, apply_postprocessing=False)


def build_model(size: str, checkpoint: str | None, image_size: int, allow_random_init: bool = False) -> torch.nn.Module:
    """SAM2Base (the modules ViewSAM reuses) at ``image_size``; checkpoint rules as above."""
    from sam2.build_sam import build_sam2

    if size not in CONFIGS:
        raise ValueError(f"SAM2 size must be one of {sorted(CONFIGS)}, not {size!r}")
    if checkpoint is not None and not Path(checkpoint).exists():
        raise FileNotFoundError(f"SAM2 checkpoint not found at {checkpoint} (model.sam2_checkpoint): {CHECKPOINT_HINT}")
    if checkpoint is None and not allow_random_init:
        raise FileNotFoundError("no SAM2 checkpoint given (model.sam2_checkpoint); set allow_random_init: true "
                                "only for tests, speed checks and the CPU demo")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_INIT_SEED)
        return build_sam2(CONFIGS[size], ckpt_path=checkpoint, device="cpu", mode="train",
                          hydra_overrides_extra=[f"++model.image_size={image_size}"], apply_postprocessing=False)
