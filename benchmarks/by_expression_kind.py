"""Where one set of predictions wins over another: scores grouped by how many garments a sentence names.

    python benchmarks/by_expression_kind.py --metrics teacher=RUN/zeroshot/metrics.json \\
        --metrics student=RUN/eval/test/metrics.json [--metrics LABEL=FILE ...] [--out kinds.json]

Each ``--metrics`` is a ``metrics.json`` that ``make eval`` or ``make eval-zeroshot`` wrote; one label
may be given several (one per world). A sentence's kind is the number of garments whose colours it
names ("a red coat and black trousers": 2; "a blue cap, orange coat, green trousers and green
shoes": 4), read by stage 2's attribute parser; the parser only sorts sentences here, it scores
nothing. Per kind and label: expressions, the mean of their CVRIDF1 and CVRMA, and the mean false
positives and misses per expression (which way a model errs).

Clause pairs: a sentence that adds what a person carries, holds or rides to another sentence of the
same scene ("..., carrying a white plastic bag" beside "..."). Per label, the mean CVRMA of the
sentences without and with the clause, and how often the clause turns an answer that was right
(CVRMA >= 50) into one that is wrong (< 10): whether a model is sunk by words it cannot ground.
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
from crmot.constants import COLOUR_WORDS  # noqa: E402
from crmot.inference.clauses import CLAUSE  # noqa: E402  (the clause stage 4 asks about apart)
from crmot.io import atomic_write_json  # noqa: E402

FIGURES = ("CVRIDF1", "CVRMA", "FP", "FN")
#: An answer is right above this CVRMA and wrong below ``WRONG`` (answers are mostly all or nothing).
RIGHT, WRONG = 50.0, 10.0


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


def clause_pairs(reports: list[dict]) -> dict:
    """CVRMA of the sentences with a carried/held/ridden clause against the same sentence without it,
    over all pairs and by the thing the clause names (``by_object``)."""
    pairs: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for report in reports:
        scenes = list(report.get("scenes", {}))
        figures = {}
        for name, values in report["expressions"].items():
            sentence = expression_sentence(name, scenes)
            figures[name[: -len(sentence) - 1], sentence] = values["CVRMA"]
        for (scene, sentence), value in figures.items():
            clause = CLAUSE.search(sentence)
            base = (scene, sentence[: clause.start()]) if clause else None
            if base in figures:
                pairs[carried_object(clause.group(0))].append((figures[base], value))
    return {**_pair_figures([p for group in pairs.values() for p in group]),
            "by_object": {k: _pair_figures(v) for k, v in sorted(pairs.items())}}


def carried_object(clause: str) -> str:
    """The thing a clause names: its words after the verb, without article and colour words
    (", carrying a white plastic bag" names a plastic bag)."""
    words = clause.split()[2:]
    return " ".join(w for w in words if w not in ("a", "an") and w not in COLOUR_WORDS)


def _pair_figures(pairs: list[tuple[float, float]]) -> dict:
    a, b = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    return {"pairs": len(a), "without": round(float(a.mean()), 2) if len(a) else None,
            "with": round(float(b.mean()), 2) if len(b) else None,
            "flips": int(((a >= RIGHT) & (b < WRONG)).sum()), "reverse_flips": int(((b >= RIGHT) & (a < WRONG)).sum())}


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
    table, pairs = {}, {}
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
        pairs[label] = clause_pairs(reports)
    for label, kinds in table.items():
        for k, row in kinds.items():
            print(f"{label:>12s}  {k:20s} n={row['expressions']:3d}  " + "  ".join(f"{f} {row[f]:6.2f}" for f in FIGURES))
    for label, row in pairs.items():
        print(f"{label:>12s}  clause pairs n={row['pairs']:3d}  CVRMA without {row['without']}  with {row['with']}  "
              f"flips {row['flips']} (back {row['reverse_flips']})")
    if args.out:
        atomic_write_json(args.out, {"machine": machine(), "benchmark": "by expression kind",
                                     "files": {k: [str(p) for p in v] for k, v in files.items()}, "kinds": table,
                                     "clause_pairs": pairs})


if __name__ == "__main__":
    sys.exit(main())
