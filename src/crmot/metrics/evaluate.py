"""Evaluate a prediction folder against CRTrack ground truth: the ``crmot evaluate`` command."""

from __future__ import annotations

import logging
import os
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from crmot.data.crtrack import (
    CRTrackFormatError,
    ViewTracks,
    expression_gt,
    group_by_scene,
    load_expression_gt,
    load_predictions,
    load_split,
)
from crmot.metrics.cross_view import CVRIDF1, CVRMA
from crmot.metrics.protocol import Protocol, check_protocol
from crmot.metrics.sequence import SequenceScore, score_sequences

log = logging.getLogger(__name__)


def load_ground_truth(gt: str | os.PathLike, split: str = "test") -> dict[str, ViewTracks]:
    """Per-expression GT from either a per-expression folder or a dataset root (derived from gt.txt)."""
    gt = Path(gt)
    if (gt / "images").is_dir():
        per_expression: dict[str, ViewTracks] = {}
        for scene in load_split(gt, split):
            per_expression.update(expression_gt(scene))
        if not per_expression:
            raise CRTrackFormatError(gt, f"no expressions in labels_with_ids_text/{split}/tackled_text")
        return per_expression
    return load_expression_gt(gt)


def evaluate(gt: str | os.PathLike, pred: str | os.PathLike, split: str = "test",
             protocol: Protocol = "crtrack") -> dict:
    """Score every GT expression and return the JSON-ready report (see README: Evaluation)."""
    check_protocol(protocol)
    ground_truth = load_ground_truth(gt, split)
    predictions = load_predictions(pred)
    unknown = sorted(set(predictions) - set(ground_truth))
    if unknown:
        raise CRTrackFormatError(Path(pred) / unknown[0], f"prediction folder has no ground truth in {gt} ({len(unknown)} such folders)")
    missing = sorted(set(ground_truth) - set(predictions))
    if missing:
        log.warning("%d expression(s) have no prediction folder and count as predicting nothing, e.g. %r",
                    len(missing), missing[0])
    names = sorted(ground_truth)
    items = [(ground_truth[name], predictions.get(name, {})) for name in names]
    return build_report(dict(zip(names, score_sequences(items, protocol))), protocol)


def build_report(scores: dict[str, SequenceScore], protocol: Protocol) -> dict:
    """Means over expressions (all and per scene, as the official tool groups them) plus every count."""
    def mean_of(names: list[str]) -> dict:
        idf1, mota = CVRIDF1(protocol), CVRMA(protocol)
        for name in names:
            idf1.update(scores[name])
            mota.update(scores[name])
        return {"CVRIDF1": float(idf1.compute()), "CVRMA": float(mota.compute()), "num_expressions": len(names)}

    names = sorted(scores)
    return {
        "protocol": protocol,
        "mean": mean_of(names),
        "scenes": {scene: mean_of(members) for scene, members in sorted(group_by_scene(names).items())},
        "expressions": {name: _expression_entry(scores[name]) for name in names},
    }


def _expression_entry(score: SequenceScore) -> dict:
    entry = {"CVRIDF1": score.CVRIDF1, "CVRMA": score.CVRMA}
    entry.update({k: v for k, v in asdict(score.identity).items()})
    entry.update({k: v for k, v in asdict(score.clear).items() if k not in ("num_gt", "num_pred")})
    entry["per_view"] = {
        f"View{k}": {"MOTA": v.MOTA, "IDF1": v.IDF1, "TP": v.clear.TP, "FP": v.clear.FP, "FN": v.clear.FN,
                     "IDSW": v.clear.IDSW, "IDTP": v.identity.IDTP}
        for k, v in sorted(score.per_view.items())
    }
    return entry


def print_report(report: dict, console: Console | None = None, backend: str | None = None) -> None:
    console = console or Console()
    title = f"CRTrack cross-view metrics (protocol={report['protocol']})"
    if backend:
        title += f" - predictions by {backend}"
    table = Table(title=title)
    table.add_column("scene")
    table.add_column("expressions", justify="right")
    table.add_column("CVRIDF1", justify="right")
    table.add_column("CVRMA", justify="right")
    for scene, row in report["scenes"].items():
        table.add_row(scene, str(row["num_expressions"]), f"{row['CVRIDF1']:.2f}", f"{row['CVRMA']:.2f}")
    mean = report["mean"]
    table.add_row("mean", str(mean["num_expressions"]), f"{mean['CVRIDF1']:.2f}", f"{mean['CVRMA']:.2f}", style="bold")
    console.print(table)
