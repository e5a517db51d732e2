"""Affinity-guided re-prompting: an identity seen in some views is looked for in the views that miss
it, where the common ground plane says it stands, and what the segmenter finds there is kept when it
looks like the identity. Where a recovered person was merged into a neighbour's mask, the neighbour
gives those pixels up."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from crmot.association.config import AssociationConfig
from crmot.association.context import SceneContext, tracklet_prototypes
from crmot.association.geometry import GroundPlane
from crmot.association.records import Tracklet, split_view
from crmot.crops import Embedder
from crmot.data import masks as rle
from crmot.data.boxes import iou_matrix
from crmot.tracklets.backends import SegmentationBackend
from crmot.tracklets.types import Tracklets


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
