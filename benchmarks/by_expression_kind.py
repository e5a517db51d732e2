"""Where one set of predictions wins over another: scores grouped by how many garments a sentence names.

    python benchmarks/by_expression_kind.py --metrics teacher=RUN/zeroshot/metrics.json \\
        --metrics student=RUN/eval/test/metrics.json [--metrics LABEL=FILE ...] [--out kinds.json]

Each ``--metrics`` is a ``metrics.json`` that ``make eval`` or ``make eval-zeroshot`` wrote; one label
may be given several (one per world). A sentence's kind is the number of garments whose colours it
names ("a red coat and black trousers": 2; "a blue cap, orange coat, green trousers and green
shoes": 4), read by stage 2's attribute parser; the parser only sorts sentences here, it scores
nothing. Per kind and label: expressions, the mean of their CVRIDF1 and CVRMA, and the mean false
positives and misses per expression (which way a model errs).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402

from crmot.association.attributes import parse  # noqa: E402
from crmot.io import atomic_write_json  # noqa: E402

FIGURES = ("CVRIDF1", "CVRMA", "FP", "FN")


def kind(sentence: str) -> str:
    named = len(parse(sentence).colours)
    return f"{named} garment{'s' if named != 1 else ''} named"


def expression_sentence(name: str, scenes: list[str]) -> str:
    """``<scene>_<sentence>`` -> sentence (scene names may hold underscores: match the known ones)."""
    for scene in sorted(scenes, key=len, reverse=True):
        if name.startswith(scene + "_"):
            return name[len(scene) + 1:]
    return name.split("_", 1)[-1]


def by_kind(reports: list[dict]) -> dict[str, dict]:
    """Per kind: the number of expressions and the mean of each of ``FIGURES`` over them."""
    rows: dict[str, list[list[float]]] = defaultdict(list)
    for report in reports:
        scenes = list(report.get("scenes", {}))
        for name, figures in report["expressions"].items():
            rows[kind(expression_sentence(name, scenes))].append([figures[f] for f in FIGURES])
    return {k: {"expressions": len(v), **{f: round(float(x), 2) for f, x in zip(FIGURES, np.mean(v, 0))}}
            for k, v in sorted(rows.items())}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", action="append", required=True, metavar="LABEL=FILE",
                        help="a metrics.json of make eval / eval-zeroshot under a label (repeat; a label may recur)")
    parser.add_argument("--out", type=Path, default=None, help="write the table as JSON here")
    args = parser.parse_args(argv)
    files: dict[str, list[Path]] = defaultdict(list)
    for item in args.metrics:
        label, sep, path = item.partition("=")
        if not sep or not path:
            parser.error(f"--metrics {item!r}: expected LABEL=FILE")
        files[label].append(Path(path))
    table = {}
    for label, paths in files.items():
        reports = []
        for path in paths:
            try:
                reports.append(json.loads(path.read_text()))
            except (OSError, json.JSONDecodeError) as error:
                parser.error(f"{path}: not a readable metrics.json ({error})")
            if "expressions" not in reports[-1]:
                parser.error(f"{path}: no per-expression figures (is it a metrics.json of make eval?)")
        table[label] = by_kind(reports)
    for label, kinds in table.items():
        for k, row in kinds.items():
            print(f"{label:>12s}  {k:20s} n={row['expressions']:3d}  " + "  ".join(f"{f} {row[f]:6.2f}" for f in FIGURES))
    if args.out:
        atomic_write_json(args.out, {"machine": machine(), "benchmark": "by expression kind",
                                     "files": {k: [str(p) for p in v] for k, v in files.items()}, "kinds": table})


if __name__ == "__main__":
    sys.exit(main())
