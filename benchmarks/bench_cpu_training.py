"""Stage 3 on CPU: where SAM2's frozen image encoder runs, timed on the synthetic recipe.

    python benchmarks/bench_cpu_training.py [--steps 200] [--out JSON]

Runs ``crmot train fit --config conf/train_synthetic.yaml`` on the demo world's training clips
twice, the same seed and steps: once with the encoder in the step (``--data.num_workers 0
--data.encode_in_workers false``), once as the config has it (in a DataLoader worker, the step on the
other cores). Each run's own logs (``ClipThroughput``, read as ``bench_make_train.py`` reads them)
give the steady step time, past the first tenth of the run, and the loss curve: the two should agree
to float rounding, since only where the encoder runs differs. Labels are the world's own (speed does
not depend on label quality). Results: benchmarks/results/train_cpu.json, or ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_make_train import read_log, summarize  # noqa: E402
from machine import machine  # noqa: E402
from worlds import WORLDS  # noqa: E402

from crmot.constants import CONF_DIR  # noqa: E402
from crmot.io import atomic_write_json  # noqa: E402
from crmot.stages.train import main as train_main  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "train_cpu.json"
SETTINGS = {
    "encoder in the step": ["--data.num_workers", "0", "--data.encode_in_workers", "false"],
    "encoder in a worker (train_synthetic.yaml)": [],
}


def run(data: Path, out: Path, steps: int, extra: list[str]) -> dict:
    started = time.perf_counter()
    train_main(["fit", "--config", str(CONF_DIR / "train_synthetic.yaml"), "--data.root", str(data),
                "--data.label_root", str(data), "--trainer.default_root_dir", str(out), "--trainer.accelerator", "cpu",
                "--trainer.enable_progress_bar", "false", "--trainer.max_steps", str(steps),
                "--trainer.log_every_n_steps", "1", "--checkpoint_every", str(steps), *extra])
    wall = time.perf_counter() - started
    columns = read_log(out / "logs" / "metrics.csv")
    summary = summarize(columns, steps)
    return {"args": extra, "steps": steps, "wall_s": round(wall, 1), "step_s": 1 / summary["steps_per_s"],
            "loss_first": summary["loss_first"], "loss_last": summary["loss_last"],
            "losses": [v for _, v in columns["train/loss"]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    data = WORLDS["demo"].ensure()
    runs = {}
    with tempfile.TemporaryDirectory(prefix="crmot-bench-cpu-") as tmp:
        for n, (name, extra) in enumerate(SETTINGS.items()):
            runs[name] = run(data, Path(tmp) / str(n), args.steps, extra)
    step, worker = (runs[name] for name in SETTINGS)
    largest = max(abs(a - b) for a, b in zip(step.pop("losses"), worker.pop("losses")))
    result = {
        "benchmark": "stage 3 on CPU, conf/train_synthetic.yaml: SAM2's frozen encoder in the step or in a DataLoader "
                     "worker (demo world, seed 0, its own labels)",
        "machine": machine(), "world": f"demo preset, seed 0 ({data})", "runs": runs,
        "speedup": step["step_s"] / worker["step_s"], "largest_loss_difference": largest,
    }
    atomic_write_json(args.out, result)
    print(f"step {step['step_s']:.3f} s with the encoder in the step, {worker['step_s']:.3f} s in a worker "
          f"(x{result['speedup']:.2f}); losses differ by at most {largest:.2e} -> {args.out}")


if __name__ == "__main__":
    main()
