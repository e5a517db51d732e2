"""Instance masks as COCO run-length encoding (pycocotools), one JSON object per line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from crmot.data.errors import CRTrackFormatError
from crmot.data.text import read_text
from crmot.io import atomic_write_text


def encode(mask: np.ndarray) -> dict:
    """COCO RLE of one boolean (H, W) mask, with ``counts`` as a str so it serialises to JSON. A
    bool mask in Fortran order (pycocotools' layout) is encoded without a copy."""
    rle = _api().encode(np.asfortranarray(mask, dtype=bool).view(np.uint8))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def encode_crop(crop: np.ndarray, top: int, left: int, height: int, width: int) -> dict:
    """``encode`` of a (height, width) mask that is empty outside ``crop`` (at ``top``, ``left``),
    without building the full mask: the runs are computed on the crop's columns and placed in the
    image's column-major order (a 960x540 frame would cost half a megabyte per detection)."""
    columns = np.zeros((crop.shape[1], crop.shape[0] + 2), np.int8)
    columns[:, 1:-1] = np.asarray(crop, bool).T
    change = np.diff(columns, axis=1)
    base = (left + np.arange(crop.shape[1]))[:, None] * height + top
    starts = (base + np.arange(crop.shape[0] + 1)[None])[change == 1]
    ends = (base + np.arange(crop.shape[0] + 1)[None])[change == -1]
    joined = np.flatnonzero(starts[1:] == ends[:-1])  # a run across a column boundary is one run
    starts, ends = np.delete(starts, joined + 1), np.delete(ends, joined)
    edges = np.column_stack([starts, ends]).ravel()
    counts = np.diff(np.concatenate([[0], edges, [height * width]])).tolist()
    if len(counts) > 1 and counts[-1] == 0:
        counts.pop()  # a mask that reaches the last pixel ends on its run, as pycocotools writes it
    rle = _api().frPyObjects({"size": [height, width], "counts": counts}, height, width)
    return {"size": [int(height), int(width)], "counts": rle["counts"].decode("ascii")}


def decode(rle: dict) -> np.ndarray:
    return _api().decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")}).astype(bool)


def area(rles: list[dict]) -> np.ndarray:
    if not rles:
        return np.zeros(0)
    return _api().area([_coco(r) for r in rles]).astype(np.float64)


def iou(a: list[dict], b: list[dict]) -> np.ndarray:
    """Pairwise mask IoU (len(a), len(b)), computed on the RLEs without decoding."""
    if not a or not b:
        return np.zeros((len(a), len(b)))
    return _api().iou([_coco(r) for r in a], [_coco(r) for r in b], [0] * len(b))


def shared_area(a: dict, b: dict) -> float:
    """Pixels two masks share, computed on the RLEs without decoding."""
    return float(_api().area(_api().merge([_coco(a), _coco(b)], intersect=True)))


def to_boxes(rles: list[dict]) -> np.ndarray:
    """Tight xywh boxes of the masks."""
    if not rles:
        return np.zeros((0, 4))
    return _api().toBbox([_coco(r) for r in rles]).astype(np.float64)


def write_jsonl(path: str | os.PathLike, rles: list[dict]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rles))


def read_jsonl(path: str | os.PathLike, expected_rows: int | None = None) -> list[dict]:
    """Read a masks file; ``expected_rows`` checks it holds one mask per row of its gt.txt."""
    path = Path(path)
    rles = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rle = json.loads(line)
            if not (isinstance(rle, dict) and len(rle["size"]) == 2 and isinstance(rle["counts"], str)):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            raise CRTrackFormatError(path, "expected a COCO RLE object {\"size\": [h, w], \"counts\": str}", number) from None
        rles.append(rle)
    if expected_rows is not None and len(rles) != expected_rows:
        raise CRTrackFormatError(path, f"{len(rles)} masks for {expected_rows} rows of gt.txt")
    return rles


def _api():
    """pycocotools' mask module, imported on first use: reading and checking masks files needs
    only json, so ``crmot data check`` runs on the light install."""
    from pycocotools import mask

    return mask


def _coco(rle: dict) -> dict:
    return {"size": rle["size"], "counts": rle["counts"].encode("ascii")}
