"""A training recipe tried on validation worlds: ViewSAM trained with extra ``crmot train`` flags on
the demo preset drawn with validation seeds, scored on each world's test split, one JSON line per run.

    python benchmarks/validate_recipe.py --name lr1e-4 --train-args "--model.lr 1e-4" \\
        [--seeds 0 1 2 3 4] [--training-seeds 0 1] [--row weak] [--work data/val] [--out data/val/runs.jsonl]
    python benchmarks/validate_recipe.py --summary [--out data/val/runs.jsonl]

This is where a change earns its place before the record (``bench_accuracy.py``) is trained again with
it: the report seeds are refused here. A finished run is reused (its line written again), and lines
accumulate, so two processes, one per training seed, can share the worlds once stages 1-2 are done
(give each ``OMP_NUM_THREADS=1`` on a small machine; two processes with two threads each crawl). On 2
cores two one-thread runs side by side do about 1.3 times the work of one run alone with the config's
encoder worker, if they keep the encoder in the step: add ``--data.num_workers 0
--data.encode_in_workers false`` to ``--train-args`` (0.29 s a step each, against 0.32 s each with
their workers and 0.19 s for one run alone; ``docs/viewsam.md``, Costs). Their figures were a
two-thread run's to the bit for 8 runs of 10, within a point or two for the others. The stored runs
trained with AVX2 kernels: on an AVX-512 machine set ``ATEN_CPU_CAPABILITY=avx2 DNNL_MAX_CPU_ISA=AVX2``
to compare with them (the table's last column shows each recipe's kernels).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_accuracy import ROOT, ROW_FUSION, TRAINED_ROWS, label_root, prepare_world, train_and_evaluate  # noqa: E402
from machine import machine  # noqa: E402

from crmot.association.zeroshot import score_zeroshot  # noqa: E402
from crmot.constants import REPORT_SEEDS, VALIDATION_SEEDS  # noqa: E402


def validate(name: str, train_args: list[str], seeds: list[int], training_seeds: list[int], row: str,
             work: Path, out: Path, preset: str, steps: int | None) -> None:
    for seed in seeds:
        data, run, _ = prepare_world(seed, work, preset)
        teacher = score_zeroshot(data, run)["mean"]
        _append(out, {"name": "training-free", "row": "training-free", "world": seed,
                      "CVRIDF1": teacher["CVRIDF1"], "CVRMA": teacher["CVRMA"]})
        labels = label_root(data, run, row)
        for t in training_seeds:
            result = train_and_evaluate(data, run, labels, run / f"{row}_{name}" / f"seed{t}", t, steps,
                                        ROW_FUSION.get(row, {}), train_args)
            _append(out, {"name": name, "row": row, "world": seed, "train_args": train_args, **result,
                          "machine": machine()})


def _append(out: Path, line: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:  # one short line per write: two processes' lines do not interleave
        f.write(json.dumps(line) + "\n")


def summary(out: Path) -> str:
    """Mean CVRIDF1 / CVRMA per recipe and training seed over the worlds it has every run of (the
    last line of a run counts; a cell whose earlier lines gave other figures is starred), and the CPU
    kernels its runs trained with (AVX2 and AVX-512 round differently, and two recipes compared across
    kernels differ by that too), as a markdown table."""
    last: dict[tuple, dict] = {}
    remeasured: set[tuple] = set()  # runs whose earlier lines give other figures: the cell says so
    for line in out.read_text().splitlines():
        r = json.loads(line)
        key = (r["name"], r["row"], r.get("training_seed"), r["world"])
        if key in last and (last[key]["CVRIDF1"], last[key]["CVRMA"]) != (r["CVRIDF1"], r["CVRMA"]):
            remeasured.add(key)
        last[key] = r
    groups: dict[tuple, dict[int, dict]] = defaultdict(dict)
    for (name, row, seed, world), r in last.items():
        groups[(name, row, seed)][world] = r
    worlds = sorted({w for g in groups.values() for w in g})
    lines = ["| recipe | row | training seed | " + " | ".join(f"world {w}" for w in worlds) + " | mean | kernels |",
             "|---" * (len(worlds) + 5) + "|"]
    for (name, row, seed), by_world in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0], str(kv[0][2]))):
        star = {w: " *" if (name, row, seed, w) in remeasured else "" for w in by_world}
        cells = [f"{by_world[w]['CVRIDF1']:.2f} / {by_world[w]['CVRMA']:.2f}{star[w]}" if w in by_world else "" for w in worlds]
        mean = "" if len(by_world) < len(worlds) else \
            f"{np.mean([r['CVRIDF1'] for r in by_world.values()]):.2f} / {np.mean([r['CVRMA'] for r in by_world.values()]):.2f}"
        kernels = ", ".join(sorted({r["machine"]["cpu_kernels"] for r in by_world.values() if "machine" in r}))
        lines.append(f"| {name} | {row} | {'' if seed is None else seed} | " + " | ".join(cells) + f" | {mean} | {kernels} |")
    if remeasured:
        lines.append("\n\\* trained or answered again with other figures than an earlier line's; the last line counts")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="default", help="the recipe's name in the JSON lines and run folders")
    parser.add_argument("--train-args", default="", help="extra crmot train flags, one string")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(VALIDATION_SEEDS))
    parser.add_argument("--training-seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--row", choices=TRAINED_ROWS, default="weak")
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: train_synthetic.yaml's)")
    parser.add_argument("--work", type=Path, default=ROOT / "data" / "val")
    parser.add_argument("--out", type=Path, default=None, help="JSON lines (default: <work>/runs.jsonl)")
    parser.add_argument("--summary", action="store_true", help="print the table of --out and stop")
    args = parser.parse_args(argv)
    out = args.out or args.work / "runs.jsonl"
    if args.summary:
        print(summary(out))
        return
    if set(args.seeds) & set(REPORT_SEEDS):
        sys.exit(f"seeds {sorted(set(args.seeds) & set(REPORT_SEEDS))} are the record's (bench_accuracy.py): "
                 "a recipe is chosen on other worlds")
    validate(args.name, shlex.split(args.train_args), args.seeds, args.training_seeds, args.row, args.work, out,
             args.preset, args.steps)
    print(summary(out))


if __name__ == "__main__":
    sys.exit(main())
