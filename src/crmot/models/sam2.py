"""SAM2 (Meta's ``sam2`` package): the image model and the video predictor, built from sam2's own configs.

Sizes ``tiny`` .. ``large`` are Meta's SAM 2.1 releases (39 / 46 / 81 / 224 M parameters) and load
Meta's checkpoints. ``nano`` (2.4 M parameters) is the tiny config shrunk by overrides: no weights of
that size exist anywhere, so crmot pretrains its own on class-agnostic masks of a synthetic world
(``crmot pretrain``) and ships them, named ``sam2-nano-synthetic`` wherever they are used. Every
checkpoint is loaded strictly (a missing or unexpected key is an error naming the path).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from crmot.errors import ConfigError, MissingFileError
from crmot.models.state import mismatch


@dataclass(frozen=True)
class SAM2Size:
    config: str  # a SAM 2.1 config of the sam2 package
    overrides: tuple[str, ...] = ()
    release: str | None = None  # the file name Meta releases the weights under


#: The tiny config shrunk: Hiera with 32 channels and 5 blocks, FPN / memory / mask decoder at 64.
NANO_OVERRIDES = (
    "++model.image_encoder.trunk.embed_dim=32",
    "++model.image_encoder.trunk.stages=[1,1,2,1]",
    "++model.image_encoder.trunk.global_att_blocks=[3]",
    "++model.image_encoder.trunk.window_spec=[8,4,8,4]",
    "++model.image_encoder.neck.d_model=64",
    "++model.image_encoder.neck.position_encoding.num_pos_feats=64",
    "++model.image_encoder.neck.backbone_channel_list=[256,128,64,32]",
    "++model.memory_attention.d_model=64",
    "++model.memory_attention.num_layers=1",
    "++model.memory_attention.layer.d_model=64",
    "++model.memory_attention.layer.dim_feedforward=256",
    "++model.memory_attention.layer.self_attention.embedding_dim=64",
    "++model.memory_attention.layer.cross_attention.embedding_dim=64",
    "++model.memory_attention.layer.cross_attention.kv_in_dim=32",
    "++model.memory_encoder.out_dim=32",
    "++model.memory_encoder.position_encoding.num_pos_feats=32",
    "++model.memory_encoder.fuser.layer.dim=64",
)

SIZES = {
    "nano": SAM2Size("configs/sam2.1/sam2.1_hiera_t.yaml", NANO_OVERRIDES),
    "tiny": SAM2Size("configs/sam2.1/sam2.1_hiera_t.yaml", release="sam2.1_hiera_tiny.pt"),
    "small": SAM2Size("configs/sam2.1/sam2.1_hiera_s.yaml", release="sam2.1_hiera_small.pt"),
    "base_plus": SAM2Size("configs/sam2.1/sam2.1_hiera_b+.yaml", release="sam2.1_hiera_base_plus.pt"),
    "large": SAM2Size("configs/sam2.1/sam2.1_hiera_l.yaml", release="sam2.1_hiera_large.pt"),
}
#: ``sam2_checkpoint: synthetic`` names the nano weights crmot ships (made by ``crmot pretrain``).
SYNTHETIC = "synthetic"
SYNTHETIC_CHECKPOINT = Path(__file__).resolve().parent / "weights" / "sam2_nano_synthetic.pt"
#: Random weights (tests, speed checks) are drawn from this seed, so a frozen random SAM2 is a function
#: of its configuration: a trained ViewSAM finds the same frozen weights when reloaded.
RANDOM_INIT_SEED = 0


def size_of(size: str) -> SAM2Size:
    if size not in SIZES:
        raise ConfigError(f"SAM2 size must be one of {sorted(SIZES)}, not {size!r}")
    return SIZES[size]


def resolve_checkpoint(size: str, checkpoint: str | None, allow_random_init: bool, key: str) -> Path | None:
    """The checkpoint file to load, or None for random weights, by one rule for every SAM2 user:
    a named checkpoint must exist; random weights need ``allow_random_init`` and no checkpoint."""
    spec = size_of(size)
    if checkpoint == SYNTHETIC:
        if size != "nano":
            raise ConfigError(f"{key}: {SYNTHETIC!r} weights exist for size nano only, not {size!r}")
        if not SYNTHETIC_CHECKPOINT.is_file():
            raise MissingFileError(f"{key}: the shipped sam2-nano-synthetic weights are missing at "
                                   f"{SYNTHETIC_CHECKPOINT}; rebuild them with `make pretrain`")
        return SYNTHETIC_CHECKPOINT
    if checkpoint is not None:
        path = Path(checkpoint)
        if not path.is_file():
            hint = f"download Meta's {spec.release} to that path" if spec.release else "run `make pretrain`"
            raise MissingFileError(f"SAM2 checkpoint not found at {path} ({key}): {hint}")
        return path
    if not allow_random_init:
        raise MissingFileError(f"no SAM2 checkpoint given ({key}); random weights only with allow_random_init: true")
    return None


def backbone_name(size: str, checkpoint: Path | None) -> str:
    """What every output calls the SAM2 weights: Meta's release, crmot's synthetic pretraining, or random."""
    if checkpoint is None:
        return f"sam2-{size}-random-init"
    recorded = read_checkpoint(checkpoint).get("crmot", {}).get("backbone")
    return recorded or f"sam2.1-hiera-{size}"


def read_checkpoint(path: Path) -> dict:
    """A checkpoint in Meta's release format, ``{"model": state_dict}`` (crmot adds ``"crmot"`` facts).
    Memory-mapped: naming the weights reads no tensor, and loading them reads each tensor once."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for a bad file
        raise ConfigError(f"{path}: not a readable SAM2 checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(data, dict) or "model" not in data:
        raise ConfigError(f"{path}: not a SAM2 checkpoint (no 'model' entry, as Meta's releases have)")
    return data


def load_weights(model: torch.nn.Module, path: Path) -> None:
    """Strict loading: every key of the model and no other."""
    state = read_checkpoint(path)["model"]
    differs = mismatch({k: v.shape for k, v in model.state_dict().items()}, {k: v.shape for k, v in state.items()})
    if differs:
        raise ConfigError(f"{path}: does not fit this SAM2 size: {differs}")
    model.load_state_dict(state)


def build_model(size: str, checkpoint: Path | None, image_size: int) -> torch.nn.Module:
    """SAM2Base (the modules ViewSAM reuses) at ``image_size``: a resolved checkpoint, or seeded random weights."""
    from sam2.build_sam import build_sam2  # imports hydra: never initialise hydra before it

    spec = size_of(size)
    overrides = [*spec.overrides, f"++model.image_size={image_size}"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_INIT_SEED)
        model = build_sam2(spec.config, ckpt_path=None, device="cpu", mode="train",
                           hydra_overrides_extra=overrides, apply_postprocessing=False)
    if checkpoint is not None:
        load_weights(model, checkpoint)
    return model


def build_video_predictor(size: str, checkpoint: Path | None, device: torch.device, image_size: int | None = None):
    """The sam2 video predictor (stage-1 tracklets) with a resolved checkpoint or random weights."""
    from sam2.build_sam import build_sam2_video_predictor

    spec = size_of(size)
    # A smaller input size makes CPU tests fast; real checkpoints keep their native 1024.
    overrides = [*spec.overrides, *([f"++model.image_size={image_size}"] if image_size else [])]
    # apply_postprocessing=False: the hole-filling step needs the CUDA extension, which is not built.
    predictor = build_sam2_video_predictor(spec.config, ckpt_path=None, device="cpu", hydra_overrides_extra=overrides,
                                           apply_postprocessing=False)
    if checkpoint is not None:
        load_weights(predictor, checkpoint)
    return predictor.to(device).eval()
