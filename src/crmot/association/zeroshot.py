"""Training-free CRMOT: answer a split's real expressions with stage-2 identities and descriptions.

For each expression of the data root, the matcher picks the identities whose descriptions fit it;
their pseudo-label rows (every view, one id per identity across views) are written as predictions
in the official layout, ready for ``crmot evaluate``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crmot.association.labels import read_identity_descriptions
from crmot.association.matcher import ExpressionMatcher
from crmot.data.crtrack import list_scenes, load_scene
from crmot.data.expression_files import write_predictions
from crmot.data.tracks import Tracks
from crmot.io import atomic_write_json


def answer_split(data_root: Path, label_root: Path, split: str, matcher: ExpressionMatcher, pred_root: Path) -> dict:
    """Write predictions for every expression of ``split``; returns what was chosen, per expression."""
    chosen = {}
    for name in list_scenes(data_root, split):
        scene = load_scene(data_root, split, name)
        pseudo = load_scene(label_root, split, name)
        descriptions = read_identity_descriptions(label_root, split, name)
        for expr in scene.expressions:
            ids = matcher.select(expr.sentence, descriptions)
            for view in pseudo.views:
                rows = view.gt if view.gt is not None else Tracks.empty()
                picked = rows.select(np.isin(rows.ids, ids))
                scored = Tracks(picked.frames, picked.ids, picked.boxes, np.ones((len(picked), 1)))
                write_predictions(pred_root, expr.name, view.index, scored)
            chosen[expr.name] = ids
    atomic_write_json(Path(pred_root).parent / "zeroshot_choices.json",
                      {"matcher": matcher.info(), "label_root": str(label_root), "choices": chosen})
    return chosen


def score_zeroshot(data: Path, run: Path, console=None) -> dict:
    """The training-free pipeline on a root's test split: ``<run>/pseudo`` (stage 2) answers every
    expression; predictions and ``metrics.json`` land in ``<run>/zeroshot``, printed to ``console``."""
    from crmot.metrics.evaluate import evaluate, print_report
    from crmot.models.text import SentenceEncoder

    predictions = Path(run) / "zeroshot" / "predictions"
    answer_split(data, Path(run) / "pseudo", "test", ExpressionMatcher(SentenceEncoder()), predictions)
    report = evaluate(data, predictions, split="test")
    report["pipeline"] = "training-free: stage-1 tracklets + stage-2 identities + attributes + MiniLM matcher"
    atomic_write_json(Path(run) / "zeroshot" / "metrics.json", report)
    if console is not None:
        print_report(report, console)
    return report
