"""Pseudo labels on disk (a CRTrack label root) and how good they are against ground truth.

For each scene: ``images/<split>/<Scene>_View<K>/{seqinfo.ini, gt/gt.txt, gt/masks.jsonl}`` with the
pseudo identities as global ids, ``labels_with_ids_text/<split>/tackled_text/<Scene>.txt`` (pseudo
expressions: descriptions and their sub-phrases, each mapped to every identity it fits) and
``gt_train/<Scene>.txt`` (descriptions). Our extension ``identities/<split>/<Scene>.json`` keeps each
identity's colour attributes and tracklets, for the training-free matcher and for debugging.
Images are not copied: training reads them from the source root.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from crmot.association import attributes as attrs
from crmot.association.colour import COLOUR_NAMES
from crmot.association.describe import Description
from crmot.association.scene import SceneAssociation
from crmot.data import masks as rle
from crmot.data.crtrack import (
    Expression,
    Scene,
    gt_tracks,
    list_scenes,
    load_scene,
    write_descriptions,
    write_expressions,
    write_view,
)
from crmot.data.tracks import Tracks
from crmot.errors import MissingFileError
from crmot.io import atomic_write_json, atomic_write_text
from crmot.metrics.clear import match_boxes
from crmot.metrics.sequence import score_sequence


def identities_path(label_root: Path, split: str, scene: str) -> Path:
    return Path(label_root) / "identities" / split / f"{scene}.json"


def view_rows(result: SceneAssociation, view: int) -> tuple[Tracks, list[dict]]:
    """Rows of one view with identity ids; where an identity has two rows in a frame (tracker
    hand-over overlap), the higher-scoring one."""
    rows = [(int(f), int(result.labels[i]), b, float(s), m)
            for i, t in enumerate(result.tracklets) if t.view == view
            for f, b, s, m in zip(t.frames.tolist(), t.boxes, t.scores.tolist(), t.masks)]
    best: dict[tuple[int, int], tuple] = {}
    for row in rows:
        key = row[:2]
        if key not in best or row[3] > best[key][3]:
            best[key] = row
    kept = [best[k] for k in sorted(best)]
    if not kept:
        return Tracks.empty(), []
    tracks = gt_tracks(np.array([r[0] for r in kept]), np.array([r[1] for r in kept]), np.stack([r[2] for r in kept]))
    return tracks, [r[4] for r in kept]


def pseudo_expressions(scene: str, descriptions: dict[int, Description]) -> list[Expression]:
    """Every description and sub-phrase, mapped to each identity whose named attributes fit it. A
    sentence that names nothing ("A man") would refer to everyone and teaches no referring: left out."""
    sentences = list(dict.fromkeys(p for d in descriptions.values() for p in d.phrases))
    out = []
    for text in sentences:
        constraints = attrs.parse(text)
        if not constraints.colours:
            continue
        ids = tuple(i for i, d in sorted(descriptions.items()) if constraints.fits(d.named))
        if ids:
            out.append(Expression(scene=scene, sentence=text, ids=ids))
    return out


def write_oracle_labels(root: Path, label_root: Path, split: str) -> int:
    """A label root built from the dataset's own ground truth the way stage 2 builds pseudo labels:
    GT rows, masks and ids, the GT expressions, plus the phrases of every person's GT description
    mapped to every person they fit. It is what stage 2 would write if stages 1 and 2 were perfect,
    so a model trained on it is the upper bound of weak training. Returns the number of scenes."""
    names = list_scenes(root, split)
    for name in names:
        scene = load_scene(root, split, name)
        for view in scene.views:
            path = write_view(label_root, split, name, view.index, view.seqinfo, view.gt)
            if view.masks_path.exists():
                atomic_write_text(path / "gt" / "masks.jsonl", view.masks_path.read_text())
        described = {i: Description(text, attrs.parse(text).colours) for i, text in scene.descriptions.items()}
        known = {e.sentence for e in scene.expressions}
        phrases = [e for e in pseudo_expressions(name, described) if e.sentence not in known]
        write_expressions(label_root, split, name, [*scene.expressions, *phrases])
        write_descriptions(label_root, split, name, scene.descriptions)
    return len(names)


def write_scene(label_root: Path, scene: Scene, result: SceneAssociation) -> None:
    """The scene's part of the label root (every file atomically)."""
    for view in scene.views:
        tracks, masks = view_rows(result, view.index)
        path = write_view(label_root, scene.split, scene.name, view.index, view.seqinfo, tracks)
        rle.write_jsonl(path / "gt" / "masks.jsonl", masks)
    write_expressions(label_root, scene.split, scene.name, pseudo_expressions(scene.name, result.descriptions))
    write_descriptions(label_root, scene.split, scene.name, {i: d.sentence for i, d in result.descriptions.items()})
    identities = {
        str(i): {"sentence": d.sentence, "named": {k: sorted(v) for k, v in d.named.items()},
                 "probabilities": {k: dict(zip(COLOUR_NAMES, np.round(p, 4).tolist())) for k, p in d.probabilities.items()},
                 "tracklets": [{"view": t.view, "tid": t.tid, "source": t.source, "first": t.first, "last": t.last}
                               for t, label in zip(result.tracklets, result.labels.tolist()) if label == i]}
        for i, d in result.descriptions.items()
    }
    atomic_write_json(identities_path(label_root, scene.split, scene.name),
                      {"geometry": result.geometry, "splits": result.splits, "rounds": result.rounds,
                       "identities": identities})


def read_identity_descriptions(label_root: Path, split: str, scene: str) -> dict[int, Description]:
    """Descriptions with attributes, as written by :func:`write_scene`."""
    path = identities_path(label_root, split, scene)
    if not path.exists():
        raise MissingFileError(f"{path}: no identity attributes; run stage 2 (make pseudolabels) on {split} first")
    data = json.loads(path.read_text())["identities"]
    return {int(i): Description(d["sentence"], {k: frozenset(v) for k, v in d["named"].items()},
                                {k: np.array([p[c] for c in COLOUR_NAMES]) for k, p in d["probabilities"].items()})
            for i, d in data.items()}


# --------------------------------------------------------------------------- quality against GT
def identity_map(gt_views: dict[int, Tracks], pred_views: dict[int, Tracks]) -> dict[int, int]:
    """Pseudo id -> the GT id it overlaps (IoU >= 0.5) in most rows over all views."""
    votes: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for k, gt in gt_views.items():
        pred = pred_views.get(k, Tracks.empty())
        rows_gt, rows_pred = match_boxes(gt, pred)
        for g, p in zip(gt.ids[rows_gt].tolist(), pred.ids[rows_pred].tolist()):
            votes[p][g] += 1
    return {p: max(v, key=v.get) for p, v in votes.items()}


def colour_agreement(named: dict[int, dict[str, frozenset[str]]], truth: dict[int, dict[str, frozenset[str]]],
                     mapping: dict[int, int]) -> dict[str, list[int]]:
    """Per described attribute, [right, total] over the pseudo identities that map to a described GT
    person: right when the colours stage 2 named are exactly those of the GT description (none named
    where the GT names none counts as right). Says which garment's words the student learns wrong."""
    counts = {a: [0, 0] for a in attrs.OBSERVED}
    for pseudo_id, colours in named.items():
        gt_id = mapping.get(pseudo_id)
        if gt_id is None or gt_id not in truth:
            continue
        for attribute, count in counts.items():
            count[0] += colours.get(attribute, frozenset()) == truth[gt_id].get(attribute, frozenset())
            count[1] += 1
    return counts


def scene_quality(scene: Scene, label_root: Path) -> dict | None:
    """Identity CVRIDF1 / CVRMA (category level: all GT people vs all pseudo identities), the
    precision / recall of the pseudo expressions' referents (judged by the GT descriptions) and how
    often each garment's colours are named right (:func:`colour_agreement`)."""
    if any(v.gt is None for v in scene.views):
        return None
    pseudo = load_scene(label_root, scene.split, scene.name)
    gt_views = {v.index: v.gt for v in scene.views}
    pred_views = {v.index: v.gt for v in pseudo.views}
    score = score_sequence(gt_views, pred_views, "crtrack", per_view=True)
    out = {"CVRIDF1": score.CVRIDF1, "CVRMA": score.CVRMA, "identities": int(len(pseudo.global_ids())),
           "gt_identities": int(len(scene.global_ids())),
           "views": {f"View{k}": {"MOTA": v.MOTA, "IDF1": v.IDF1, "recall": v.clear.recall,
                                  "precision": v.clear.precision} for k, v in score.per_view.items()}}
    if scene.descriptions:
        mapping = identity_map(gt_views, pred_views)
        truth = {g: attrs.parse(text).colours for g, text in scene.descriptions.items()}
        reachable = set(mapping.values())
        pairs = correct = relevant = found = 0
        for expr in pseudo.expressions:
            constraints = attrs.parse(expr.sentence)
            chosen = {mapping.get(i) for i in expr.ids} - {None}
            pairs += len(expr.ids)
            correct += sum(1 for i in expr.ids if (g := mapping.get(i)) is not None and constraints.fits(truth.get(g, {})))
            should = {g for g in reachable if constraints.fits(truth.get(g, {}))}
            relevant += len(should)
            found += len(should & chosen)
        out["expressions"] = len(pseudo.expressions)
        out["expression_precision"] = 100.0 * correct / pairs if pairs else 0.0
        out["expression_recall"] = 100.0 * found / relevant if relevant else 0.0
        out["expression_counts"] = {"pairs": pairs, "correct": correct, "relevant": relevant, "found": found}
        named = {i: attrs.parse(text).colours for i, text in pseudo.descriptions.items()}  # read like the truth
        out["colour_counts"] = colour_agreement(named, truth, mapping)
        out["colour_accuracy"] = _accuracy(out["colour_counts"])
    return out


def _accuracy(counts: dict[str, list[int]]) -> dict[str, float]:
    return {a: 100.0 * right / total for a, (right, total) in counts.items() if total}


def summarize(per_scene: dict[str, dict]) -> dict:
    keys = ("CVRIDF1", "CVRMA", "expression_precision", "expression_recall")
    out = {k: float(np.mean([s[k] for s in per_scene.values() if k in s])) for k in keys
           if any(k in s for s in per_scene.values())}
    counted = [s["colour_counts"] for s in per_scene.values() if "colour_counts" in s]
    if counted:  # pooled over the split's identities, not a mean of small scenes' percentages
        out["colour_accuracy"] = _accuracy({a: [sum(c[a][0] for c in counted), sum(c[a][1] for c in counted)]
                                            for a in attrs.OBSERVED})
    return out
