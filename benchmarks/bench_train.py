"""Stage-3 training speed: samples/s, step time, peak memory, bf16 speedup over fp32, torch.compile
on/off, and the share of step time spent waiting for data.

    python benchmarks/bench_train.py [--size base_plus] [--steps 20] [--tiny] [--out JSON]

On a GPU the defaults are the issue's settings (base_plus at 1024 px, bf16-mixed vs fp32, compile
on/off); on CPU the same code runs ``nano`` (and fewer steps) and records ``gpu: null``. Clips come
from the demo world with GT labels (speed does not depend on label quality); ``--tiny`` runs nano for
two steps on the tiny world (what CI checks). Results: benchmarks/results/train.json, or ``--out``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402
from worlds import WORLDS  # noqa: E402

from crmot.io import atomic_write_json  # noqa: E402
from crmot.models.viewsam import ViewSAM  # noqa: E402
from crmot.stages.train import ViewSAMModule  # noqa: E402
from crmot.training.clips import ClipDataset, ClipSampler, ResumableLoader  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "train.json"


def train_step(module: ViewSAMModule, optimizer: torch.optim.Optimizer, clips: list[dict], bf16: bool) -> None:
    """One optimiser step on ``clips``, as Lightning's bf16-mixed plugin runs it (autocast forward)."""
    with torch.autocast(module.device.type, dtype=torch.bfloat16, enabled=bf16):
        loss = module.clip_losses(clips)["loss"]
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def measure(size: str, precision: str, compile_model: bool, steps: int, data: Path, device: torch.device) -> dict:
    torch.manual_seed(0)
    module = ViewSAMModule(size, "both", "minilm", allow_random_init=True).to(device)
    model = module.model
    if compile_model:
        module.model = torch.compile(model)  # the module's forward and losses run through the compiled model
    dataset = ClipDataset(data, data, "train", frames=2, stride=4, image_size=model.size.image_size)
    loader = ResumableLoader(dataset, ClipSampler(len(dataset), seed=0), batch_size=1,
                             num_workers=4 if device.type == "cuda" else 0)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    bf16 = precision == "bf16-mixed"
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    step_times, waits, samples = [], [], 0
    iterator = _forever(loader)  # a small world has fewer clips than the steps asked for
    for step in range(steps + 2):  # two warm-up steps (compilation, allocator)
        t0 = time.perf_counter()
        clips = next(iterator)
        t1 = time.perf_counter()
        train_step(module, optimizer, clips, bf16)
        if device.type == "cuda":
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        if step >= 2:
            step_times.append(t2 - t0)
            waits.append(t1 - t0)
            samples += len(clips)
    total = sum(step_times)
    images = samples * dataset[(0, 0)]["images"].shape[0]
    return {
        "size": size, "precision": precision, "compile": compile_model, "steps": steps,
        "samples_per_s": samples / total, "images_per_s": images / total, "step_time_s": total / steps,
        "data_wait_fraction": sum(waits) / total,
        "peak_mem_gb": (torch.cuda.max_memory_allocated() / 2**30) if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "trainable_percent": model.parameter_table()["trainable_percent"],
    }


def _forever(loader):
    while True:
        yield from loader


def write(out: Path, runs: list[dict], table: dict, gpu: bool) -> None:
    fp32, bf16 = runs[0], runs[1]
    info = machine()
    atomic_write_json(out, {
        "machine": info, "gpu": info["gpu"], "size": fp32["size"],
        "samples_per_s": bf16["samples_per_s"], "bf16_speedup": bf16["samples_per_s"] / fp32["samples_per_s"],
        "trainable_percent": table[list(table)[-1]]["trainable_percent"], "peak_mem_gb": bf16["peak_mem_gb"],
        "data_wait_fraction": bf16["data_wait_fraction"], "runs": runs,
        "parameters": {k: {"sam2": v["sam2"], "trainable": v["trainable"], "trainable_percent": v["trainable_percent"]}
                       for k, v in table.items()},
        "note": None if gpu else "CPU only (no GPU lent to this session): nano size; GPU figures pending",
    })


def main() -> None:
    gpu = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default=None, help="default: base_plus on a GPU, nano otherwise")
    parser.add_argument("--steps", type=int, default=None, help="default: 20 on a GPU, 5 on CPU, 2 with --tiny")
    parser.add_argument("--data", type=Path, default=None, help="default: data/synth, tiny: data/gpu_suite_tiny")
    parser.add_argument("--tiny", action="store_true", help="nano, two steps, the tiny world (what CI runs)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.size = args.size or ("base_plus" if gpu and not args.tiny else "nano")
    args.steps = args.steps or (2 if args.tiny else 20 if gpu else 5)
    args.data = args.data or WORLDS["tiny" if args.tiny else "demo"].ensure()
    device = torch.device("cuda" if gpu else "cpu")
    torch.set_float32_matmul_precision("high")  # as `crmot train` sets it: fp32 matmuls on TF32 tensor cores
    sizes = ("nano",) if args.tiny else ("nano", "tiny", "base_plus")
    table = {size: ViewSAM(size, "both", "minilm", allow_random_init=True).parameter_table() for size in sizes}
    runs = [measure(args.size, p, False, args.steps, args.data, device) for p in ("32-true", "bf16-mixed")]
    write(args.out, runs, table, gpu)  # the eager figures stand even if compilation is cut short
    if gpu:
        runs.append(measure(args.size, "bf16-mixed", True, args.steps, args.data, device))
        write(args.out, runs, table, gpu)
    print(args.out.read_text())


if __name__ == "__main__":
    main()
