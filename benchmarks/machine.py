"""Who ran a benchmark: recorded next to every figure so numbers are never compared blind."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import numpy as np


def machine() -> dict:
    info = {
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "gpu": None,
        "commit": _commit(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        # CPU training is bit-exact on one kernel set only: AVX2 and AVX-512 kernels give different models
        info["cpu_kernels"] = torch.backends.cpu.get_cpu_capability()
        # the times, and now and then the last digits of a sum: 8 of 10 runs with one thread gave a
        # two-thread run's figures to the bit (docs/viewsam.md, "Counterfactual sentences")
        info["threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def _cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _commit() -> str | None:
    """The checkout's commit (with ``+dirty`` when files other than the results differ from it), so a
    figure names its code; ``CRMOT_COMMIT`` where there is no git."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":/",
                                ":(exclude,top)benchmarks/results"], cwd=here,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):  # a copy of the tree without git (a lent GPU machine)
        return os.environ.get("CRMOT_COMMIT")
    return head + ("+dirty" if dirty else "")
