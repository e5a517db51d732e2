"""How the official CRTrack tool turns per-view files into the two sequences it scores.

The official kit (``prepare_cross_view_eval.py`` + the MOTChallenge MATLAB devkit) does, per
expression, with the views in order View1..ViewV (m = 0..V-1):

* writes every box with Python's ``'%.2f'`` (predictions converted xyxy -> xywh first, w = x2 - x1);
* a view file with exactly one row is skipped (``np.loadtxt`` returns a 1-D array);
* CVRIDF1 sequence: view m's frames shifted by the sum over earlier views of (largest frame in
  that view's GT or prediction, plus one);
* CVRMA sequence: frame t of view m becomes virtual frame ``t * V + m``;
* the devkit rewrites predictions with MATLAB ``dlmwrite`` (``%.5g``): every prediction value,
  frame and id included, keeps 5 significant digits (ties away from zero), so ids can merge;
* predictions with virtual frame < 1 or after the last GT virtual frame are dropped.

``protocol="crtrack"`` reproduces all of this; ``protocol="strict"`` keeps full precision, keeps
one-row files and scores predictions past the last GT frame as false positives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from crmot.data.errors import CRTrackFormatError
from crmot.data.tracks import Tracks

Protocol = Literal["crtrack", "strict"]
PROTOCOLS: tuple[str, ...] = ("crtrack", "strict")

_POW10 = 10 ** np.arange(19, dtype=np.int64)


@dataclass(frozen=True)
class Sequence:
    """One scored sequence: GT and prediction rows on a common (virtual) frame axis."""

    gt: Tracks
    pred: Tracks


def check_protocol(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, not {protocol!r}")


def prepare(gt_views: dict[int, Tracks], pred_views: dict[int, Tracks], protocol: Protocol) -> tuple[Sequence, Sequence]:
    """(concatenated sequence for CVRIDF1, interleaved sequence for CVRMA) of one expression.

    Views are those with a GT file, in numeric order; predictions for other views are ignored.
    """
    check_protocol(protocol)
    official = protocol == "crtrack"
    order = sorted(gt_views)
    num_views = len(order)
    concat_gt, concat_pred, inter_gt, inter_pred = [], [], [], []
    offset = 0
    for m, k in enumerate(order):
        gt = gt_views[k]
        pred = pred_views.get(k, Tracks.empty())
        if official:
            gt = _skip_single_row(gt)
            pred = _skip_single_row(pred)
            gt = _with_boxes(gt, fixed2(gt.boxes))
            pred = _with_boxes(pred, fixed2(pred.boxes))
        last = max(int(gt.frames.max(initial=0)), int(pred.frames.max(initial=0)))
        concat_gt.append(_shift(gt, gt.frames + offset))
        concat_pred.append(_shift(pred, pred.frames + offset))
        inter_gt.append(_shift(gt, gt.frames * num_views + m))
        inter_pred.append(_shift(pred, pred.frames * num_views + m))
        offset += last + 1
    sequences = []
    for gts, preds in ((concat_gt, concat_pred), (inter_gt, inter_pred)):
        gt, pred = _concat(gts), _concat(preds)
        if official:
            rounded = _dlmwrite_roundtrip(pred)
            if not np.array_equal(rounded.ids, pred.ids):
                _check_no_merged_rows(rounded)
            pred = rounded
            last_gt = gt.frames.max() if len(gt) else np.iinfo(np.int64).max
            pred = pred.select((pred.frames >= 1) & (pred.frames <= last_gt))
        sequences.append(Sequence(gt=gt, pred=pred))
    return sequences[0], sequences[1]


def prepare_view(gt: Tracks, pred: Tracks, protocol: Protocol) -> Sequence:
    """A single view scored on its own (per-view figures), with the same value handling."""
    return prepare({1: gt}, {1: pred}, protocol)[0]


# --------------------------------------------------------------------------- value rounding
def fixed2(values: np.ndarray) -> np.ndarray:
    """``float('%.2f' % v)`` for every value: correctly rounded to hundredths, vectorized."""
    return hundredths(values) / 100.0


def hundredths(values: np.ndarray) -> np.ndarray:
    """Integer hundredths that Python's ``'%.2f'`` prints for each value (exact, ties to even)."""
    values = np.asarray(values, dtype=np.float64)
    scaled = values * 100.0
    out = np.rint(scaled)
    # fl(v * 100) can land on the other side of a .5 boundary than the exact product does:
    # values within reach of a boundary are redone with Python's own formatting.
    # The rounding error of fl(v * 100) is below 1e-15 relative; 1e-12 leaves a wide margin.
    near = np.abs(np.abs(scaled - np.floor(scaled)) - 0.5) < 1e-12 * np.maximum(1.0, np.abs(scaled))
    if near.any():
        out[near] = [int(("%.2f" % v).replace(".", "")) for v in values[near]]
    return out.astype(np.int64)


def round_significant(values: np.ndarray, digits: int = 5) -> np.ndarray:
    """Round integers to ``digits`` significant digits, ties away from zero (exact integer maths)."""
    values = np.asarray(values, dtype=np.int64)
    magnitude = np.abs(values)
    num_digits = np.searchsorted(_POW10, magnitude, side="right")
    drop = np.maximum(num_digits - digits, 0)
    scale = _POW10[drop]
    quotient, remainder = np.divmod(magnitude, scale)
    quotient += 2 * remainder >= scale
    return np.sign(values) * quotient * scale


def _dlmwrite_roundtrip(pred: Tracks) -> Tracks:
    """What MATLAB reads back after ``dlmwrite`` (``%.5g``) of the prepared prediction file."""
    boxes = round_significant(hundredths(pred.boxes)) / 100.0
    return Tracks(round_significant(pred.frames), round_significant(pred.ids), boxes, pred.tail)


# --------------------------------------------------------------------------- helpers
def _skip_single_row(tracks: Tracks) -> Tracks:
    return Tracks.empty() if len(tracks) == 1 else tracks


def _with_boxes(tracks: Tracks, boxes: np.ndarray) -> Tracks:
    return Tracks(tracks.frames, tracks.ids, boxes, tracks.tail[:, :0])


def _shift(tracks: Tracks, frames: np.ndarray) -> Tracks:
    return Tracks(frames, tracks.ids, tracks.boxes, tracks.tail[:, :0])


def _concat(parts: list[Tracks]) -> Tracks:
    if not parts:
        return Tracks.empty()
    return Tracks(
        np.concatenate([p.frames for p in parts]),
        np.concatenate([p.ids for p in parts]),
        np.concatenate([p.boxes for p in parts]).reshape(-1, 4),
    )


def _check_no_merged_rows(pred: Tracks) -> None:
    """Ids rounded to 5 digits can collide in one frame; the official devkit rejects that file."""
    span = int(pred.ids.max() - pred.ids.min()) + 1
    key = np.sort(pred.frames * span + (pred.ids - pred.ids.min()))
    if (np.diff(key) == 0).any():
        raise CRTrackFormatError(
            "<predictions>",
            "after the official tool's 5-significant-digit rounding two prediction ids share a frame "
            "(ids >= 100000 merge); use ids below 100000, or protocol='strict'",
        )
