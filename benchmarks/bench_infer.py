"""Stage-4 speed: ViewSAM inference in view-frames/s (every view of a scene's frames encoded, each
stage-1-style box prompt decoded and scored against every sentence stage 4 reads: the expressions and
the clause-free sentences of those with a trailing clause), and peak memory.

    python benchmarks/bench_infer.py [--size base_plus] [--tiny] [--out JSON]

On a GPU the defaults are base_plus at 1024 px in bf16 on a test scene of the ``bench`` world; on CPU
(or with ``--tiny``) nano on the ``tiny`` world, recorded with ``gpu: null``. Prompts are the scene's
GT boxes: speed does not depend on where the boxes come from. Weights are random (speed does not
depend on them either). Results: benchmarks/results/infer.json, or ``--out``.
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

from crmot.data import load_split  # noqa: E402
from crmot.inference.candidates import CandidateConfig, predict_scene  # noqa: E402
from crmot.inference.clauses import scene_questions  # noqa: E402
from crmot.io import atomic_write_json  # noqa: E402
from crmot.models.viewsam import ViewSAM  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "infer.json"


def main() -> None:
    gpu = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="smallest settings (what CI runs)")
    parser.add_argument("--size", default=None, help="SAM2 size (default: base_plus on a GPU, nano otherwise)")
    parser.add_argument("--frames", type=int, default=None, help="frames of the scene to run (default: 100 GPU, 8 CPU)")
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    small = args.tiny or not gpu
    size = args.size or ("nano" if small else "base_plus")
    frames = args.frames or (8 if small else 100)
    data = args.data or WORLDS["tiny" if small else "bench"].ensure()
    scene = load_split(data, "test")[0]
    device = torch.device("cuda" if gpu else "cpu")
    model = ViewSAM(size, "both", "word" if small else "minilm", allow_random_init=True).to(device)
    prompts = {v.index: v.gt.select(v.gt.frames <= frames) for v in scene.views}
    sentences = scene_questions(scene).sentences
    autocast = torch.bfloat16 if gpu else None
    config = CandidateConfig()
    if gpu:
        torch.cuda.reset_peak_memory_stats()
    frames = min(frames, scene.num_frames)
    predict_scene(model, scene, prompts, sentences, config, device, autocast, last_frame=config.window)  # warm-up
    start = time.perf_counter()
    predict_scene(model, scene, prompts, sentences, config, device, autocast, last_frame=frames)
    if gpu:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    view_frames = len(scene.views) * frames
    result = {
        "benchmark": "stage 4 ViewSAM inference: view-frames/s",
        "machine": machine(), "gpu": machine()["gpu"], "size": size, "backbone": model.backbone,
        "precision": "bf16-mixed" if gpu else "32-true", "image_size": model.size.image_size,
        "views": len(scene.views), "frames": frames, "expressions": len(scene.expressions), "sentences": len(sentences),
        "prompts": int(sum(len(t) for t in prompts.values())), "seconds": seconds,
        "view_frames_per_s": view_frames / seconds,
        "peak_mem_gb": torch.cuda.max_memory_allocated() / 2**30 if gpu
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "note": None if gpu else "CPU only: nano on the tiny world; GPU figures pending",
        "command": "python benchmarks/bench_infer.py" + (" --tiny" if args.tiny else ""),
    }
    atomic_write_json(args.out, result)
    read = f"{len(scene.expressions)} expressions ({len(sentences)} sentences read)"
    print(f"ViewSAM {size} ({result['precision']}): {result['view_frames_per_s']:.2f} view-frames/s over "
          f"{view_frames} view-frames, {read}; written to {args.out}")


if __name__ == "__main__":
    main()
