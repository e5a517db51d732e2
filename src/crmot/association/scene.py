"""One scene through stage 2: appearance, splits, clustering, re-prompting rounds, descriptions.

The order follows ViewSAM's pseudo-label construction: per-tracklet prototypes; tracklets whose
halves disagree are split (stage-1 identity switches); constrained clustering gives cross-view
identities; then rounds of affinity-guided re-prompting (an identity seen in some views is looked
for in the others, where the common plane says it stands) and of pruning (tracklets that contradict
their identity's prototype leave it), each followed by clustering resumed from the current identities.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from crmot.association.affinity import compute_affinity
from crmot.association.clustering import cluster
from crmot.association.config import AssociationConfig
from crmot.association.context import SceneContext, tracklet_prototypes
from crmot.association.describe import Describer, Description
from crmot.association.geometry import GroundPlane
from crmot.association.records import Tracklet, split_view
from crmot.association.reprompt import reprompt
from crmot.crops import Embedder
from crmot.data.crtrack import CRTrackFormatError, Scene
from crmot.tracklets.backends import SegmentationBackend
from crmot.tracklets.types import Tracklets

log = logging.getLogger(__name__)

__all__ = ["AssociationConfig", "SceneAssociation", "associate_scene"]


@dataclass
class SceneAssociation:
    """Stage 2's answer for one scene."""

    tracklets: list[Tracklet]
    labels: np.ndarray  # (N,) identity id per tracklet, 1..M by first appearance
    descriptions: dict[int, Description]
    rounds: list[dict]  # per re-prompting round: added, rejected, dropped, identities
    splits: int
    geometry: str  # "calibrated" | "learned" | "none"


def associate_scene(scene: Scene, stage1: dict[int, Tracklets], embedder: Embedder,
                    segmenter: SegmentationBackend | None, describer: Describer,
                    config: AssociationConfig, progress=None) -> SceneAssociation:
    """``progress(done, total)`` is told the steps done: clustering, each re-prompting round, descriptions."""
    check_inputs(scene, stage1)
    steps = config.reprompt_rounds + 2
    report = progress or (lambda done, total: None)
    tracklets = [t for k in sorted(stage1) for t in split_view(k, stage1[k])]
    if len(scene.views) == 1:
        log.warning("%s has one view: identities link that view's tracklets only, nothing across views", scene.name)
    if not tracklets:
        log.warning("%s: stage 1 found nobody in any view; the scene gets no pseudo identities", scene.name)
        return SceneAssociation([], np.zeros(0, np.int64), {}, [], 0, "none")
    ctx = SceneContext(scene, config.gain_frames)
    tracklets, splits = split_switches(tracklets, ctx, embedder, config)
    prototypes = tracklet_prototypes(tracklets, ctx, embedder, config.crops_per_tracklet)
    calibrated = config.use_calibration and scene.calibration is not None
    plane = GroundPlane.from_calibration(scene.calibration) if calibrated else None
    labels = cluster(compute_affinity(tracklets, prototypes, scene.num_frames, plane, config.affinity), config.threshold)
    report(1, steps)
    rounds = []
    for number in range(1, config.reprompt_rounds + 1):
        if not calibrated:
            plane = learn_plane(tracklets, labels, ctx.views)
        added, rejected = reprompt(tracklets, labels, prototypes, plane, ctx, segmenter, embedder, config)
        for tracklet, label, prototype in added:
            tracklets.append(tracklet)
            labels = np.append(labels, label)
            prototypes = np.vstack([prototypes, prototype])
        labels, dropped = detach_contradictions(tracklets, labels, prototypes, config.drop_threshold)
        affinity = compute_affinity(tracklets, prototypes, scene.num_frames, plane, config.affinity)
        labels = cluster(affinity, config.threshold, initial=labels)
        report(1 + number, steps)
        rounds.append({"round": number, "added": len(added), "rejected": rejected, "dropped": dropped,
                       "identities": int(len(np.unique(labels)))})
        log.info("%s: re-prompting round %d: %d tracklets added, %d rejected, %d dropped, %d identities",
                 scene.name, number, len(added), rejected, dropped, rounds[-1]["identities"])
    labels = number_by_appearance(tracklets, labels)
    crops = ctx.crops(tracklets, config.crops_per_tracklet)
    by_identity = defaultdict(list)
    for crop in crops:
        by_identity[int(labels[crop.owner])].append(crop)
    descriptions = {i: describer.describe(by_identity[i]) for i in sorted(set(labels.tolist()))}
    geometry = "calibrated" if calibrated else ("learned" if plane is not None and config.reprompt_rounds else "none")
    report(steps, steps)
    return SceneAssociation(tracklets, labels, descriptions, rounds, splits, geometry)


def check_inputs(scene: Scene, stage1: dict[int, Tracklets]) -> None:
    """Clear messages for scenes stage 2 cannot associate."""
    missing = [v.name for v in scene.views if v.index not in stage1]
    if missing:
        raise CRTrackFormatError(scene.views[0].path.parent, f"scene {scene.name!r}: no stage-1 tracklets for {missing}")
    for view in scene.views:
        rows = stage1[view.index].tracks
        if len(rows) and rows.frames.max() > view.num_frames:
            raise CRTrackFormatError(view.path, f"stage-1 tracklets of {view.folder_name} reach frame "
                                     f"{rows.frames.max()}, the view has {view.num_frames} frames")


def split_switches(tracklets: list[Tracklet], ctx: SceneContext, embedder: Embedder,
                   config: AssociationConfig) -> tuple[list[Tracklet], int]:
    """Cut tracklets where consecutive chunks look like different people (a stage-1 identity switch)."""
    chunks, owners = [], []
    for index, t in enumerate(tracklets):
        if len(t) >= 2 * config.split_chunk:
            for rows in np.array_split(np.arange(len(t)), len(t) // config.split_chunk):
                chunks.append(t.take(rows))
                owners.append(index)
    if not chunks:
        return tracklets, 0
    prototypes = tracklet_prototypes(chunks, ctx, embedder, per_tracklet=2)
    owners = np.array(owners)
    out, next_tid, splits = [], defaultdict(int), 0
    for t in tracklets:
        next_tid[t.view] = max(next_tid[t.view], t.tid)
    for index, t in enumerate(tracklets):
        mine = np.flatnonzero(owners == index)
        if not len(mine):
            out.append(t)
            continue
        similar = (prototypes[mine[:-1]] * prototypes[mine[1:]]).sum(1)
        starts = [0] + [k + 1 for k in np.flatnonzero(similar < config.split_threshold).tolist()]
        for n, (a, b) in enumerate(zip(starts, starts[1:] + [len(mine)])):
            rows = np.concatenate([np.searchsorted(t.frames, chunks[c].frames) for c in mine[a:b]])
            if n == 0:
                out.append(t.take(rows))
            else:
                next_tid[t.view] += 1
                out.append(t.take(rows, tid=next_tid[t.view], source="split"))
                splits += 1
    return out, splits


def learn_plane(tracklets: list[Tracklet], labels: np.ndarray, views: list[int]) -> GroundPlane | None:
    """Feet of one identity seen at the same instant in two views -> view-to-view homographies."""
    pairs: dict[tuple[int, int], list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    for label in np.unique(labels):
        members = [tracklets[i] for i in np.flatnonzero(labels == label)]
        for a in members:
            for b in members:
                if a.view < b.view:
                    common, ia, ib = np.intersect1d(a.frames, b.frames, assume_unique=True, return_indices=True)
                    if len(common):
                        pairs[(a.view, b.view)].append((a.feet[ia], b.feet[ib]))
    correspondences = {k: (np.vstack([p[0] for p in v]), np.vstack([p[1] for p in v])) for k, v in pairs.items()}
    boxes = defaultdict(list)
    for t in tracklets:
        boxes[t.view].append(t.boxes)
    plane = GroundPlane.learn(correspondences, {k: np.vstack(v) for k, v in boxes.items()}, views)
    return plane if len(plane.to_plane) > 1 else None


def detach_contradictions(tracklets: list[Tracklet], labels: np.ndarray, prototypes: np.ndarray,
                          threshold: float) -> tuple[np.ndarray, int]:
    """Members whose prototype disagrees with the rest of their identity become identities of their own."""
    labels = labels.copy()
    lengths = np.array([len(t) for t in tracklets], np.float32)
    next_label = int(labels.max()) + 1 if len(labels) else 0
    dropped = 0
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < 2:
            continue
        total = (prototypes[members] * lengths[members, None]).sum(0)
        for i in members:
            rest = total - prototypes[i] * lengths[i]
            if float(prototypes[i] @ rest) / max(np.linalg.norm(rest), 1e-9) < threshold:
                labels[i] = next_label
                next_label += 1
                dropped += 1
    return labels, dropped


def number_by_appearance(tracklets: list[Tracklet], labels: np.ndarray) -> np.ndarray:
    """Identity ids 1..M, ordered by the first frame each identity appears in (then by view)."""
    first = {}
    for t, label in zip(tracklets, labels.tolist()):
        first[label] = min(first.get(label, (10**9, 0)), (t.first, t.view))
    order = sorted(first, key=first.get)
    rank = {label: n + 1 for n, label in enumerate(order)}
    return np.array([rank[label] for label in labels.tolist()], np.int64)
