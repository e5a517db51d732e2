"""How the official CRTrack tool turns per-view files into the two sequences it scores.

The official kit (``prepare_cross_view_eval.py`` + the MOTChallenge MATLAB devkit) does, per
expression, with the views in order View1..ViewV (m = 0..V-1):

* writes every box with Python's ``'%.2f'`` (predictions converted xyxy -> xywh first, w = x2 - x1);
* a view file with exactly one row is skipped (``np.loadtxt`` returns a 1-D array);
* CVRIDF1 sequence: view m's frames shifted by the sum over earlier views of (largest frame in
  that view's GT or prediction, plus one);
* CVRMA sequence: frame t of view m becomes virtual frame ``t * V + m``;
* the devkit rewrites predictions with MATLAB ``dlmwrite`` (``%.5g``): every prediction value,
  frame and id included, keeps 5 significant digits, so ids can merge. ``%.5g`` rounds the *double*
  that MATLAB read from the ``%.2f`` text: ``1297.85`` is read as 1297.8499999999999..., printed
  ``1297.8``; only a value whose double is exactly halfway (``1817.75``) is a tie, and MATLAB
  rounds it away from zero;
* predictions with virtual frame < 1 or after the last GT virtual frame are dropped.

``protocol="crtrack"`` reproduces all of this; ``protocol="strict"`` keeps full precision, keeps
one-row files and scores predictions past the last GT frame as false positives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from crmot.constants import PROTOCOLS
from crmot.data.errors import CRTrackFormatError
from crmot.data.tracks import Tracks
from crmot.errors import ConfigError

Protocol = Literal["crtrack", "strict"]

_POW10 = 10 ** np.arange(19, dtype=np.int64)


@dataclass(frozen=True)
class Batch:
    """Many sequences in one table, so that every numpy pass runs once for all of them.

    Frames are made disjoint across sequences (with a gap, so no sequence sees another's frame
    t - 1) and ids are renumbered densely, unique per sequence (the devkit renumbers ids too);
    ``gt_seq`` / ``pred_seq`` give each row's sequence.
    """

    gt: Tracks
    pred: Tracks
    gt_seq: np.ndarray
    pred_seq: np.ndarray
    size: int


@dataclass(frozen=True)
class Sequence:
    """One scored sequence: GT and prediction rows on a common (virtual) frame axis."""

    gt: Tracks
    pred: Tracks


Item = tuple[dict[int, Tracks], dict[int, Tracks]]  # (GT views, prediction views) of one expression


def check_protocol(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise ConfigError(f"protocol must be one of {PROTOCOLS}, not {protocol!r}")


def prepare(gt_views: dict[int, Tracks], pred_views: dict[int, Tracks], protocol: Protocol) -> tuple[Sequence, Sequence]:
    """(concatenated sequence for CVRIDF1, interleaved sequence for CVRMA) of one expression."""
    concatenated, interleaved = prepare_batch([(gt_views, pred_views)], protocol)
    return Sequence(concatenated.gt, concatenated.pred), Sequence(interleaved.gt, interleaved.pred)


def prepare_batch(items: list[Item], protocol: Protocol) -> tuple[Batch, Batch]:
    """Concatenated (CVRIDF1) and interleaved (CVRMA) batches of many expressions.

    Views are those with a GT file, in numeric order; predictions for other views are ignored.
    """
    check_protocol(protocol)
    official = protocol == "crtrack"
    gt_parts, pred_parts = [], []
    for seq, (gt_views, pred_views) in enumerate(items):
        order = sorted(gt_views)
        offset = 0
        for m, k in enumerate(order):
            gt, pred = gt_views[k], pred_views.get(k, Tracks.empty())
            if official:  # np.loadtxt gives a 1-D array for a one-row file and the kit skips it
                gt, pred = _skip_single_row(gt), _skip_single_row(pred)
            for part, parts in ((gt, gt_parts), (pred, pred_parts)):
                parts.append((seq, part, part.frames + offset, part.frames * len(order) + m))
            offset += max(int(gt.frames.max(initial=0)), int(pred.frames.max(initial=0))) + 1
    gt_seq, gt_ids, gt_boxes, gt_concat, gt_inter = _stack(gt_parts)
    pred_seq, pred_ids, pred_boxes, pred_concat, pred_inter = _stack(pred_parts)
    if official:
        gt_boxes = fixed2(gt_boxes)
        pred_boxes = dlmwrite_hundredths(hundredths(pred_boxes)) / 100.0
        rounded_ids = round_significant(pred_ids)
        ids_merged = not np.array_equal(rounded_ids, pred_ids)
        pred_ids, pred_concat, pred_inter = rounded_ids, round_significant(pred_concat), round_significant(pred_inter)
    batches = []
    for gt_frames, pred_frames in ((gt_concat, pred_concat), (gt_inter, pred_inter)):
        keep = slice(None)
        if official:
            if ids_merged:
                _check_no_merged_rows(pred_seq, pred_frames, pred_ids)
            last_gt = np.full(len(items), np.iinfo(np.int64).max)
            has_gt = np.zeros(len(items), bool)
            has_gt[gt_seq] = True
            last_gt[has_gt] = 0
            np.maximum.at(last_gt, gt_seq, gt_frames)
            keep = (pred_frames >= 1) & (pred_frames <= last_gt[pred_seq])
        batches.append(_batch(len(items), gt_seq, gt_frames, gt_ids, gt_boxes,
                              pred_seq[keep], pred_frames[keep], pred_ids[keep], pred_boxes[keep]))
    return batches[0], batches[1]


def single_batch(gt: Tracks, pred: Tracks) -> Batch:
    """A batch of one sequence, rows as given (ids made dense)."""
    zeros_gt, zeros_pred = np.zeros(len(gt), np.int64), np.zeros(len(pred), np.int64)
    return Batch(Tracks(gt.frames, _dense_ids(zeros_gt, gt.ids), gt.boxes),
                 Tracks(pred.frames, _dense_ids(zeros_pred, pred.ids), pred.boxes), zeros_gt, zeros_pred, 1)


def _stack(parts):
    if not parts:
        return (np.zeros(0, np.int64),) * 2 + (np.zeros((0, 4)),) + (np.zeros(0, np.int64),) * 2
    seq = np.concatenate([np.full(len(t), s, np.int64) for s, t, _, _ in parts])
    ids = np.concatenate([t.ids for _, t, _, _ in parts])
    boxes = np.concatenate([t.boxes for _, t, _, _ in parts]).reshape(-1, 4)
    concat = np.concatenate([c for _, _, c, _ in parts])
    inter = np.concatenate([i for _, _, _, i in parts])
    return seq, ids, boxes, concat, inter


def _batch(size, gt_seq, gt_frames, gt_ids, gt_boxes, pred_seq, pred_frames, pred_ids, pred_boxes) -> Batch:
    last = np.zeros(size, np.int64)
    np.maximum.at(last, gt_seq, gt_frames)
    np.maximum.at(last, pred_seq, pred_frames)
    start = np.concatenate([[0], np.cumsum(last + 1)[:-1]])
    gt = Tracks(gt_frames + start[gt_seq], _dense_ids(gt_seq, gt_ids), gt_boxes)
    pred = Tracks(pred_frames + start[pred_seq], _dense_ids(pred_seq, pred_ids), pred_boxes)
    return Batch(gt=gt, pred=pred, gt_seq=gt_seq, pred_seq=pred_seq, size=size)


def _dense_ids(seq: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """1-based ids, unique per (sequence, id), in the order of the original ids within a sequence."""
    if not len(ids):
        return ids.astype(np.int64)
    span = int(ids.max() - ids.min()) + 1
    return np.unique(seq * span + (ids - ids.min()), return_inverse=True)[1].astype(np.int64) + 1


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
        out[near] = [int(("%.2f" % v).replace(".", "")) for v in values[near]]  # noqa: UP031 (C printf, as the devkit)
    return out.astype(np.int64)


def round_significant(values: np.ndarray, digits: int = 5) -> np.ndarray:
    """Round integers to ``digits`` significant digits, ties away from zero (exact integer maths)."""
    values = np.asarray(values, dtype=np.int64)
    magnitude = np.abs(values)
    if not len(values) or magnitude.max() < _POW10[digits]:
        return values
    num_digits = np.searchsorted(_POW10, magnitude, side="right")
    drop = np.maximum(num_digits - digits, 0)
    scale = _POW10[drop]
    quotient, remainder = np.divmod(magnitude, scale)
    quotient += 2 * remainder >= scale
    return np.sign(values) * quotient * scale


def dlmwrite_hundredths(values: np.ndarray, digits: int = 5) -> np.ndarray:
    """What ``%.5g`` prints for the double nearest each value given in integer hundredths (the
    ``%.2f`` text the devkit reads), in hundredths; exact binary ties away from zero, as MATLAB does.

    A decimal tie (``1297.85`` cut to one decimal) is a binary tie only when its double is exact
    (``.25``, ``.75``); otherwise the double lies just above or below it and printf rounds that way.
    That happens only where one digit of the hundredths is dropped (values 1000-9999.99): wider
    cuts land on ``.5`` or ``.0``, which doubles hold exactly.
    """
    values = np.asarray(values, dtype=np.int64)
    out = round_significant(values, digits)  # ties away from zero: right wherever the tie is exact
    magnitude = np.abs(values)
    one_digit_cut = (magnitude >= _POW10[digits]) & (magnitude < _POW10[digits + 1])
    inexact_tie = one_digit_cut & (magnitude % 10 == 5) & ~np.isin(magnitude % 100, (25, 75))
    if inexact_tie.any():
        out[inexact_tie] = [round(float(f"%.{digits}g" % (v / 100)) * 100) for v in values[inexact_tie].tolist()]
    return out


# --------------------------------------------------------------------------- helpers
def _skip_single_row(tracks: Tracks) -> Tracks:
    return Tracks.empty() if len(tracks) == 1 else tracks


def _check_no_merged_rows(seq: np.ndarray, frames: np.ndarray, ids: np.ndarray) -> None:
    """Ids rounded to 5 digits can collide in one frame; the official devkit rejects that file."""
    key = np.unique(np.stack([seq, frames, ids], axis=1), axis=0)
    if len(key) < len(ids):
        raise CRTrackFormatError(
            "<predictions>",
            "after the official tool's 5-significant-digit rounding two prediction ids share a frame "
            "(ids >= 100000 merge); use ids below 100000, or protocol='strict'",
        )
