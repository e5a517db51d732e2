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
from dataclasses import dataclass, field

import numpy as np

from crmot.association.affinity import AffinityConfig, compute_affinity
from crmot.association.appearance import Embedder, collect_crops, pool
from crmot.association.clustering import cluster
from crmot.association.colour import view_gain
from crmot.association.describe import Describer, Description
from crmot.association.geometry import GroundPlane
from crmot.association.records import Tracklet, split_view
from crmot.data import masks as rle
from crmot.data.crtrack import CRTrackFormatError, Scene
from crmot.data.frames import read_frame
from crmot.tracklets.backends import SegmentationBackend
from crmot.tracklets.tracker import iou_matrix
from crmot.tracklets.types import Tracklets, VideoSource

log = logging.getLogger(__name__)


@dataclass
class AssociationConfig:
    threshold: float = 0.65  # mean affinity two clusters need to merge
    crops_per_tracklet: int = 6
    split_chunk: int = 12  # frames per chunk when checking a tracklet for identity switches
    split_threshold: float = 0.75  # adjacent chunks less similar than this are cut apart
    reprompt_rounds: int = 2  # 0 disables re-prompting
    accept_threshold: float = 0.85  # similarity a recovered tracklet needs to its identity's prototype
    drop_threshold: float = 0.7  # members less similar than this to the rest of their identity leave it
    min_span: int = 3  # frames: shorter recoveries are not worth a tracklet, unless they bridge a gap
    max_gap: int = 3  # frames: a view that loses an identity this briefly is asked for it in between
    use_calibration: bool = True  # ground-plane geometry from calibration/<Scene>.json when present
    gain_frames: int = 16  # frames sampled to estimate a view's colour cast
    affinity: AffinityConfig = field(default_factory=AffinityConfig)


@dataclass
class SceneAssociation:
    """Stage 2's answer for one scene."""

    tracklets: list[Tracklet]
    labels: np.ndarray  # (N,) identity id per tracklet, 1..M by first appearance
    descriptions: dict[int, Description]
    rounds: list[dict]  # per re-prompting round: added, rejected, dropped, identities
    splits: int
    geometry: str  # "calibrated" | "learned" | "none"


class SceneContext:
    """Frame access, colour casts and image sizes of one scene's views."""

    def __init__(self, scene: Scene, gain_frames: int) -> None:
        self.scene = scene
        self.views = [v.index for v in scene.views]
        self.sizes = {v.index: (v.seqinfo.height, v.seqinfo.width) for v in scene.views}
        self.gains = {k: view_gain(self.video(k).spread(gain_frames)) for k in self.views}

    def read(self, view: int, frame: int) -> np.ndarray:
        return read_frame(self.scene.view(view), frame)

    def video(self, view: int) -> VideoSource:
        v = self.scene.view(view)
        return VideoSource(v.num_frames, v.seqinfo.height, v.seqinfo.width, lambda f: read_frame(v, f), v.frame_path)

    def crops(self, tracklets: list[Tracklet], per_tracklet: int):
        return collect_crops(tracklets, self.read, self.gains, self.sizes, per_tracklet)


def associate_scene(scene: Scene, stage1: dict[int, Tracklets], embedder: Embedder,
                    segmenter: SegmentationBackend | None, describer: Describer,
                    config: AssociationConfig) -> SceneAssociation:
    check_inputs(scene, stage1)
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


def tracklet_prototypes(tracklets: list[Tracklet], ctx: SceneContext, embedder: Embedder, per_tracklet: int) -> np.ndarray:
    crops = ctx.crops(tracklets, per_tracklet)
    embeddings = embedder.embed(crops)
    owners = np.array([c.owner for c in crops], np.int64)
    weights = np.array([c.weight for c in crops], np.float32)
    return pool(embeddings, owners, weights, len(tracklets))  # zeros for tracklets without a crop


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


def identity_prototypes(labels: np.ndarray, prototypes: np.ndarray, lengths: np.ndarray) -> dict[int, np.ndarray]:
    out = {}
    for label in np.unique(labels):
        members = labels == label
        vector = (prototypes[members] * lengths[members, None]).sum(0)
        out[int(label)] = vector / max(np.linalg.norm(vector), 1e-9)
    return out


def reprompt(tracklets: list[Tracklet], labels: np.ndarray, prototypes: np.ndarray, plane: GroundPlane | None,
             ctx: SceneContext, segmenter: SegmentationBackend | None, embedder: Embedder,
             config: AssociationConfig) -> tuple[list[tuple[Tracklet, int, np.ndarray]], int]:
    """Look for each identity in the views that miss it while others see it; keep what looks like it.
    Where what is kept was merged into a neighbour's mask (one blob for two people), the neighbour
    gives those pixels up: ``tracklets`` are trimmed in place."""
    if segmenter is None:
        return [], 0
    lengths = np.array([len(t) for t in tracklets], np.float32)
    identity_vectors = identity_prototypes(labels, prototypes, lengths)
    next_tid = defaultdict(int)
    held: dict[tuple[int, int], list[Holder]] = defaultdict(list)
    for i, t in enumerate(tracklets):
        next_tid[t.view] = max(next_tid[t.view], t.tid)
        for row, (f, box) in enumerate(zip(t.frames.tolist(), t.boxes)):
            held[(t.view, f)].append(Holder(int(labels[i]), box, i, row))
    proposals: list[tuple[Tracklet, int, bool]] = []  # recovery, identity, bridges a gap
    for label in np.unique(labels).tolist():
        members = [tracklets[i] for i in np.flatnonzero(labels == label)]
        positions: dict[int, list[np.ndarray]] = defaultdict(list)
        for t in members:
            if plane is not None and plane.covers(t.view):
                for f, p in zip(t.frames.tolist(), plane.feet_to_plane(t.view, t.feet)):
                    positions[f].append(p)
        for view in ctx.views:
            own = [t for t in members if t.view == view]
            seen = set().union(*[set(t.frames.tolist()) for t in own])
            elsewhere = set().union(*[set(t.frames.tolist()) for t in members if t.view != view])
            missing = sorted(elsewhere - seen)
            regions = {}
            if plane is not None and plane.covers(view) and len(missing) >= config.min_span:
                regions = _projected(plane, view, {f: positions[f] for f in missing if f in positions}, ctx.sizes[view])
            bridged = _bridge_gaps(own, missing, config.max_gap)
            regions.update(bridged)  # the view's own boxes either side place it better than the plane
            for span in _spans(sorted(regions)):
                needed = 1 if all(f in bridged for f in span) else config.min_span
                if len(span) < needed:
                    continue
                others = {f: [h for h in held[(view, f)] if h.label != label] for f in span}
                rows = segmenter.segment_regions(ctx.video(view), {f: regions[f] for f in span},
                                                 {f: [h.box for h in others[f]] for f in span})
                found = _tracklet_from_rows(view, next_tid[view] + 1, rows, regions, others, tracklets)
                if found is not None:
                    found = _fit_to_boxes(found, bridged)
                if found is not None and len(found) >= needed:
                    next_tid[view] += 1
                    proposals.append((found, label, needed == 1))
    if not proposals:
        return [], 0
    vectors = tracklet_prototypes([p[0] for p in proposals], ctx, embedder, config.crops_per_tracklet)
    # One that bridges a gap is placed by the view's own track either side, and what a neighbour's blob
    # leaves of it looks less like the person: it needs no more than a member needs to stay a member.
    accepted = [(t, label, v) for (t, label, bridges), v in zip(proposals, vectors)
                if float(v @ identity_vectors[label]) >= (config.drop_threshold if bridges else config.accept_threshold)]
    for t, label, _ in accepted:
        neighbours = [h for f in t.frames.tolist() for h in held[(t.view, f)] if h.label != label]
        _give_up_pixels(t, neighbours, tracklets)
    return accepted, len(proposals) - len(accepted)


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


def _projected(plane: GroundPlane, view: int, positions: dict[int, list[np.ndarray]],
               size: tuple[int, int]) -> dict[int, np.ndarray]:
    """Where ``view`` should see a person standing at the mean of each frame's plane ``positions``:
    the boxes at least half inside the image and at least 8 pixels tall."""
    if not positions:
        return {}
    frames = sorted(positions)
    boxes = plane.boxes_from_plane(view, np.stack([np.mean(positions[f], axis=0) for f in frames]))
    height, width = size
    x, y, w, h = boxes.T
    inside = (np.clip(x + w, 0, width) - np.clip(x, 0, width)) * (np.clip(y + h, 0, height) - np.clip(y, 0, height))
    visible = (h >= 8) & (inside >= 0.5 * w * h)
    return {f: b for f, b, v in zip(frames, boxes, visible) if v}


def _bridge_gaps(own: list[Tracklet], missing: list[int], max_gap: int) -> dict[int, np.ndarray]:
    """Boxes for the ``missing`` frames that lie in a gap of at most ``max_gap`` frames between two
    of the view's own rows of the identity: linear between the boxes either side."""
    if not own or not missing:
        return {}
    frames = np.concatenate([t.frames for t in own])
    order = np.argsort(frames, kind="stable")
    frames, boxes = frames[order], np.concatenate([t.boxes for t in own])[order]
    missing = np.asarray(missing)
    after = np.searchsorted(frames, missing)
    inside = (after > 0) & (after < len(frames))
    missing, after = missing[inside], after[inside]
    short = frames[after] - frames[after - 1] - 1 <= max_gap
    missing, after = missing[short], after[short]
    share = ((missing - frames[after - 1]) / (frames[after] - frames[after - 1]))[:, None]
    boxes = boxes[after - 1] * (1 - share) + boxes[after] * share
    return dict(zip(missing.tolist(), boxes))


def _fit_to_boxes(found: Tracklet, bridged: dict[int, np.ndarray]) -> Tracklet | None:
    """Rows that bridge a gap take the box between the track's rows either side, and the pixels of
    their mask inside it: a split merged blob outlines a person less well than their own track does."""
    rows, boxes, masks = [], [], []
    for row, f in enumerate(found.frames.tolist()):
        box, mask = found.boxes[row], found.masks[row]
        if f in bridged:
            pixels = rle.decode(mask)
            x, y, w, h = np.round(bridged[f]).astype(int)
            inside = np.zeros_like(pixels)
            inside[max(y, 0):max(y + h, 0), max(x, 0):max(x + w, 0)] = True
            if not (pixels & inside).any():
                continue
            box, mask = bridged[f], rle.encode(pixels & inside)
        rows.append(row)
        boxes.append(box)
        masks.append(mask)
    if not rows:
        return None
    return Tracklet(found.view, found.tid, found.frames[rows], np.stack(boxes), found.scores[rows], masks, found.source)


def _spans(frames: list[int], max_gap: int = 2) -> list[list[int]]:
    spans: list[list[int]] = []
    for f in frames:
        if spans and f - spans[-1][-1] <= max_gap:
            spans[-1].append(f)
        else:
            spans.append([f])
    return spans


#: A neighbour left with less than this share of its mask once a recovered person takes theirs was
#: found again (outlined more loosely or more tightly), not split from.
KEEP_OF_NEIGHBOUR = 0.4


@dataclass(frozen=True)
class Holder:
    """A row an identity holds in one frame of one view: its box, and where the row lives."""

    label: int
    box: np.ndarray  # xywh
    tracklet: int  # index into the scene's tracklets
    row: int  # row of that tracklet


def _tracklet_from_rows(view: int, tid: int, rows, regions: dict[int, np.ndarray],
                       others: dict[int, list[Holder]], tracklets: list[Tracklet]) -> Tracklet | None:
    """Re-prompted rows whose mask box agrees with the projected region (else it found something
    else) and that are not a neighbour found again (a projection that is off lands on them): the
    neighbours, rows other identities hold in that frame, each keep ``KEEP_OF_NEIGHBOUR`` of their mask."""
    if not rows:
        return None
    found = Tracklets.from_rows([(f, tid, s, m) for f, s, m in rows])
    boxes = found.tracks.boxes
    keep = [i for i, f in enumerate(found.tracks.frames.tolist())
            if iou_matrix(boxes[i][None], regions[f][None])[0, 0] >= 0.3
            and all(_left_of(tracklets[h.tracklet].masks[h.row], found.masks[i]) >= KEEP_OF_NEIGHBOUR
                    for h in others[f])]
    if not keep:
        return None
    t = split_view(view, found)[0]
    return t.take(np.asarray(keep), source="reprompt")


def _left_of(neighbour: dict, taken: dict) -> float:
    """Share of the ``neighbour`` mask's pixels outside ``taken`` (both RLE)."""
    total = float(rle.area([neighbour])[0])
    return 1.0 - float(rle.shared_area(neighbour, taken)) / max(total, 1.0)


def _give_up_pixels(recovered: Tracklet, neighbours: list[Holder], tracklets: list[Tracklet]) -> None:
    """Neighbours whose masks held the recovered person's pixels keep the rest (mask and box)."""
    taken_at = dict(zip(recovered.frames.tolist(), recovered.masks))
    for h in neighbours:
        t = tracklets[h.tracklet]
        taken = taken_at.get(int(t.frames[h.row]))
        if taken is None or rle.shared_area(t.masks[h.row], taken) == 0:
            continue
        rest = rle.decode(t.masks[h.row]) & ~rle.decode(taken)
        if not rest.any():  # several recoveries took it all: the row stays as stage 1 saw it
            continue
        rest = rle.encode(rest)
        t.masks[h.row] = rest
        t.boxes[h.row] = rle.to_boxes([rest])[0]
