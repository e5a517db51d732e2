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

    def __add__(self, other: "ClearCounts") -> "ClearCounts":
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


def clear_counts(gt: Tracks, pred: Tracks, pairs: FramePairs | None = None, *,
                 official_track_classes: bool = True, threshold: float = IOU_THRESHOLD) -> ClearCounts:
    """CLEAR MOT counts. ``official_track_classes`` reproduces the devkit's MT/PT/ML quirk."""
    pairs = frame_pairs(gt, pred) if pairs is None else pairs
    candidates = pairs.select(is_match(pairs.iou, threshold))
    match_gt, match_pred = _match(gt, pred, candidates)
    distance = 1.0 - _pair_iou(candidates, match_gt, match_pred)
    tp = len(match_gt)
    idsw = _id_switches(gt, pred, match_gt, match_pred)
    mt, pt, ml, fm, num_ids = _track_classes(gt, pred, match_gt, official_track_classes)
    return ClearCounts(
        TP=tp, FP=len(pred) - tp, FN=len(gt) - tp, IDSW=idsw, FM=fm, MT=mt, PT=pt, ML=ml,
        num_gt=len(gt), num_pred=len(pred), num_gt_ids=num_ids, total_distance=float(distance.sum()),
    )


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
    """Run the devkit's sequential rule on the ambiguous frames only."""
    order = np.argsort(frames, kind="stable")
    sorted_frames = frames[order]
    simple_matches: dict[int, dict[int, int]] = {}
    solved: dict[int, dict[int, int]] = {}  # frame -> {gt id: pred id}
    out_gt, out_pred = [], []

    def candidates_in(frame: int) -> np.ndarray:
        lo, hi = np.searchsorted(sorted_frames, [frame, frame + 1])
        return order[lo:hi]

    def matches_at(frame: int) -> dict[int, int]:
        if frame in solved:
            return solved[frame]
        if frame not in simple_matches:
            idx = candidates_in(frame)
            idx = idx[simple[idx]]
            simple_matches[frame] = dict(zip(gt.ids[cand.gt_row[idx]].tolist(), pred.ids[cand.pred_row[idx]].tolist()))
        return simple_matches[frame]

    for frame in ambiguous_frames.tolist():
        idx = candidates_in(frame)
        g_ids = gt.ids[cand.gt_row[idx]]
        p_ids = pred.ids[cand.pred_row[idx]]
        dist = 1.0 - cand.iou[idx]
        previous = matches_at(frame - 1)
        kept = np.array([previous.get(g) == p for g, p in zip(g_ids.tolist(), p_ids.tolist())], dtype=bool)
        mapping = dict(zip(g_ids[kept].tolist(), p_ids[kept].tolist()))
        free = ~np.isin(g_ids, g_ids[kept]) & ~np.isin(p_ids, p_ids[kept])
        mapping.update(_min_cost_max_matching(g_ids[free], p_ids[free], dist[free]))
        solved[frame] = mapping
        chosen = np.array([mapping.get(g) == p for g, p in zip(g_ids.tolist(), p_ids.tolist())], dtype=bool)
        out_gt.append(cand.gt_row[idx[chosen]])
        out_pred.append(cand.pred_row[idx[chosen]])
    return np.concatenate(out_gt), np.concatenate(out_pred)


def _min_cost_max_matching(g_ids: np.ndarray, p_ids: np.ndarray, dist: np.ndarray) -> dict[int, int]:
    """Most matches first, then least total distance; ties broken like the devkit (row-major uid)."""
    if not len(g_ids):
        return {}
    rows, row_index = np.unique(g_ids, return_inverse=True)
    cols, col_index = np.unique(p_ids, return_inverse=True)
    uid = np.empty(len(dist))
    uid[np.lexsort((col_index, row_index))] = np.arange(len(dist))
    forbidden = float(len(dist) + 1)  # worth more than any set of allowed pairs: cardinality first
    cost = np.full((len(rows), len(cols)), forbidden)
    cost[row_index, col_index] = dist + _TIE_BREAK * uid
    r, c = linear_sum_assignment(cost)
    allowed = cost[r, c] < forbidden
    return dict(zip(rows[r[allowed]].tolist(), cols[c[allowed]].tolist()))


def _pair_iou(cand: FramePairs, match_gt: np.ndarray, match_pred: np.ndarray) -> np.ndarray:
    if not len(match_gt):
        return np.zeros(0)
    n_pred = int(max(cand.pred_row.max(initial=0), match_pred.max(initial=0))) + 1
    key = cand.gt_row * n_pred + cand.pred_row
    order = np.argsort(key)
    where = np.searchsorted(key[order], match_gt * n_pred + match_pred)
    return cand.iou[order[where]]


# --------------------------------------------------------------------------- counts
def _id_switches(gt: Tracks, pred: Tracks, match_gt: np.ndarray, match_pred: np.ndarray) -> int:
    if len(match_gt) < 2:
        return 0
    g_id, frame, p_id = gt.ids[match_gt], gt.frames[match_gt], pred.ids[match_pred]
    order = np.lexsort((frame, g_id))
    g_id, frame, p_id = g_id[order], frame[order], p_id[order]
    same_object = g_id[1:] == g_id[:-1]
    changed = p_id[1:] != p_id[:-1]
    span = int(gt.frames.max()) + 2
    present = np.sort(gt.ids.astype(np.int64) * span + gt.frames)
    was_present = _isin_sorted(g_id[1:] * span + frame[1:] - 1, present)
    return int(np.count_nonzero(same_object & changed & was_present))


def _track_classes(gt: Tracks, pred: Tracks, match_gt: np.ndarray, official: bool) -> tuple[int, int, int, int, int]:
    """MT, PT, ML, fragmentations and the number of GT trajectories."""
    ids, gt_index = np.unique(gt.ids, return_inverse=True)
    if not len(ids):
        return 0, 0, 0, 0, 0
    length = np.bincount(gt_index, minlength=len(ids))
    tracked = np.bincount(gt_index[match_gt], minlength=len(ids))
    ratio = tracked / length
    mostly_lost = ratio < 0.2
    mostly_tracked = ratio >= 0.8
    if official:
        # CLEAR_MOT_HUN: PT needs the prediction's last frame to reach the object's last frame,
        # and an object tracked for exactly 80% is PT; objects failing every test are unclassified.
        last_frame = np.zeros(len(ids), np.int64)
        np.maximum.at(last_frame, gt_index, gt.frames)
        pred_end = int(pred.frames.max()) if len(pred) else -1
        partly = ~mostly_lost & (pred_end >= last_frame) & (ratio <= 0.8)
        mostly_tracked &= ~mostly_lost & ~partly
    else:
        partly = ~mostly_lost & ~mostly_tracked
    fragments = 0
    if len(match_gt):
        g, f = gt_index[match_gt], gt.frames[match_gt]
        order = np.lexsort((f, g))
        g, f = g[order], f[order]
        fragments = int(np.count_nonzero((g[1:] == g[:-1]) & (np.diff(f) > 1)))
    return int(mostly_tracked.sum()), int(partly.sum()), int(mostly_lost.sum()), fragments, len(ids)


def _isin_sorted(values: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    where = np.clip(np.searchsorted(sorted_keys, values), 0, max(len(sorted_keys) - 1, 0))
    return sorted_keys[where] == values if len(sorted_keys) else np.zeros(len(values), bool)
