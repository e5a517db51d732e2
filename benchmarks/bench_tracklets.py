"""Stage-1 speed and memory: frames/s per view and peak memory of each backend, and the memory of a
2,000-frame view against a 200-frame one (windows and streaming must keep it flat).

    python benchmarks/bench_tracklets.py [--data data/bench] [--long data/long] [--tiny] [--out JSON]

On a GPU it runs the issue's settings (sam2 base_plus at 1024 px with random weights, classical on the
`bench` world at 960x540, SAM3 small random); on CPU the same code at reduced sizes, recorded with
``gpu: null``. ``--tiny`` runs every backend for a few frames of the ``tiny`` world (what CI checks).
Each measurement runs in a fresh process, so its peak RSS is its own. Results:
benchmarks/results/tracklets.json, or ``--out``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import queue as queue_module
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402
from worlds import WORLDS  # noqa: E402

from crmot.data import load_split  # noqa: E402
from crmot.data.frames import read_frame  # noqa: E402
from crmot.io import atomic_write_json  # noqa: E402
from crmot.tracklets.types import VideoSource  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "tracklets.json"


def _backend(spec: dict):
    kind = spec["backend"]
    if kind == "classical":
        from crmot.tracklets.backends.classical import ClassicalBackend
        return ClassicalBackend()
    if kind == "sam2":
        from crmot.tracklets.backends.sam2 import SAM2Backend
        return SAM2Backend(size=spec["size"], checkpoint=None, allow_random_init=True, image_size=spec.get("image_size"),
                           window=spec.get("window", 50))
    if kind == "sam3":
        from crmot.tracklets.backends.sam3 import SAM3Backend
        return SAM3Backend(checkpoint=None, allow_random_init=True, random_image_size=spec["image_size"],
                           window=spec.get("window", 200))
    raise ValueError(kind)


def _measure(spec: dict, queue) -> None:
    """Child process: run one backend over one view, report time and peak memory."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    view = load_split(spec["root"], spec["split"])[0].views[0]
    info = view.seqinfo
    frames = min(spec["frames"], info.seq_length)
    video = VideoSource(frames, info.height, info.width, lambda f: read_frame(view, f), path=view.frame_path)
    backend = _backend(spec)
    backend.setup(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    tracklets = backend.segment_video(video, ["person"])
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    queue.put({
        "backend": backend.describe()["name"], "settings": {k: v for k, v in spec.items() if k not in ("root",)},
        "image_size": [info.width, info.height], "frames": frames, "seconds": seconds,
        "frames_per_s_per_view": frames / seconds, "rows": len(tracklets.tracks),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_gpu_mem_gb": torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None,
    })


def run(spec: dict) -> dict:
    """One measurement in its own process; a backend that fails is recorded with its exit code and the
    others still run (the suite fails at the end)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_measure, args=(spec, queue))
    process.start()
    while True:
        try:
            result = queue.get(timeout=2)
            break
        except queue_module.Empty:
            if not process.is_alive():
                settings = {k: v for k, v in spec.items() if k != "root"}
                print(f"  {spec['backend']:18s} FAILED (exit {process.exitcode}), settings {settings}")
                return {"backend": spec["backend"], "settings": settings, "error": f"exit {process.exitcode}"}
    process.join()
    print(f"  {result['backend']:18s} {result['image_size'][0]}x{result['image_size'][1]} {result['frames']:5d} frames "
          f"{result['frames_per_s_per_view']:8.2f} frames/s  peak RSS {result['peak_rss_mb']:.0f} MB")
    return result


def failures(results: list[dict]) -> None:
    """Exit non-zero, after the JSON is written, when a measurement failed."""
    failed = [r["backend"] for r in results if "error" in r]
    if failed:
        sys.exit(f"failed: {failed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="bench world (default: data/bench, tiny: data/gpu_suite_tiny)")
    parser.add_argument("--long", type=Path, default=None, help="default: data/long (benchmarks/worlds.py)")
    parser.add_argument("--tiny", action="store_true", help="a few frames of the tiny world per backend (what CI runs)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    gpu = torch.cuda.is_available()
    data = args.data or WORLDS["tiny" if args.tiny else "bench"].ensure()
    bench = {"root": str(data), "split": "test"}
    if args.tiny:
        specs = [{**bench, "backend": "classical", "frames": 16},
                 {**bench, "backend": "sam2", "size": "tiny", "image_size": 128, "frames": 3, "window": 3},
                 {**bench, "backend": "sam3", "image_size": 112, "frames": 2}]
        print("speed, one view of the tiny world's test split (smallest settings):")
        speed = [run(spec) for spec in specs]
        atomic_write_json(args.out, {"benchmark": "stage 1 tracklets (tiny settings)", "speed": speed, "machine": machine(),
                                     "command": "python benchmarks/bench_tracklets.py --tiny"})
        failures(speed)
        return
    long_root = args.long or WORLDS["long"].ensure()
    if gpu:  # the settings
        specs = [{**bench, "backend": "classical", "frames": 600},
                 {**bench, "backend": "sam2", "size": "base_plus", "image_size": 1024, "frames": 200},
                 {**bench, "backend": "sam3", "image_size": 1008, "frames": 100}]
    else:  # the same code at sizes two CPU cores finish in minutes
        specs = [{**bench, "backend": "classical", "frames": 600},
                 {**bench, "backend": "sam2", "size": "tiny", "image_size": 256, "frames": 10, "window": 5},
                 {**bench, "backend": "sam3", "image_size": 336, "frames": 5}]
    print("speed, one view of the bench world's test split:")
    speed: list[dict] = []
    result = {
        "benchmark": "stage 1 tracklets: frames/s per view and peak memory",
        "settings": "issue settings (GPU)" if gpu else "reduced CPU settings; GPU figures pending",
        "speed": speed,
        "memory": None,
        "targets": {"sam2_base_plus_frames_per_s_1024px_H100": 30, "classical_frames_per_s_960x540_H100": 500},
        "machine": machine(),
        "command": "python benchmarks/bench_tracklets.py",
    }
    for spec in specs:  # written after each: the figures stand even if a later run is cut short
        speed.append(run(spec))
        atomic_write_json(args.out, result)
    print("memory, one view of 200 and of 2,000 frames (classical backend):")
    long = {"root": str(long_root), "split": "train", "backend": "classical"}
    short_run, long_run = run({**long, "frames": 200}), run({**long, "frames": 2000})
    if "error" not in short_run and "error" not in long_run:
        ratio = long_run["peak_rss_mb"] / short_run["peak_rss_mb"]
        result["memory"] = {"frames_200": short_run, "frames_2000": long_run, "peak_rss_ratio_2000_over_200": ratio,
                            "target_ratio": 1.2}
        atomic_write_json(args.out, result)
        print(f"2000/200-frame peak RSS ratio {ratio:.3f}; written to {args.out}")
    failures(speed + [short_run, long_run])


if __name__ == "__main__":
    main()
