"""CLEAR MOT (MOTA and its counts) on one sequence, following the MOTChallenge devkit's clearMOTMex.

Per frame: a GT object keeps last frame's prediction while they still overlap (1 - IoU <= 0.5);
the remaining objects are assigned by a min-cost (1 - IoU) matching that first maximises the number
of matches, ties broken by a 1e-9 * k offset in row-major order as the devkit does. An identity
switch is counted when a matched GT object that was present in the previous frame is matched to a
different prediction than at its last match.

Most frames are unambiguous (every candidate GT and prediction has a single candidate partner);
their matches are the candidate pairs whatever the history, so they are taken in one vectorized
step, and only ambiguous frames run the sequential rule.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from crmot.constants import IOU_THRESHOLD
from crmot.data.tracks import Tracks
from crmot.metrics.matching import FramePairs, frame_pairs, is_match
from crmot.metrics.protocol import Batch, single_batch

_TIE_BREAK = 1e-9


@dataclass(frozen=True)
class ClearCounts:
    TP: int
    FP: int
    FN: int
    IDSW: int
    FM: int
    MT: int
    PT: int
    ML: int
    num_gt: int
    num_pred: int
    num_gt_ids: int
    total_distance: float  # sum of (1 - IoU) over matches, for MOTP

    def __add__(self, other: ClearCounts) -> ClearCounts:
        return ClearCounts(*(a + b for a, b in zip(asdict(self).values(), asdict(other).values())))

    @property
    def MOTA(self) -> float:
        """100 (1 - (FN + FP + IDSW) / #GT); -inf where there is no GT (the official tool's value)."""
        if not self.num_gt:
            return float("-inf")
        return 100.0 * (1.0 - (self.FN + self.FP + self.IDSW) / self.num_gt)

    @property
    def MOTP(self) -> float:
        return 100.0 * (1.0 - self.total_distance / self.TP) if self.TP else 0.0

    @property
    def recall(self) -> float:
        return 100.0 * self.TP / self.num_gt if self.num_gt else 0.0

    @property
    def precision(self) -> float:
        return 100.0 * self.TP / (self.TP + self.FP) if self.TP + self.FP else 0.0


def clear_counts(gt: Tracks, pred: Tracks, *, official_track_classes: bool = True,
                 threshold: float = IOU_THRESHOLD) -> ClearCounts:
    """CLEAR MOT counts of one sequence. ``official_track_classes`` reproduces the devkit's MT/PT/ML quirk."""
    return clear_counts_batch(single_batch(gt, pred), official_track_classes=official_track_classes,
                              threshold=threshold)[0]


def clear_counts_batch(batch: Batch, pairs: FramePairs | None = None, *, official_track_classes: bool = True,
                       threshold: float = IOU_THRESHOLD) -> list[ClearCounts]:
    """CLEAR MOT counts of every sequence of a batch, computed in one pass over all rows."""
    gt, pred = batch.gt, batch.pred
    pairs = frame_pairs(gt, pred) if pairs is None else pairs
    candidates = pairs.select(is_match(pairs.iou, threshold))
    match_gt, match_pred = _match(gt, pred, candidates)
    match_seq = batch.gt_seq[match_gt]
    size = batch.size

    def per_seq(seq: np.ndarray, weights=None) -> np.ndarray:
        return np.bincount(seq, weights=weights, minlength=size)

    tp = per_seq(match_seq)
    distance = per_seq(match_seq, 1.0 - _pair_iou(candidates, match_gt, match_pred))
    idsw = per_seq(batch.gt_seq[_id_switches(gt, pred, match_gt, match_pred)])
    id_seq, mt, pt, ml, fragment_ids = _track_classes(batch, match_gt, official_track_classes)
    num_gt, num_pred = per_seq(batch.gt_seq), per_seq(batch.pred_seq)
    columns = zip(tp, num_pred - tp, num_gt - tp, idsw, per_seq(id_seq[fragment_ids]), per_seq(id_seq[mt]),
                  per_seq(id_seq[pt]), per_seq(id_seq[ml]), num_gt, num_pred, per_seq(id_seq[np.unique(gt.ids)]), distance)
    return [ClearCounts(*(int(v) for v in row[:-1]), total_distance=float(row[-1])) for row in columns]


# --------------------------------------------------------------------------- matching
def _match(gt: Tracks, pred: Tracks, cand: FramePairs) -> tuple[np.ndarray, np.ndarray]:
    """Matched (gt_row, pred_row) pairs over all frames."""
    if not len(cand.gt_row):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    gt_degree = np.bincount(cand.gt_row, minlength=len(gt))
    pred_degree = np.bincount(cand.pred_row, minlength=len(pred))
    ambiguous_pair = (gt_degree[cand.gt_row] > 1) | (pred_degree[cand.pred_row] > 1)
    frames = gt.frames[cand.gt_row]
    ambiguous_frames = np.unique(frames[ambiguous_pair])
    simple = ~np.isin(frames, ambiguous_frames)
    if not len(ambiguous_frames):
        return cand.gt_row, cand.pred_row
    solved_gt, solved_pred = _solve_ambiguous(gt, pred, cand, frames, simple, ambiguous_frames)
    return np.concatenate([cand.gt_row[simple], solved_gt]), np.concatenate([cand.pred_row[simple], solved_pred])


def _solve_ambiguous(gt, pred, cand, frames, simple, ambiguous_frames):
    """Run the devkit's sequential rule on the ambiguous frames only (small lists: plain Python)."""
    order = np.argsort(frames, kind="stable")
    sorted_frames = frames[order]
    cand_g, cand_p, cand_d = gt.ids[cand.gt_row], pred.ids[cand.pred_row], 1.0 - cand.iou
    simple_matches: dict[int, dict[int, int]] = {}
    solved: dict[int, dict[int, int]] = {}  # frame -> {gt id: pred id}
    chosen_rows: list[int] = []

    def candidates_in(frame: int) -> np.ndarray:
        lo, hi = np.searchsorted(sorted_frames, [frame, frame + 1])
        return order[lo:hi]

    def matches_at(frame: int) -> dict[int, int]:
        if frame in solved:
            return solved[frame]
        if frame not in simple_matches:
            idx = candidates_in(frame)
            idx = idx[simple[idx]]
            simple_matches[frame] = dict(zip(cand_g[idx].tolist(), cand_p[idx].tolist()))
        return simple_matches[frame]

    for frame in ambiguous_frames.tolist():
        idx = candidates_in(frame).tolist()
        g_ids, p_ids, dist = cand_g[idx].tolist(), cand_p[idx].tolist(), cand_d[idx].tolist()
        previous = matches_at(frame - 1)
        mapping = {g: p for g, p in zip(g_ids, p_ids) if previous.get(g) == p}
        taken = set(mapping.values())
        free = [i for i, (g, p) in enumerate(zip(g_ids, p_ids)) if g not in mapping and p not in taken]
        mapping.update(_min_cost_max_matching([g_ids[i] for i in free], [p_ids[i] for i in free], [dist[i] for i in free]))
        solved[frame] = mapping
        chosen_rows.extend(row for row, g, p in zip(idx, g_ids, p_ids) if mapping.get(g) == p)
    chosen = np.asarray(chosen_rows, dtype=np.int64)
    return cand.gt_row[chosen], cand.pred_row[chosen]


def _min_cost_max_matching(g_ids: list[int], p_ids: list[int], dist: list[float]) -> dict[int, int]:
    """Most matches first, then least total distance; ties broken like the devkit (row-major uid)."""
    rows, cols = sorted(set(g_ids)), sorted(set(p_ids))
    if len(rows) == len(cols) == len(g_ids):  # no object has two candidates: nothing to choose
        return dict(zip(g_ids, p_ids))
    row_of = {g: i for i, g in enumerate(rows)}
    col_of = {p: j for j, p in enumerate(cols)}
    r = np.array([row_of[g] for g in g_ids])
    c = np.array([col_of[p] for p in p_ids])
    uid = np.empty(len(dist))
    uid[np.lexsort((c, r))] = np.arange(len(dist))
    forbidden = float(len(dist) + 1)  # worth more than any set of allowed pairs: cardinality first
    cost = np.full((len(rows), len(cols)), forbidden)
    cost[r, c] = np.asarray(dist) + _TIE_BREAK * uid
    i, j = linear_sum_assignment(cost)
    allowed = cost[i, j] < forbidden
    return {rows[a]: cols[b] for a, b in zip(i[allowed].tolist(), j[allowed].tolist())}


def _pair_iou(cand: FramePairs, match_gt: np.ndarray, match_pred: np.ndarray) -> np.ndarray:
    if not len(match_gt):
        return np.zeros(0)
    n_pred = int(max(cand.pred_row.max(initial=0), match_pred.max(initial=0))) + 1
    key = cand.gt_row * n_pred + cand.pred_row
    order = np.argsort(key)
    where = np.searchsorted(key[order], match_gt * n_pred + match_pred)
    return cand.iou[order[where]]


# --------------------------------------------------------------------------- counts
def _id_switches(gt: Tracks, pred: Tracks, match_gt: np.ndarray, match_pred: np.ndarray) -> np.ndarray:
    """GT rows where an identity switch is counted: the object is matched to another prediction
    than at its last match, and it was present in the previous frame."""
    if len(match_gt) < 2:
        return np.zeros(0, np.int64)
    order = np.lexsort((gt.frames[match_gt], gt.ids[match_gt]))
    rows = match_gt[order]
    g_id, frame, p_id = gt.ids[rows], gt.frames[rows], pred.ids[match_pred[order]]
    span = int(gt.frames.max()) + 2
    present = np.sort(gt.ids * span + gt.frames)
    was_present = _isin_sorted(g_id[1:] * span + frame[1:] - 1, present)
    switched = (g_id[1:] == g_id[:-1]) & (p_id[1:] != p_id[:-1]) & was_present
    return rows[1:][switched]


def _track_classes(batch: Batch, match_gt: np.ndarray, official: bool):
    """Per GT id (dense, 1..N): its sequence, and which ids are MT / PT / ML; ids of fragmentations."""
    gt = batch.gt
    num_ids = int(gt.ids.max(initial=0)) + 1
    id_seq = np.zeros(num_ids, np.int64)
    id_seq[gt.ids] = batch.gt_seq
    length = np.bincount(gt.ids, minlength=num_ids)
    tracked = np.bincount(gt.ids[match_gt], minlength=num_ids)
    ratio = np.divide(tracked, length, out=np.zeros(num_ids), where=length > 0)
    real = length > 0
    mostly_lost = real & (ratio < 0.2)
    mostly_tracked = real & (ratio >= 0.8)
    if official:
        # CLEAR_MOT_HUN: PT needs the sequence's last predicted frame to reach the object's last
        # frame, and an object tracked for exactly 80% is PT; objects failing every test are unclassified.
        last_frame = np.zeros(num_ids, np.int64)
        np.maximum.at(last_frame, gt.ids, gt.frames)
        pred_end = np.full(batch.size, -1, np.int64)
        np.maximum.at(pred_end, batch.pred_seq, batch.pred.frames)
        partly = real & ~mostly_lost & (pred_end[id_seq] >= last_frame) & (ratio <= 0.8)
        mostly_tracked &= ~mostly_lost & ~partly
    else:
        partly = real & ~mostly_lost & ~mostly_tracked
    fragment_ids = np.zeros(0, np.int64)
    if len(match_gt):
        g, f = gt.ids[match_gt], gt.frames[match_gt]
        order = np.lexsort((f, g))
        g, f = g[order], f[order]
        fragment_ids = g[1:][(g[1:] == g[:-1]) & (np.diff(f) > 1)]
    ids = np.arange(num_ids)
    return id_seq, ids[mostly_tracked], ids[partly], ids[mostly_lost], fragment_ids


def _isin_sorted(values: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    where = np.clip(np.searchsorted(sorted_keys, values), 0, max(len(sorted_keys) - 1, 0))
    return sorted_keys[where] == values if len(sorted_keys) else np.zeros(len(values), bool)


def match_boxes(gt: Tracks, pred: Tracks, threshold: float = IOU_THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """The (GT row, prediction row) pairs CLEAR MOT matches in one sequence (for mask quality etc.)."""
    batch = single_batch(gt, pred)
    pairs = frame_pairs(batch.gt, batch.pred)
    return _match(batch.gt, batch.pred, pairs.select(is_match(pairs.iou, threshold)))
