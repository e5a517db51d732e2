"""Tracking by detection: Kalman prediction + Hungarian IoU assignment, with birth and death rules."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from crmot.data.boxes import iou_matrix
from crmot.tracklets.kalman import KalmanBoxes


@dataclass
class TrackerConfig:
    iou_threshold: float = 0.3  # least IoU between a prediction and a detection to link them
    min_hits: int = 3  # detections before a track is reported (births need evidence)
    max_age: int = 8  # frames a track survives without detection (bridges short occlusions)
    buffer: float = 0.4  # boxes grow by this share of their size on every side before IoU (thin, fast objects)
    appearance_weight: float = 2.0  # IoU given up per unit of appearance distance, where features are given
    appearance_memory: float = 0.7  # share of a track's appearance kept at each update
    match_value: float = 0.5  # what a link is worth beside its score: made only where IoU - appearance cost > -match_value


@dataclass
class Assignment:
    """What the tracker decided for one frame's detections."""

    track_ids: np.ndarray  # per detection: its track id, or 0 while the track is not yet confirmed
    confirmed_now: list[tuple[int, list[int]]] = field(default_factory=list)  # (track id, earlier detection keys)

    def owners(self, keys: list[int]) -> dict[int, int]:
        """Detection key -> track id for every detection decided by this step: this frame's
        detections of confirmed tracks and the held-back ones of tracks confirmed now."""
        decided = {k: int(t) for k, t in zip(keys, self.track_ids.tolist()) if t}
        for track_id, earlier in self.confirmed_now:
            decided.update(dict.fromkeys(earlier, track_id))
        return decided


class IoUTracker:
    """SORT-style tracker. Detections of unconfirmed tracks are held back and reported, with their
    track id, once the track is confirmed, so no tracklet loses its first frames."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.kalman = KalmanBoxes()
        self.ids = np.zeros(0, np.int64)
        self.hits = np.zeros(0, np.int64)
        self.misses = np.zeros(0, np.int64)
        self.pending: list[list[int]] = []  # per track: detection keys seen before confirmation
        self.features: np.ndarray | None = None  # (tracks, D) running appearance, when steps give features
        self.next_id = 1

    def step(self, boxes: np.ndarray, keys: list[int], features: np.ndarray | None = None) -> Assignment:
        """Advance one frame with its detections (``keys`` identify them for late reporting).

        ``features`` (detections, D), optional: appearance vectors; with them a match trades IoU for
        appearance (``appearance_weight``), so two people crossing keep their ids."""
        cfg = self.config
        predicted = self.kalman.predict() if len(self.kalman) else np.zeros((0, 4))
        matched_det, matched_trk = np.zeros(0, np.int64), np.zeros(0, np.int64)
        if len(predicted) and len(boxes):
            iou = iou_matrix(_grow(boxes, cfg.buffer), _grow(predicted, cfg.buffer))
            score, allowed = iou, iou >= cfg.iou_threshold
            if features is not None and self.features is not None:
                score = iou - cfg.appearance_weight * np.linalg.norm(features[:, None] - self.features[None], axis=-1)
            matched_det, matched_trk = assign(score + cfg.match_value, allowed)
        if features is not None:
            self._remember(features, matched_det, matched_trk, len(boxes))
        self.kalman.update(matched_trk, boxes[matched_det])
        self.hits[matched_trk] += 1
        self.misses += 1
        self.misses[matched_trk] = 0
        track_ids = np.zeros(len(boxes), np.int64)
        confirmed_now = []
        for det, trk in zip(matched_det.tolist(), matched_trk.tolist()):
            if self.hits[trk] >= cfg.min_hits:
                if self.pending[trk]:
                    confirmed_now.append((int(self.ids[trk]), self.pending[trk]))
                    self.pending[trk] = []
                track_ids[det] = self.ids[trk]
            else:
                self.pending[trk].append(keys[det])
        new = np.setdiff1d(np.arange(len(boxes)), matched_det)
        if len(new):
            self.kalman.add(boxes[new])
            self.ids = np.concatenate([self.ids, np.arange(self.next_id, self.next_id + len(new))])
            self.next_id += len(new)
            self.hits = np.concatenate([self.hits, np.ones(len(new), np.int64)])
            self.misses = np.concatenate([self.misses, np.zeros(len(new), np.int64)])
            self.pending.extend([keys[d]] for d in new.tolist())
            if cfg.min_hits <= 1:
                track_ids[new] = self.ids[-len(new):]
                for k in range(len(new)):
                    self.pending[-len(new) + k] = []
        alive = self.misses <= cfg.max_age
        if self.features is not None:
            self.features = self.features[alive]
        self.kalman.keep(alive)
        self.ids, self.hits, self.misses = self.ids[alive], self.hits[alive], self.misses[alive]
        self.pending = [p for p, a in zip(self.pending, alive.tolist()) if a]
        return Assignment(track_ids, confirmed_now)

    def _remember(self, features: np.ndarray, matched_det: np.ndarray, matched_trk: np.ndarray, count: int) -> None:
        """Blend matched detections into their tracks' appearance; new tracks start from theirs.
        Runs before the new tracks are appended, so their rows follow in the same order."""
        if self.features is None:
            self.features = np.zeros((len(self.ids), features.shape[1]))
        keep = self.config.appearance_memory
        self.features[matched_trk] = keep * self.features[matched_trk] + (1 - keep) * features[matched_det]
        new = np.setdiff1d(np.arange(count), matched_det)
        self.features = np.concatenate([self.features, features[new]])


def assign(value: np.ndarray, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the allowed pairs of greatest total ``value``, where any row or column may stay
    unmatched (worth 0). A forbidden pair priced at a large cost instead makes the assignment match as
    many as it can first: two tracks crossing then swap when one of the right links is out of reach."""
    n, m = value.shape
    big = 1e6
    cost = np.full((n + m, m + n), big)
    cost[:n, :m] = np.where(allowed, -value, big)
    cost[np.arange(n), m + np.arange(n)] = 0.0  # row i left unmatched
    cost[n + np.arange(m), np.arange(m)] = 0.0  # column j left unmatched
    cost[n:, m:] = 0.0
    rows, cols = linear_sum_assignment(cost)
    real = (rows < n) & (cols < m)
    rows, cols = rows[real], cols[real]
    good = allowed[rows, cols] & (value[rows, cols] > 0)
    return rows[good], cols[good]


def _grow(boxes: np.ndarray, share: float) -> np.ndarray:
    """xywh boxes grown by ``share`` of their width and height on every side."""
    if not share:
        return boxes
    margin = share * boxes[:, 2:4]
    return np.concatenate([boxes[:, :2] - margin, boxes[:, 2:4] + 2 * margin], axis=1)
