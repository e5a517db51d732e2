"""Manifests: what produced an output, from which inputs. A re-run skips outputs whose manifest matches:
the same configuration, the same inputs and the same source of the crmot modules that made it (an
output of older code is redone; an edit to another stage's code redoes nothing here)."""

from __future__ import annotations

import ast
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


def _crmot_imports(path: Path) -> set[str]:
    """Names a crmot source file imports from crmot, anywhere in it (function-level imports too):
    ``from crmot.a import b`` gives ``crmot.a`` and ``crmot.a.b``, a module or not."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {n for n in names if n == "crmot" or n.startswith("crmot.")}


def _module_source(name: str) -> Path | None:
    base = Path(crmot.__file__).parent.parent.joinpath(*name.split("."))
    return next((p for p in (base / "__init__.py", base.with_suffix(".py")) if p.is_file()), None)


def source_files(*modules: str) -> list[Path]:
    """The source files of ``modules``, their parent packages and every crmot module they import,
    transitively. Read from the import statements, not from what happens to be imported: the same
    stage gives the same files whichever process runs it."""
    found: dict[str, Path] = {}
    not_modules: set[str] = set()  # classes and functions named by ``from crmot.x import y``
    pending = list(modules)
    while pending:
        parts = pending.pop().split(".")
        for end in range(1, len(parts) + 1):
            name = ".".join(parts[:end])
            if name in found or name in not_modules:
                continue
            path = _module_source(name)
            if path is None:
                not_modules.add(name)
                continue
            found[name] = path
            pending.extend(_crmot_imports(path))
    return sorted(set(found.values()))


@functools.cache
def code_fingerprint(*modules: str) -> str:
    """SHA-1 of the source of ``modules`` and of the crmot code they import (:func:`source_files`).
    The version number does not change between releases, and a stage skipped because its manifest
    matched would otherwise keep yesterday's code's output. A stage names its own module and those of
    the plug-ins its configuration chose (a backend named by ``class_path`` is imported by name, not
    by an import statement)."""
    root = Path(crmot.__file__).parent.parent
    digest = hashlib.sha1()
    for path in source_files(*modules):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def modules_of(*objects: object) -> tuple[str, ...]:
    """The modules that define ``objects``' classes: the code of a stage's configured plug-ins."""
    return tuple(dict.fromkeys(type(o).__module__ for o in objects))


def manifest_dir(output_dir: Path, split: str, scene: str) -> Path:
    """Where every stage keeps a scene's manifest: ``<output_dir>/manifests/<split>/<Scene>/`` (one
    layout for all stages, beside whatever files the stage writes)."""
    return Path(output_dir) / "manifests" / split / scene


def is_done(output_dir: Path, key: dict, code: tuple[str, ...]) -> bool:
    """True when ``output_dir`` holds a manifest written for exactly this ``key`` (config + inputs)
    by the current source of the ``code`` modules (a stage's own and its plug-ins')."""
    path = Path(output_dir) / MANIFEST
    if not path.exists():
        return False
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError:
        return False
    return manifest.get("key") == json.loads(json.dumps(key)) and manifest.get("code") == code_fingerprint(*code)


def device_name(device: torch.device) -> str:
    """What ran a stage, recorded beside its seconds: a speed figure means little without it."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"{device} ({torch.get_num_threads()} threads)"


def write_manifest(output_dir: Path, key: dict, code: tuple[str, ...], device: torch.device, **details) -> None:
    """Written last, after every output file: its presence marks the work as finished. The device is
    not part of the key: a finished output is not redone because another device is asked for."""
    atomic_write_json(Path(output_dir) / MANIFEST, {"key": key, "code": code_fingerprint(*code), "versions": versions(),
                                                     "device": device_name(device), **details})
