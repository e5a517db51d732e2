"""From ViewSAM candidates to the answer of one expression: tracks with one id across views.

1. Per view, candidates are linked over time by the stage-1 tracker (Kalman + Hungarian IoU, with the
   candidates' identity embeddings as appearance, so that two objects crossing keep their tracks).
2. Each view tracklet gets a prototype, the mean of its identity embeddings (the tracking head is
   trained so that one object agrees with itself over time and across views); tracklets become
   cross-view identities by the constrained clustering of stage 2 (never two tracklets of one view
   at the same instant in one identity).
3. An identity is referred when its referring probability, pooled over all its rows in all views
   and frames (weighted by objectness), clears a threshold: a view where the expression's evidence
   is occluded or ambiguous is outvoted by the views that see it. As every CRTrack expression
   refers to some object, the most referred identity answers when none clears it (``at_least_one``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from crmot.association.affinity import Affinity
from crmot.association.clustering import cluster
from crmot.data import masks as rle
from crmot.data.tracks import Tracks
from crmot.inference.candidates import ViewCandidates
from crmot.tracklets.tracker import IoUTracker, TrackerConfig


@dataclass
class FusionConfig:
    track_iou: float = 0.3  # least IoU between a track's prediction and a candidate to link them
    min_hits: int = 2  # candidates before a view track is believed
    max_age: int = 5  # frames a view track survives unseen
    # Identity embeddings are unit vectors (the tracker's appearance cost is at most 2 x 2): at 4 they
    # choose between links but never veto one. A trained head's embeddings are too noisy to veto:
    # 0.5 (stage 1's value) cost the demo checkpoint 0.9 CVRIDF1 and 2.2 CVRMA.
    track_match_value: float = 4.0
    identity_threshold: float = 0.5  # least mean cosine similarity of tracklet prototypes in one identity
    refer_threshold: float = 0.5  # least pooled referring probability of an answered identity
    at_least_one: bool = True  # every CRTrack expression refers to an object: else answer the most referred
    min_rows: int = 3  # identities with fewer rows (all views) are flicker, not objects


@dataclass
class Answer:
    """One expression's output in one view: rows with cross-view ids and their masks."""

    tracks: Tracks  # score = the identity's pooled referring probability
    masks: list[dict]  # COCO RLE at the frame's size, one per row


def track_view(candidates: dict[str, np.ndarray], config: FusionConfig) -> list[np.ndarray]:
    """Row indices of each confirmed tracklet of one view's candidates."""
    tracker = IoUTracker(TrackerConfig(iou_threshold=config.track_iou, min_hits=config.min_hits, max_age=config.max_age,
                                        match_value=config.track_match_value))
    frames = candidates["frames"]
    track = np.zeros(len(frames), np.int64)
    for frame in np.unique(frames):
        rows = np.flatnonzero(frames == frame).tolist()
        step = tracker.step(candidates["boxes"][rows], rows, candidates["identity"][rows].astype(np.float64))
        for row, tid in step.owners(rows).items():
            track[row] = tid
    return [np.flatnonzero(track == tid) for tid in np.unique(track[track > 0])]


def fuse(views: dict[int, ViewCandidates], sizes: dict[int, tuple[int, int]], config: FusionConfig) -> dict[int, Answer]:
    """The answer of one expression in every view (``sizes``: view -> (width, height))."""
    arrays = {k: c.arrays() for k, c in views.items()}
    members = [(k, rows) for k, a in arrays.items() for rows in track_view(a, config)]
    answers = {k: Answer(Tracks.empty(), []) for k in views}
    if not members:
        return answers
    prototypes = np.stack([_prototype(arrays[k], rows) for k, rows in members])
    labels = cluster(_affinity(members, arrays, prototypes), config.identity_threshold)
    rows_of: dict[int, list[tuple[int, np.ndarray]]] = {}
    for (k, rows), label in zip(members, labels.tolist()):
        rows_of.setdefault(label, []).append((k, rows))
    pooled = {label: _pooled_refer(parts, arrays) for label, parts in rows_of.items()
              if sum(len(rows) for _, rows in parts) >= config.min_rows}
    answered = [label for label, p in pooled.items() if p >= config.refer_threshold]
    if not answered and pooled and config.at_least_one:
        answered = [max(pooled, key=pooled.get)]
    picked: dict[int, list[tuple[np.ndarray, int, float]]] = {k: [] for k in views}
    for new_id, label in enumerate(sorted(answered), start=1):
        for k, rows in rows_of[label]:
            picked[k].append((rows, new_id, pooled[label]))
    for k, chosen in picked.items():
        if chosen:
            answers[k] = _answer(views[k], arrays[k], chosen, sizes[k])
    return answers


def _pooled_refer(parts: list[tuple[int, np.ndarray]], arrays: dict) -> float:
    """Referring probability of one identity over all its rows, weighted by their objectness."""
    weight = np.concatenate([arrays[k]["objectness"][rows] for k, rows in parts])
    refer = np.concatenate([arrays[k]["refer"][rows] for k, rows in parts])
    return float((weight * refer).sum() / max(weight.sum(), 1e-9))


def _prototype(candidates: dict[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
    weights = candidates["objectness"][rows, None]
    mean = (candidates["identity"][rows] * weights).sum(0)
    return mean / max(np.linalg.norm(mean), 1e-9)


def _affinity(members: list[tuple[int, np.ndarray]], arrays: dict, prototypes: np.ndarray) -> Affinity:
    """Cosine similarity of prototypes; tracklets of one view that share a frame cannot be one object."""
    n = len(members)
    views = np.array([k for k, _ in members])
    last = max(int(a["frames"].max()) for a in arrays.values() if len(a["frames"]))
    presence = np.zeros((n, last + 1), bool)
    for i, (k, rows) in enumerate(members):
        presence[i, arrays[k]["frames"][rows]] = True
    together = (presence.astype(np.int32) @ presence.T.astype(np.int32)) > 0
    forbidden = (views[:, None] == views[None, :]) & together
    known = ~np.eye(n, dtype=bool)
    return Affinity(prototypes @ prototypes.T, known, forbidden)


def _answer(view: ViewCandidates, candidates: dict[str, np.ndarray], chosen: list[tuple[np.ndarray, int, float]],
            size: tuple[int, int]) -> Answer:
    rows = np.concatenate([r for r, _, _ in chosen])
    ids = np.concatenate([np.full(len(r), i) for r, i, _ in chosen])
    scores = np.concatenate([np.full(len(r), p) for r, _, p in chosen])
    order = np.lexsort((ids, candidates["frames"][rows]))  # the writers' (frame, id) order, masks alike
    rows, ids, scores = rows[order], ids[order], scores[order]
    tracks = Tracks(candidates["frames"][rows], ids, candidates["boxes"][rows], scores[:, None])
    return Answer(tracks, [_full_size(view.masks[r], size) for r in rows.tolist()])


def _full_size(mask: dict, size: tuple[int, int]) -> dict:
    """A mask at the model's square resolution, stretched back to the frame's (width, height)."""
    low = Image.fromarray(rle.decode(mask).astype(np.uint8) * 255)
    return rle.encode(np.asarray(low.resize(size, Image.BILINEAR)) >= 128)
