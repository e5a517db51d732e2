"""Manifests: what produced an output, from which inputs. A re-run skips outputs whose manifest matches:
the same configuration, the same inputs and the same crmot source (an output of older code is redone)."""

from __future__ import annotations

import functools
import hashlib
import json
import platform
from pathlib import Path

import numpy as np
import torch

import crmot
from crmot.data.crtrack import View
from crmot.io import atomic_write_json

MANIFEST = "manifest.json"


def view_fingerprint(view: View) -> dict:
    """Number, total size and latest modification time of a view's frames (cheap: stat only)."""
    frames = sorted((view.path / view.seqinfo.im_dir).glob(f"*{view.seqinfo.im_ext}"))
    stats = [p.stat() for p in frames]
    return {"frames": len(stats), "bytes": int(sum(s.st_size for s in stats)),
            "mtime_ns": int(max((s.st_mtime_ns for s in stats), default=0))}


def versions() -> dict:
    return {"crmot": crmot.__version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-1 of crmot's own source files. The version number does not change between releases, and
    a stage skipped because its manifest matched would otherwise keep yesterday's code's output."""
    root = Path(crmot.__file__).parent
    digest = hashlib.sha1()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def manifest_dir(output_dir: Path, split: str, scene: str) -> Path:
    """Where every stage keeps a scene's manifest: ``<output_dir>/manifests/<split>/<Scene>/`` (one
    layout for all stages, beside whatever files the stage writes)."""
    return Path(output_dir) / "manifests" / split / scene


def is_done(output_dir: Path, key: dict) -> bool:
    """True when ``output_dir`` holds a manifest written for exactly this ``key`` (config + inputs)
    by this crmot source."""
    path = Path(output_dir) / MANIFEST
    if not path.exists():
        return False
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError:
        return False
    return manifest.get("key") == json.loads(json.dumps(key)) and manifest.get("code") == code_fingerprint()


def device_name(device: torch.device) -> str:
    """What ran a stage, recorded beside its seconds: a speed figure means little without it."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"{device} ({torch.get_num_threads()} threads)"


def write_manifest(output_dir: Path, key: dict, device: torch.device, **details) -> None:
    """Written last, after every output file: its presence marks the work as finished. The device is
    not part of the key: a finished output is not redone because another device is asked for."""
    atomic_write_json(Path(output_dir) / MANIFEST, {"key": key, "code": code_fingerprint(), "versions": versions(),
                                                     "device": device_name(device), **details})
