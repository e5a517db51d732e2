"""Stage 3 as a user runs it: ``make train`` on the bench world's pseudo labels for a few hundred
steps; steps/s, samples/s, peak memory and the loss at the start and the end, read from the run's own
logs (crmot.training.throughput.ClipThroughput).

    python benchmarks/bench_make_train.py [--steps 200] [--size base_plus] [--precision bf16-mixed] [--tiny] [--limit S]
                                          [--labels ROOT] [--bin DIR] [--out JSON]

On a GPU the defaults are conf/train.yaml's real settings (base_plus at 1024 px, bf16-mixed, two clips
of 32 expressions per step) on the ``bench`` world. Meta's SAM2 weights cannot be fetched here, so the
frozen backbone is base_plus with random weights (``--model.allow_random_init true``); the JSON names
it, and the figure is one of speed and memory, not of accuracy. ``--tiny`` (and CPU) runs nano on
crmot's synthetic weights for a few steps on the ``tiny`` world (what CI runs). Pseudo labels come from
``make pseudolabels`` on the train split unless ``--labels`` names a root that holds them already.
Results: benchmarks/results/train_make.json, or ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402
from worlds import WORLDS  # noqa: E402

from crmot.io import atomic_write_json  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "train_make.json"
REPO = Path(__file__).resolve().parents[1]


def make(target: str, variables: dict[str, str], log: Path, limit: float | None = None) -> tuple[float, bool]:
    """Run ``make target`` with ``variables``, its output appended to ``log``: the wall seconds, and
    whether it was stopped at ``limit`` seconds. A stopped run is interrupted as Ctrl-C would, so that
    Lightning closes its logs and the steps done so far can be read."""
    command = ["make", "--no-print-directory", target, *(f"{k}={v}" for k, v in variables.items())]
    start = time.perf_counter()
    stopped = False
    with log.open("a") as out:
        out.write("$ " + shlex.join(command) + "\n")
        out.flush()
        process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            stopped = True
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    if process.returncode and not stopped:
        sys.exit(f"{shlex.join(command)} failed (exit {process.returncode}); its output is in {log}")
    return time.perf_counter() - start, stopped


def read_log(metrics_csv: Path) -> dict[str, list[tuple[int, float]]]:
    """Each logged column of Lightning's CSV log as (step, value) pairs, empty cells left out."""
    columns: dict[str, list[tuple[int, float]]] = {}
    with metrics_csv.open() as f:
        for row in csv.DictReader(f):
            step = int(row["step"])
            for key, value in row.items():
                if key != "step" and value not in ("", None):
                    columns.setdefault(key, []).append((step, float(value)))
    return columns


def summarize(columns: dict[str, list[tuple[int, float]]], steps: int) -> dict:
    """Steady-state rates between the first logged step past a tenth of the run (start-up, cuDNN
    autotuning and compilation excluded) and the last; the loss as a mean over the first and the last
    tenth of its logged values."""
    times = dict(columns.get("train/time", []))
    batches = dict(columns.get("train/batches", []))
    samples = dict(columns.get("train/samples", []))
    logged = sorted(times)
    rates: dict[str, float | None] = {"steps_per_s": None, "samples_per_s": None}
    if len(logged) >= 2:
        first = next((s for s in logged if batches[s] >= steps / 10), logged[0])
        last = logged[-1]
        if last > first:
            seconds = times[last] - times[first]
            rates = {"steps_per_s": (batches[last] - batches[first]) / seconds,
                     "samples_per_s": (samples[last] - samples[first]) / seconds}
    loss = [v for _, v in columns.get("train/loss", [])]
    tenth = max(1, len(loss) // 10)
    peak = [v for _, v in columns.get("train/peak_mem_gb", [])]
    return {
        **rates,
        "steps_done": int(max(batches.values())) if batches else None,  # as of the last logged step
        "loss_first": sum(loss[:tenth]) / tenth if loss else None,
        "loss_last": sum(loss[-tenth:]) / tenth if loss else None,
        "loss_finite": all(math.isfinite(v) for v in loss),
        "peak_mem_gb": max(peak) if peak else None,
    }


def main() -> None:
    gpu = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="nano, a few steps, the tiny world (what CI runs)")
    parser.add_argument("--steps", type=int, default=None, help="default: 200 on a GPU, 3 otherwise")
    parser.add_argument("--size", default=None, help="default: base_plus on a GPU, nano otherwise")
    parser.add_argument("--precision", default=None, help="default: bf16-mixed on a GPU, 32-true otherwise")
    parser.add_argument("--data", type=Path, default=None, help="default: data/bench, tiny: data/gpu_suite_tiny")
    parser.add_argument("--labels", type=Path, default=None, help="a pseudo label root (default: made by make pseudolabels)")
    parser.add_argument("--run", default=None, help="run folder under runs/ (default: train_make or train_make_tiny)")
    parser.add_argument("--bin", default=os.environ.get("CRMOT_BIN", ".venv/bin"),
                        help="folder holding the crmot command (Makefile's BIN)")
    parser.add_argument("--limit", type=float, default=None,
                        help="seconds for the whole benchmark; training is interrupted in time to report what it did")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    started = time.perf_counter()
    small = args.tiny or not gpu
    size = args.size or ("nano" if small else "base_plus")
    precision = args.precision or ("32-true" if small else "bf16-mixed")
    steps = args.steps or (3 if small else 200)
    preset = "tiny" if small else "bench"
    data = args.data or WORLDS[preset].ensure()
    run = args.run or ("train_make_tiny" if small else "train_make")
    run_dir = REPO / "runs" / run
    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / "make.log"
    log.write_text("")

    labels = args.labels or Path("runs") / run / "pseudo"
    pseudo_seconds = None
    if not (labels / "images" / "train").is_dir():
        only_train = "--data.splits [train]"
        pseudo_seconds, _ = make("pseudolabels", {"BIN": args.bin, "DATA": str(data), "RUN": run, "ARGS": only_train,
                                               "ARGS2": only_train}, log)

    shutil.rmtree(run_dir / "train", ignore_errors=True)  # make train resumes from last.ckpt: start afresh
    backbone = ("--model.sam2_checkpoint synthetic --model.allow_random_init false" if size == "nano"
                else "--model.sam2_checkpoint null --model.allow_random_init true")
    variables = {
        "BIN": args.bin, "DATA": str(data), "RUN": run, "LABELS": str(labels), "GPUS": "1", "PRECISION": precision,
        "TRAIN_CONFIG": "conf/train_synthetic.yaml" if small else "conf/train.yaml",
        "ARGS": f"--model.size {size} {backbone} --trainer.max_steps {steps} --checkpoint_every {max(1, steps // 3)}"
                + (" --trainer.log_every_n_steps 1" if small else ""),
    }
    budget = None if args.limit is None else args.limit - (time.perf_counter() - started) - 40
    wall, stopped = make("train", variables, log, budget)
    columns = read_log(run_dir / "train" / "logs" / "metrics.csv")
    last = run_dir / "train" / "checkpoints" / "last.ckpt"
    viewsam = torch.load(last, map_location="cpu", weights_only=False)["viewsam"] if last.exists() else None
    named = re.search(r"(viewsam-\S+\(.+?\)):\s+parameters", log.read_text())  # the run prints its model's table
    info = machine()
    result = {
        "benchmark": "stage 3: make train on the pseudo labels of a world's train split, figures from the run's logs",
        "machine": info, "gpu": info["gpu"],
        "command": "make train " + " ".join(f"{k}={shlex.quote(v)}" for k, v in variables.items() if k != "BIN"),
        "world": f"{preset} preset, seed 0 ({data})", "labels": str(labels), "pseudo_label_seconds": pseudo_seconds,
        "model": viewsam["name"] if viewsam else named and named.group(1),
        "trainable_percent": viewsam and viewsam["parameters"]["trainable_percent"],
        "size": size, "precision": precision, "steps": steps, "wall_s": wall, "stopped_at_limit": stopped,
        **summarize(columns, steps),
        "note": None if gpu and not args.tiny else "CPU or tiny settings: nano on the tiny world; GPU figures pending",
    }
    atomic_write_json(args.out, result)
    print(f"make train: {result['model']} {precision}, {result['steps_done']}/{steps} steps in {wall:.1f} s; steady "
          f"{result['steps_per_s'] or float('nan'):.3f} steps/s, loss {result['loss_first']} -> {result['loss_last']}; "
          f"written to {args.out}")


if __name__ == "__main__":
    main()
