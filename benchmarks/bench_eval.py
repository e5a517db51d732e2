"""Speed of cross-view evaluation on the `bench` world's test split with noisy GT-derived predictions.

    python benchmarks/bench_eval.py [--data data/bench] [--repeat 3]

Predictions: every GT box jittered (sigma 4% of its size), 10% dropped, 8% of identities swapped
with another from a random frame on in one view, 5% extra false boxes. Reports seconds and boxes/s
(GT + predicted boxes scored per second) for the whole `crmot evaluate` path (files included) and
for scoring alone (the numpy metric core), and the whole command as a user runs it: a cold process
each time (imports included), median of 5, for `crmot --help`, `crmot evaluate` and
`crmot evaluate --hota`; in benchmarks/results/eval.json.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402

from crmot.data.crtrack import load_split  # noqa: E402
from crmot.data.expression_files import expression_gt, load_predictions, write_predictions  # noqa: E402
from crmot.data.synthetic import generate, load_preset  # noqa: E402
from crmot.data.tracks import Tracks  # noqa: E402
from crmot.io import atomic_write_json  # noqa: E402
from crmot.metrics import evaluate, score_sequences  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "eval.json"


def noisy(rows: Tracks, rng: np.random.Generator) -> Tracks:
    keep = rng.random(len(rows)) > 0.10
    rows = rows.select(keep)
    size = np.repeat(rows.boxes[:, 2:], 2, axis=1)
    boxes = rows.boxes + rng.normal(0, 0.04, rows.boxes.shape) * size
    boxes[:, 2:] = np.maximum(boxes[:, 2:], 1.0)
    ids = rows.ids.copy()
    uniq = np.unique(ids)
    for a in uniq[rng.random(len(uniq)) < 0.08]:
        b = rng.choice(uniq)
        start = rng.integers(rows.frames.min(initial=1), rows.frames.max(initial=1) + 1)
        later = rows.frames >= start
        ids = np.where(later & (rows.ids == a), b, np.where(later & (rows.ids == b), a, ids))
    n_fp = int(0.05 * len(rows))
    fp_frames = rng.integers(1, rows.frames.max(initial=1) + 1, n_fp)
    fp_boxes = np.column_stack([rng.uniform(0, 900, n_fp), rng.uniform(0, 500, n_fp), np.full(n_fp, 40.0), np.full(n_fp, 90.0)])
    frames = np.concatenate([rows.frames, fp_frames])
    ids = np.concatenate([ids, 90000 + np.arange(n_fp)])
    out = Tracks(frames, ids, np.concatenate([boxes, fp_boxes]))
    _, first = np.unique(np.stack([out.frames, out.ids], 1), axis=0, return_index=True)
    return out.select(np.sort(first))


def cold_seconds(command: list[str], runs: int = 5) -> float:
    """Median wall time of ``command`` run ``runs`` times, each a fresh process."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/bench"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not (args.data / "world.json").exists():
        print(f"writing the bench world to {args.data} (once) ...")
        generate(args.data, load_preset("bench"), seed=0)
    rng = np.random.default_rng(0)
    ground_truth = {}
    for scene in load_split(args.data, "test"):
        ground_truth.update(expression_gt(scene))
    with tempfile.TemporaryDirectory() as tmp:
        pred_root = Path(tmp) / "pred"
        for name, views in ground_truth.items():
            for k, rows in views.items():
                write_predictions(pred_root, name, k, noisy(rows, rng))
        predictions = load_predictions(pred_root)
        boxes = sum(len(t) for views in ground_truth.values() for t in views.values())
        boxes += sum(len(t) for views in predictions.values() for t in views.values())

        def best(fn) -> float:
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            return min(times)

        full = best(lambda: evaluate(args.data, pred_root))
        items = [(g, predictions.get(n, {})) for n, g in ground_truth.items()]
        cross_view_only = best(lambda: score_sequences(items, per_view=False))
        with_per_view = best(lambda: score_sequences(items))
        report = evaluate(args.data, pred_root)
        command = [str(Path(sys.executable).with_name("crmot")), "evaluate", "--gt", str(args.data),
                   "--pred", str(pred_root), "--split", "test"]
        cold = {"crmot_help": cold_seconds([command[0], "--help"]),
                "crmot_evaluate": cold_seconds(command),
                "crmot_evaluate_hota": cold_seconds([*command, "--hota"], runs=3)}
    result = {
        "benchmark": "cross-view evaluation (CVRIDF1 + CVRMA), protocol crtrack",
        "data": {"preset": "bench", "split": "test", "expressions": len(ground_truth), "boxes_gt_plus_pred": boxes},
        "seconds": {"crmot_evaluate_with_files": full, "scoring_cross_view": cross_view_only,
                    "scoring_cross_view_and_per_view": with_per_view},
        "boxes_per_s": {"crmot_evaluate_with_files": boxes / full, "scoring_cross_view": boxes / cross_view_only,
                        "scoring_cross_view_and_per_view": boxes / with_per_view},
        "command_seconds_cold_process_median": cold,
        "metrics_of_noisy_predictions": report["mean"],
        "target_boxes_per_s": 1_000_000,
        "machine": machine(),
        "command": "python benchmarks/bench_eval.py",
    }
    atomic_write_json(RESULTS, result)
    print(f"{len(ground_truth)} expressions, {boxes} boxes")
    for key, seconds in result["seconds"].items():
        print(f"  {key:34s} {seconds:7.3f} s  {boxes / seconds / 1e6:6.2f} M boxes/s")
    for key, seconds in cold.items():
        print(f"  {key:34s} {seconds:7.3f} s  (whole command, cold process, median)")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
