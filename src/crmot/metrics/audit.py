"""What a prediction folder holds that scoring would otherwise turn silently into zeros.

Each finding names its path; ``crmot evaluate`` logs it as a warning, counts it in the JSON report
and, under ``--strict``, stops at the first one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from crmot.constants import VIEW_PREFIX
from crmot.data.expression_files import ViewTracks

#: Files an expression folder may hold: the view files the tool reads, and crmot's mask sidecars.
_KNOWN_FILE = re.compile(rf"^{VIEW_PREFIX}\d+(\.txt|\.masks\.jsonl)$")

KINDS = {
    "stray_file": "not a View<K>.txt file: the official tool ignores it",
    "no_view_files": "expression folder without View<K>.txt files: scored as predicting nothing",
    "view_without_gt": "predictions for a view the ground truth does not have: ignored",
    "missing_expression": "no prediction folder for this expression: scored as predicting nothing",
}


@dataclass(frozen=True)
class Finding:
    kind: str  # a key of KINDS
    path: str

    @property
    def message(self) -> str:
        return f"{self.path}: {KINDS[self.kind]}"


def audit_predictions(pred_root: str | Path, ground_truth: dict[str, ViewTracks],
                      predictions: dict[str, ViewTracks]) -> list[Finding]:
    """Findings in ``pred_root`` (already loaded as ``predictions``) against ``ground_truth``."""
    root = Path(pred_root)
    found: list[Finding] = []
    for name in sorted(predictions):
        folder = root / name
        for path in sorted(folder.iterdir()):
            if not _KNOWN_FILE.match(path.name):
                found.append(Finding("stray_file", str(path)))
        if not predictions[name]:
            found.append(Finding("no_view_files", str(folder)))
        for k in sorted(set(predictions[name]) - set(ground_truth.get(name, {}))):
            found.append(Finding("view_without_gt", str(folder / f"{VIEW_PREFIX}{k}.txt")))
    for name in sorted(set(ground_truth) - set(predictions)):
        found.append(Finding("missing_expression", str(root / name)))
    return found


def summarise(findings: list[Finding]) -> dict:
    """The report's ``warnings`` entry: counts per kind and every finding."""
    counts = {kind: sum(f.kind == kind for f in findings) for kind in KINDS}
    return {"count": len(findings), "by_kind": counts,
            "items": [{"kind": f.kind, "path": f.path} for f in findings]}
