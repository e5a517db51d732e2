"""Manifests: what produced an output, from which inputs. A re-run skips outputs whose manifest matches."""

from __future__ import annotations

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


def is_done(output_dir: Path, key: dict) -> bool:
    """True when ``output_dir`` holds a manifest written for exactly this ``key`` (config + inputs)."""
    path = Path(output_dir) / MANIFEST
    if not path.exists():
        return False
    try:
        return json.loads(path.read_text()).get("key") == json.loads(json.dumps(key))
    except json.JSONDecodeError:
        return False


def write_manifest(output_dir: Path, key: dict, **details) -> None:
    """Written last, after every output file: its presence marks the work as finished."""
    atomic_write_json(Path(output_dir) / MANIFEST, {"key": key, "versions": versions(), **details})
