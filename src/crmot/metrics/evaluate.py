"""Evaluate a prediction folder against CRTrack ground truth: the ``crmot evaluate`` command."""

from __future__ import annotations

import logging
import os
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from crmot.data.crtrack import CRTrackFormatError, load_split
from crmot.data.expression_files import ViewTracks, expression_gt, group_by_scene, load_expression_gt, load_predictions
from crmot.data.tracks import Tracks
from crmot.metrics.audit import KINDS, audit_predictions, summarise
from crmot.metrics.hota import hota_metric, view_hota
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
             protocol: Protocol = "crtrack", strict: bool = False, hota: bool = False) -> dict:
    """Score every GT expression and return the JSON-ready report (see docs/format-and-evaluation.md).

    What the prediction folder holds that would silently score as zero (stray files, empty or
    missing expression folders, views without GT) is logged, counted in ``warnings`` and, with
    ``strict``, an error. ``hota`` adds TrackEval's per-view HOTA / DetA / AssA (slower)."""
    check_protocol(protocol)
    ground_truth = load_ground_truth(gt, split)
    predictions = load_predictions(pred)
    unknown = sorted(set(predictions) - set(ground_truth))
    if unknown:
        raise CRTrackFormatError(Path(pred) / unknown[0],
                                 f"prediction folder has no ground truth in {gt} ({len(unknown)} such folders)")
    findings = audit_predictions(pred, ground_truth, predictions)
    if findings and strict:
        raise CRTrackFormatError(findings[0].path, f"{KINDS[findings[0].kind]} ({len(findings)} such findings; "
                                 "--strict makes each an error)")
    for finding in findings:
        log.warning("%s", finding.message)
    names = sorted(ground_truth)
    items = [(ground_truth[name], predictions.get(name, {})) for name in names]
    report = build_report(dict(zip(names, score_sequences(items, protocol))), protocol)
    report["warnings"] = summarise(findings)
    if hota:
        add_hota(report, dict(zip(names, items)))
    return report


def add_hota(report: dict, items: dict[str, tuple[ViewTracks, ViewTracks]]) -> None:
    """Per-view HOTA / DetA / AssA into every expression's ``per_view`` entry (when TrackEval is there)."""
    metric = hota_metric()
    if metric is None:
        return
    for name, (gt_views, pred_views) in items.items():
        for k, gt_view in gt_views.items():
            figures = view_hota(metric, gt_view, pred_views.get(k, Tracks.empty()))
            report["expressions"][name]["per_view"][f"View{k}"].update(figures)


def build_report(scores: dict[str, SequenceScore], protocol: Protocol) -> dict:
    """Means over expressions (all and per scene, as the official tool groups them) plus every count."""
    def mean_of(names: list[str]) -> dict:
        return {"CVRIDF1": _mean([scores[n].CVRIDF1 for n in names]),
                "CVRMA": _mean([scores[n].CVRMA for n in names]), "num_expressions": len(names)}

    names = sorted(scores)
    return {
        "protocol": protocol,
        "mean": mean_of(names),
        "scenes": {scene: mean_of(members) for scene, members in sorted(group_by_scene(names).items())},
        "expressions": {name: _expression_entry(scores[name]) for name in names},
    }


def _mean(values: list[float]) -> float:
    """Summed in order, then divided: the figure ``CVRIDF1`` / ``CVRMA`` compute, to the last bit."""
    total = 0.0
    for value in values:
        total += value
    return total / len(values) if values else 0.0


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
    views = per_view_means(report)
    if views:
        columns = [c for c in ("MOTA", "IDF1", "HOTA", "DetA", "AssA") if c in next(iter(views.values()))]
        table = Table(title="per view (mean over the scene's expressions)")
        for name in ("scene", "view", *columns):
            table.add_column(name, justify="left" if name in ("scene", "view") else "right")
        for (scene, view), row in views.items():
            table.add_row(scene, view, *(f"{row[c]:.2f}" for c in columns))
        console.print(table)
    warnings = report.get("warnings", {})
    if warnings.get("count"):
        kinds = ", ".join(f"{n} {kind}" for kind, n in warnings["by_kind"].items() if n)
        console.print(f"[yellow]{warnings['count']} warning(s): {kinds} (listed in the JSON report)[/yellow]")


def per_view_means(report: dict) -> dict[tuple[str, str], dict[str, float]]:
    """(scene, view) -> mean of each per-view figure over the scene's expressions; empty without
    per-view HOTA (the plain per-view MOTA / IDF1 stay in the JSON only, as before)."""
    sums: dict[tuple[str, str], dict[str, list[float]]] = {}
    for name, entry in report["expressions"].items():
        scene = name.split("_", 1)[0]
        for view, figures in entry["per_view"].items():
            if "HOTA" not in figures:
                return {}
            row = sums.setdefault((scene, view), {})
            for key in ("MOTA", "IDF1", "HOTA", "DetA", "AssA"):
                row.setdefault(key, []).append(figures[key])
    return {key: {k: sum(v) / len(v) for k, v in row.items()} for key, row in sorted(sums.items())}
