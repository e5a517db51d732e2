"""Where a ViewSAM training step spends its time, in fp32 and in bf16-mixed: the step timed on a few
clips seen again and again (no new shapes), then PyTorch's profiler tables by GPU time and by host
time, and the count of kernel launches.

    python benchmarks/profile_train_step.py [--size base_plus] [--clips 4] > profile.txt

Compare with ``bench_train.py``, which times fresh clips: a gap between the two is a cost paid per new
input shape. Needs a GPU for its GPU columns; on CPU it prints the host-time tables alone.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_train import train_step  # noqa: E402
from worlds import WORLDS  # noqa: E402

from crmot.stages.train import ViewSAMModule  # noqa: E402
from crmot.training.clips import ClipDataset  # noqa: E402


def main() -> None:
    gpu = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="base_plus" if gpu else "nano")
    parser.add_argument("--clips", type=int, default=4)
    args = parser.parse_args()
    device = torch.device("cuda" if gpu else "cpu")
    torch.set_float32_matmul_precision("high")  # as `crmot train` sets it
    torch.manual_seed(0)
    module = ViewSAMModule(args.size, "both", "minilm", allow_random_init=True).to(device)
    data = WORLDS["demo"].ensure()
    dataset = ClipDataset(data, data, "train", frames=2, stride=4, image_size=module.image_size)
    clips = [dataset[(i * 7, 0)] for i in range(args.clips)]
    optimizer = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=1e-4)
    sync = torch.cuda.synchronize if gpu else (lambda: None)

    print(f"{module.model.name}, {args.clips} clips: images {[tuple(c['images'].shape) for c in clips]}")
    for bf16 in (False, True):
        for clip in clips:  # warm-up: every shape seen once
            train_step(module, optimizer, [clip], bf16)
        sync()
        start = time.perf_counter()
        for _ in range(3):
            for clip in clips:
                train_step(module, optimizer, [clip], bf16)
        sync()
        print(f"{'bf16-mixed' if bf16 else '32-true'}: {(time.perf_counter() - start) / (3 * len(clips)):.4f} s a step")
    activities = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if gpu else [])
    for bf16 in (False, True):
        with torch.profiler.profile(activities=activities) as profile:
            for clip in clips:
                train_step(module, optimizer, [clip], bf16)
            sync()
        table = profile.key_averages()
        name = "bf16-mixed" if bf16 else "32-true"
        if gpu:
            print(f"\n== {name}: by GPU time\n" + table.table(sort_by="cuda_time_total", row_limit=25,
                                                              max_name_column_width=60))
        print(f"\n== {name}: by host time\n" + table.table(sort_by="self_cpu_time_total", row_limit=15,
                                                           max_name_column_width=60))
        launches = sum(e.count for e in table if e.key.startswith(("cudaLaunchKernel", "cuLaunchKernel")))
        print(f"{name}: {launches} kernel launches in {len(clips)} steps")


if __name__ == "__main__":
    main()
