"""From ViewSAM's reading of the stage-1 rows to the answer of every expression: one id per object
across views, output where the evidence pooled over views and frames says referred.

1. Each stage-1 tracklet of each view gets a prototype, the mean of ViewSAM's identity embeddings
   over its rows (weighted by objectness); tracklets ViewSAM does not take for objects are dropped.
2. Tracklets become cross-view identities by constrained average-linkage clustering (never two
   tracklets of one view at the same instant in one identity). The affinity of two tracklets is the
   cosine of their prototypes and, across views, how much their time spans overlap: synchronized
   cameras over one area see a person arrive and leave at about the same times, which tells apart
   two people dressed alike. Identities do not depend on the expression: every expression of a
   scene sees the same ones.
3. An identity answers an expression when ViewSAM's referring probability, pooled over all its rows
   in all views and frames (weighted by objectness), clears a threshold, or comes close enough to
   the best identity's: a view where the evidence is occluded or ambiguous is outvoted by the views
   that see it, and words the model never met in training lower every identity alike. As every
   CRTrack expression refers to some object, the most referred identity answers when none clears
   it (``at_least_one``).
4. A trailing clause narrows a sentence (``clauses``; :mod:`crmot.inference.clauses`): ViewSAM has
   read "X, carrying Y" and "X", and by default each box keeps the smaller of its two probabilities,
   so the clause's few words cannot carry a box that "X" does not describe. ``identity`` goes
   further: "X, carrying Y" is answered only among the identities that answer "X".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

from crmot.association.affinity import Affinity
from crmot.association.clustering import cluster
from crmot.association.geometry import GroundPlane, apply_homography
from crmot.data import masks as rle
from crmot.data.crtrack import Scene
from crmot.data.tracks import Tracks
from crmot.inference.candidates import ViewRows
from crmot.inference.clauses import scene_questions


@dataclass(frozen=True)  # a shared default of the stage's signature
class FusionConfig:
    """Stage 4's settings (``--model.fusion.<name>``), chosen on the demo preset's validation seeds 0-4;
    benchmarks report other seeds. ``refer_threshold`` was chosen again for the 2000-step models (0.5
    before): ``benchmarks/results/viewsam_ablation.json`` -> ``decision_grid``."""

    #: least mean objectness of a tracklet that is kept. Low: a model trained on pseudo labels is unsure
    #: of the people its teacher missed (drawn as negatives in training), and dropping a person costs
    #: every expression about them, while a kept speck of floor is rarely the best answer to any
    objectness: float = 0.2
    identity_threshold: float = 0.4  # least mean affinity of the tracklets in one identity
    time_weight: float = 0.3  # share of a cross-view affinity given to the overlap of the two time spans
    geometry_weight: float = 0.3  # share given to where the two stand (view-to-view homography of the feet)
    geometry_sigma: float = 0.5  # feet this far apart (in person heights) halve-ish the geometric evidence
    max_distance: float = 2.0  # person heights: tracklets seen together further apart cannot be one object
    overlap_tolerance: int = 1  # frames two tracklets of one view may share and still be one object
    refer_threshold: float = 0.6  # least pooled referring probability of an answered identity ...
    relative_threshold: float = 0.85  # ... or least share of the best identity's (1: the best only)
    at_least_one: bool = True  # every CRTrack expression refers to an object: else answer the most referred
    #: an expression with a trailing clause, "X, carrying Y" (4. above): read ``whole``; each ``box``
    #: keeps the smaller of its probabilities for it and for "X"; or answered only among the
    #: identities that answer "X", each at the smaller of its two pooled probabilities (``identity``)
    clauses: Literal["whole", "box", "identity"] = "box"
    min_rows: int = 3  # identities with fewer rows (all views) are flicker, not objects


@dataclass
class Identity:
    """One object across views: its rows in each view (indices into that view's ``ViewRows``)."""

    rows: dict[int, np.ndarray]

    def __len__(self) -> int:
        return sum(len(r) for r in self.rows.values())


@dataclass
class Answer:
    """One expression's output in one view: rows with cross-view ids and their masks."""

    tracks: Tracks  # score = the identity's pooled referring probability
    masks: list[dict]  # COCO RLE at the frame's size, one per row


def identities(views: dict[int, ViewRows], config: FusionConfig) -> list[Identity]:
    """The scene's cross-view identities, from ViewSAM's identity embeddings of its stage-1 tracklets."""
    members = kept_tracklets(views, config)
    if not members:
        return []
    prototypes = np.stack([_prototype(views[k], rows) for k, rows in members])
    affinity = _affinity(members, views, prototypes, config)
    labels = cluster(affinity, config.identity_threshold)
    if config.geometry_weight > 0 and len(views) > 1:
        geometric = _with_geometry(members, views, labels, affinity, config)
        if geometric is not None:
            labels = cluster(geometric, config.identity_threshold)
    return [identity for identity in group(members, labels.tolist()) if len(identity) >= config.min_rows]


def kept_tracklets(views: dict[int, ViewRows], config: FusionConfig) -> list[tuple[int, np.ndarray]]:
    """(view, rows) of every stage-1 tracklet whose mean objectness clears ``config.objectness``."""
    members = []
    for k, view in views.items():
        for tid in np.unique(view.tracks.ids):
            rows = np.flatnonzero(view.tracks.ids == tid)
            if view.objectness[rows].mean() >= config.objectness:
                members.append((k, rows))
    return members


def group(members: list[tuple[int, np.ndarray]], labels: list[int]) -> list[Identity]:
    """One identity per label (in label order) of the tracklets ``members`` labelled ``labels``."""
    grouped: dict[int, dict[int, list[np.ndarray]]] = {}
    for (k, rows), label in zip(members, labels):
        grouped.setdefault(label, {}).setdefault(k, []).append(rows)
    return [Identity({k: np.sort(np.concatenate(parts)) for k, parts in per_view.items()})
            for _, per_view in sorted(grouped.items())]


def answer(views: dict[int, ViewRows], objects: list[Identity], expression: int, sizes: dict[int, tuple[int, int]],
           config: FusionConfig, within: int | None = None) -> dict[int, Answer]:
    """The answer of expression ``expression`` (a column of the views' ``refer``) in every view
    (``sizes``: view -> (width, height)); ``within``: the column of its clause-free sentence, which
    narrows it as ``config.clauses`` says."""
    per_box = within if config.clauses == "box" else None
    pooled = np.array([_pooled_refer(views, identity, expression, per_box) for identity in objects])
    candidates = np.arange(len(objects))
    if within is not None and config.clauses == "identity":
        clause_free = np.array([_pooled_refer(views, identity, within) for identity in objects])
        candidates = decide(clause_free, candidates, config)
        pooled = np.minimum(pooled, clause_free)
    answered = decide(pooled, candidates, config).tolist()
    out = {}
    for k, view in views.items():
        chosen = [(objects[i].rows[k], new_id, pooled[i]) for new_id, i in enumerate(answered, start=1) if k in objects[i].rows]
        out[k] = _answer(view, chosen, sizes[k]) if chosen else Answer(Tracks.empty(), [])
    return out


def decide(pooled: np.ndarray, candidates: np.ndarray, config: FusionConfig) -> np.ndarray:
    """The ``candidates`` (indices into ``pooled``) that answer: those that clear ``refer_threshold``
    or come within ``relative_threshold`` of the best candidate's; the best one when none does."""
    if not len(candidates):
        return candidates
    p = pooled[candidates]
    keep = (p >= config.refer_threshold) | (config.at_least_one & (p >= config.relative_threshold * p.max()))
    if not keep.any() and config.at_least_one:
        keep[np.argmax(p)] = True
    return candidates[keep]


def answer_scene(views: dict[int, ViewRows], scene: Scene, config: FusionConfig) -> dict[str, dict[int, Answer]]:
    """Every expression of ``scene`` answered in every view, over one set of cross-view identities.
    ``views`` hold ViewSAM's reading of the sentences :func:`crmot.inference.clauses.scene_questions` asks:
    the expressions, then the clause-free sentences (needed unless ``config.clauses`` is ``whole``)."""
    objects = identities(views, config)
    sizes = {v.index: (v.seqinfo.width, v.seqinfo.height) for v in scene.views}
    within = clause_free_columns(views, scene, config)
    return {e.name: answer(views, objects, i, sizes, config, within.get(i)) for i, e in enumerate(scene.expressions)}


def clause_free_columns(views: dict[int, ViewRows], scene: Scene, config: FusionConfig) -> dict[int, int]:
    """Expression index -> the ``refer`` column of its clause-free sentence (none when ``config.clauses``
    is ``whole``); an error when ``views`` were not read with those sentences."""
    if config.clauses == "whole":
        return {}
    asked = scene_questions(scene)
    read = {v.refer.shape[1] for v in views.values()}
    if asked.narrowed and read != {len(asked.sentences)}:
        raise ValueError(f"{scene.split}/{scene.name}: ViewSAM read {sorted(read)} sentences per box; stage 4 needs "
                         f"{len(asked.sentences)}, the expressions and their clause-free sentences "
                         "(crmot.inference.clauses.scene_questions)")
    return dict(asked.narrowed)


def _pooled_refer(views: dict[int, ViewRows], identity: Identity, expression: int, within: int | None = None) -> float:
    """Referring probability of one identity over all its rows, weighted by their objectness; with
    ``within``, each row's is at most its probability for that column."""
    weight = np.concatenate([views[k].objectness[rows] for k, rows in identity.rows.items()])
    refer = np.concatenate([views[k].refer[rows, expression] for k, rows in identity.rows.items()])
    if within is not None:
        refer = np.minimum(refer, np.concatenate([views[k].refer[rows, within] for k, rows in identity.rows.items()]))
    return float((weight * refer).sum() / max(weight.sum(), 1e-9))


def _prototype(view: ViewRows, rows: np.ndarray) -> np.ndarray:
    mean = (view.identity[rows] * view.objectness[rows, None]).sum(0)
    return mean / max(np.linalg.norm(mean), 1e-9)


def _affinity(members: list[tuple[int, np.ndarray]], views: dict[int, ViewRows], prototypes: np.ndarray,
              config: FusionConfig) -> Affinity:
    """Cosine of prototypes, across views mixed with the overlap of the time spans; tracklets of one
    view that share more than ``overlap_tolerance`` frames cannot be one object."""
    n = len(members)
    camera = np.array([k for k, _ in members])
    last = max(int(v.tracks.frames.max()) for v in views.values() if len(v.tracks))
    presence = np.zeros((n, last + 1), bool)
    for i, (k, rows) in enumerate(members):
        presence[i, views[k].tracks.frames[rows]] = True
    together = presence.astype(np.int32) @ presence.T.astype(np.int32)
    same_view = camera[:, None] == camera[None, :]
    first = np.array([views[k].tracks.frames[rows].min() for k, rows in members])
    last_seen = np.array([views[k].tracks.frames[rows].max() for k, rows in members])
    common = np.minimum(last_seen[:, None], last_seen[None]) - np.maximum(first[:, None], first[None]) + 1
    union = np.maximum(last_seen[:, None], last_seen[None]) - np.minimum(first[:, None], first[None]) + 1
    span_overlap = np.clip(common, 0, None) / union
    score = prototypes @ prototypes.T
    w = config.time_weight
    score = np.where(same_view, score, (1 - w) * score + w * span_overlap)
    forbidden = same_view & (together > config.overlap_tolerance)
    known = ~np.eye(n, dtype=bool)
    return Affinity(score, known, forbidden)


def _with_geometry(members: list[tuple[int, np.ndarray]], views: dict[int, ViewRows], labels: np.ndarray,
                   affinity: Affinity, config: FusionConfig) -> Affinity | None:
    """The affinity with where tracklets stand: each view's feet mapped into the first view's image
    by homographies fitted (RANSAC) on the feet of the identities the first clustering found in two
    views at once, then the distance of two tracklets' feet at the frames they share, in person
    heights. None where no view can be mapped (too few shared identities)."""
    feet = {i: _feet(views[k], rows) for i, (k, rows) in enumerate(members)}
    camera = np.array([k for k, _ in members])
    pairs: dict[tuple[int, int], tuple[list, list]] = {}
    for i, j in zip(*np.nonzero((labels[:, None] == labels[None]) & (camera[:, None] < camera[None]))):
        common, a, b = np.intersect1d(feet[i][0], feet[j][0], return_indices=True)
        if len(common):
            src, dst = pairs.setdefault((int(camera[i]), int(camera[j])), ([], []))
            src.append(feet[i][1][a])
            dst.append(feet[j][1][b])
    plane = GroundPlane.learn({key: (np.concatenate(u), np.concatenate(v)) for key, (u, v) in pairs.items()}, {},
                              sorted(views))
    if len(plane.to_plane) < 2:
        return None
    n = len(members)
    distance = np.full((n, n), np.nan)
    for i in range(n):
        for j in range(i + 1, n):
            if camera[i] == camera[j] or camera[i] not in plane.to_plane or camera[j] not in plane.to_plane:
                continue
            common, a, b = np.intersect1d(feet[i][0], feet[j][0], return_indices=True)
            if len(common) < 3:
                continue
            there = _gap(plane, camera[j], camera[i], feet[j][1][b], feet[i][1][a], feet[i][2][a])
            back = _gap(plane, camera[i], camera[j], feet[i][1][a], feet[j][1][b], feet[j][2][b])
            distance[i, j] = distance[j, i] = 0.5 * (there + back)
    measured = ~np.isnan(distance)
    geo = np.exp(-0.5 * (np.nan_to_num(distance) / config.geometry_sigma) ** 2)
    w = config.geometry_weight
    score = np.where(measured, (1 - w) * affinity.score + w * geo, affinity.score)
    forbidden = affinity.forbidden | (measured & (np.nan_to_num(distance) > config.max_distance))
    return Affinity(score, affinity.known, forbidden)


def _gap(plane: GroundPlane, source: int, target: int, source_feet: np.ndarray, target_feet: np.ndarray,
         target_heights: np.ndarray) -> float:
    """Mean distance, in the target view's person heights, of the source's feet mapped into the target view."""
    mapped = apply_homography(np.linalg.inv(plane.to_plane[target]) @ plane.to_plane[source], source_feet)
    return float(np.mean(np.linalg.norm(mapped - target_feet, axis=1) / np.maximum(target_heights, 1.0)))


def _feet(view: ViewRows, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames, bottom-centre points and heights of a tracklet's boxes."""
    boxes = view.tracks.boxes[rows]
    return view.tracks.frames[rows], np.column_stack([boxes[:, 0] + boxes[:, 2] / 2, boxes[:, 1] + boxes[:, 3]]), boxes[:, 3]


def _answer(view: ViewRows, chosen: list[tuple[np.ndarray, int, float]], size: tuple[int, int]) -> Answer:
    rows = np.concatenate([r for r, _, _ in chosen])
    ids = np.concatenate([np.full(len(r), i) for r, i, _ in chosen])
    scores = np.concatenate([np.full(len(r), p) for r, _, p in chosen])
    frames = view.tracks.frames[rows]
    # the writers' (frame, id) order, masks alike; where an identity's two tracklets of this view
    # share a frame (a tracker hand-over), the more object-like row
    order = np.lexsort((-view.objectness[rows], ids, frames))
    first = np.ones(len(order), bool)
    first[1:] = (np.diff(frames[order]) != 0) | (np.diff(ids[order]) != 0)
    order = order[first]
    rows, ids, scores = rows[order], ids[order], scores[order]
    tracks = Tracks(view.tracks.frames[rows], ids, view.tracks.boxes[rows], scores[:, None])
    return Answer(tracks, [_full_size(view, r, size) for r in rows.tolist()])


def _full_size(view: ViewRows, row: int, size: tuple[int, int]) -> dict:
    """Row ``row``'s mask at the model's square resolution, stretched back to the frame's (width, height)."""
    if row not in view.full_masks:
        low = Image.fromarray(rle.decode(view.masks[row]).astype(np.uint8) * 255)
        view.full_masks[row] = rle.encode(np.asarray(low.resize(size, Image.BILINEAR)) >= 128)
    return view.full_masks[row]
