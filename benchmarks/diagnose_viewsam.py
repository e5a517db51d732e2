"""Where a trained ViewSAM loses: its own answer against answers with one part replaced by the truth.

    python benchmarks/diagnose_viewsam.py --data WORLD --tracklets RUN/tracklets --checkpoint CKPT [--split test]
        [--fusion refer_threshold=0.7 ...]

ViewSAM reads every stage-1 box once (:func:`crmot.inference.candidates.predict_scene`); the fusion
then forms cross-view identities and answers each expression. Four answers, all from the same
reading and the same fusion settings, scored like ``make eval``:

- ``model``: ViewSAM's own identities and referring probabilities (what ``make eval`` scores);
- ``oracle identities``: stage-1 tracklets grouped by the GT object most of their boxes cover
  (IoU > 0.5), ViewSAM's referring;
- ``oracle referring``: ViewSAM's identities, each box's referring probability 1 when the GT object
  it covers is referred to, else 0;
- ``oracle both``: the ceiling that stage 1's tracklets leave.

``--fusion`` sets the decision the checkpoint is answered with where it is not the default (a
record row's own, e.g. the GT row's ``refer_threshold``). The GT of the split is read here only:
this is a diagnosis of a trained model, never part of it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402
from sweep_decision import baseline_setting, packaged_settings  # noqa: E402

from crmot.data.boxes import iou_matrix  # noqa: E402
from crmot.data.crtrack import Scene, list_scenes, load_scene  # noqa: E402
from crmot.data.expression_files import write_predictions  # noqa: E402
from crmot.data.tracks import Tracks, read_tracks  # noqa: E402
from crmot.inference.candidates import ViewRows, predict_scene  # noqa: E402
from crmot.inference.clauses import scene_questions  # noqa: E402
from crmot.inference.fusion import FusionConfig, Identity, answer, clause_free_columns, group, identities, kept_tracklets  # noqa: E402
from crmot.io import atomic_write_json  # noqa: E402
from crmot.metrics.evaluate import evaluate  # noqa: E402
from crmot.models.viewsam.checkpoint import load_viewsam  # noqa: E402
from crmot.tracklets.io import rows_path  # noqa: E402

#: A stage-1 box covers a GT object when their IoU exceeds this (the metrics' own threshold).
COVER_IOU = 0.5
#: What each answer takes from the truth: (identities, referring).
MODES = {"model": (False, False), "oracle identities": (True, False), "oracle referring": (False, True),
         "oracle both": (True, True)}


def covered_objects(tracks: Tracks, gt: Tracks) -> np.ndarray:
    """Per stage-1 row, the id of the GT object of its frame it covers best (IoU > ``COVER_IOU``), else -1.

    Many rows may cover one object: the oracles ask whose box a row is, so a person's overlapping
    stage-1 rows all belong to them. This is not CLEAR MOT's one-to-one matching
    (:func:`crmot.metrics.clear.match_boxes`), which asks which row is scored for the object."""
    owner = np.full(len(tracks), -1)
    for frame in np.unique(tracks.frames):
        rows, truth = np.flatnonzero(tracks.frames == frame), np.flatnonzero(gt.frames == frame)
        if not len(truth):
            continue
        iou = iou_matrix(tracks.boxes[rows], gt.boxes[truth])
        best = iou.argmax(1)
        covered = iou[np.arange(len(rows)), best] > COVER_IOU
        owner[rows[covered]] = gt.ids[truth[best[covered]]]
    return owner


def oracle_identities(views: dict[int, ViewRows], owners: dict[int, np.ndarray], config: FusionConfig) -> list[Identity]:
    """Tracklets kept by the fusion's objectness rule, grouped by the GT object most of their rows cover."""
    members = kept_tracklets(views, config)
    keys: dict[tuple, int] = {}
    labels = []
    for k, rows in members:
        ids, counts = np.unique(owners[k][rows], return_counts=True)
        owner = int(ids[counts.argmax()])
        key = ("object", owner) if owner >= 0 else ("none", len(labels))  # a tracklet on no object: alone
        labels.append(keys.setdefault(key, len(keys)))
    return group(members, labels)


def answer_scene(scene: Scene, views: dict[int, ViewRows], owners: dict[int, np.ndarray], mode: str,
                 config: FusionConfig, out: Path) -> None:
    """Every expression of ``scene`` answered as ``mode`` says; ``owners`` per view: :func:`covered_objects`."""
    true_identities, true_referring = MODES[mode]
    objects = oracle_identities(views, owners, config) if true_identities else identities(views, config)
    sizes = {v.index: (v.seqinfo.width, v.seqinfo.height) for v in scene.views}
    within = clause_free_columns(views, scene, config)
    for e, expression in enumerate(scene.expressions):
        rows, fusion, clause_free = views, config, within.get(e)
        if true_referring:
            rows = {k: replace(v, refer=v.refer.copy()) for k, v in views.items()}
            for k, view in rows.items():
                view.refer[:, e] = np.isin(owners[k], expression.ids)
            fusion = replace(config, relative_threshold=1.0)  # the truth needs no margin
            clause_free = None  # nor a clause-free sentence to narrow it
        for k, reply in answer(rows, objects, e, sizes, fusion, clause_free).items():
            write_predictions(out, expression.name, k, reply.tracks)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="dataset root with GT for --split")
    parser.add_argument("--tracklets", type=Path, required=True, help="stage-1 output folder (RUN/tracklets)")
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--fusion", action="append", metavar="NAME=V", help="a fusion setting other than the default")
    parser.add_argument("--out", type=Path, default=None, help="JSON of the four scores (default: print only)")
    args = parser.parse_args(argv)
    model, _ = load_viewsam(str(args.checkpoint))
    candidates, packaged = packaged_settings()  # what make eval answers with
    config, device = baseline_setting(packaged, args.fusion), torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    read = []
    for name in list_scenes(args.data, args.split):
        scene = load_scene(args.data, args.split, name)
        prompts = {v.index: read_tracks(rows_path(args.tracklets / args.split / name, v.index)) for v in scene.views}
        sentences = scene_questions(scene).sentences
        read.append((scene, predict_scene(model, scene, prompts, sentences, candidates, device)))
    owners = [{k: covered_objects(views[k].tracks, scene.view(k).gt) for k in views} for scene, views in read]
    scores = {}
    for mode in MODES:
        with tempfile.TemporaryDirectory() as folder:
            for (scene, views), covered in zip(read, owners):
                answer_scene(scene, views, covered, mode, config, Path(folder))
            mean = evaluate(args.data, folder, split=args.split)["mean"]
        scores[mode] = {"CVRIDF1": round(mean["CVRIDF1"], 2), "CVRMA": round(mean["CVRMA"], 2)}
        print(f"{mode:18s} CVRIDF1 {scores[mode]['CVRIDF1']:6.2f}  CVRMA {scores[mode]['CVRMA']:6.2f}", flush=True)
    if args.out:
        atomic_write_json(args.out, {"machine": machine(), "benchmark": "viewsam diagnosis", "model": model.name,
                                     "checkpoint": str(args.checkpoint), "data": str(args.data),
                                     "split": args.split, "fusion": dataclasses.asdict(config), "scores": scores})


if __name__ == "__main__":
    sys.exit(main())
