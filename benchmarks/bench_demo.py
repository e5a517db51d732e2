"""`make demo` as a new user meets it: a fresh clone, `make install`, then `make demo`, timed.

    python benchmarks/bench_demo.py [--clone DIR] [--out JSON]

Clones this checkout's HEAD (committed work only) into ``--clone`` (a new temporary folder by
default, removed afterwards), installs it (timed apart: the demo's time is the must-show, the install
depends on the network cache), runs ``make demo`` and records its wall time, its exit status and the
two figures it prints (training-free pipeline and weakly supervised ViewSAM, read from the run's
metrics files). Run it alone on the machine: anything beside it slows the demo. Results:
benchmarks/results/demo.json, or ``--out``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402

from crmot.demo import comparison  # noqa: E402
from crmot.io import atomic_write_json  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "demo.json"


def timed(command: list[str], cwd: Path, log: Path) -> tuple[float, int]:
    started = time.perf_counter()
    with log.open("a") as out:
        code = subprocess.run(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT).returncode
    return time.perf_counter() - started, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clone", type=Path, default=None, help="where to clone (default: a temporary folder)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    clone = args.clone or Path(tempfile.mkdtemp(prefix="crmot-demo-"))
    try:
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True,
                                check=True).stdout.strip()
        log = clone / "bench_demo.log"
        install_s, code = timed(["make", "install"], clone, log)
        if code:
            sys.exit(f"make install failed ({code}): {log}")
        demo_s, code = timed(["make", "demo"], clone, log)
        result = {
            "benchmark": "make demo from a fresh clone after make install (the must-show: at most 10 minutes on 2 cores)",
            "machine": {**machine(), "commit": commit}, "install_s": round(install_s, 1), "demo_s": round(demo_s, 1),
            "returncode": code, "figures": comparison(clone / "runs" / "demo") if code == 0 else None,
        }
        atomic_write_json(args.out, result)
        print(f"make demo: exit {code} in {demo_s:.0f} s ({demo_s / 60:.1f} min) at {commit} -> {args.out}")
        if code:
            sys.exit(f"make demo failed ({code}): {log}")
    finally:
        if args.clone is None:
            shutil.rmtree(clone, ignore_errors=True)


if __name__ == "__main__":
    main()
