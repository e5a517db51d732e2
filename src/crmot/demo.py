"""``make demo``: the pipeline end to end on the synthetic demo world.

It writes (or reuses) the demo world, validates it, runs stage 1 (tracklets) and stage 2 (cross-view
pseudo labels), each with its quality against the world's ground truth; the training-free pipeline
answers the test expressions and ``crmot evaluate`` scores it; then ViewSAM ``nano`` (on crmot's
``sam2-nano-synthetic`` weights) trains on the pseudo labels for a few minutes (stage 3) and answers
the test expressions, prompted by the test split's stage-1 tracklets (stage 4), scored the same way.
The last table puts the two side by side, each named by what produced it, and the run's HTML report
(``crmot report``) shows what was tracked and referred.

Stage 2 works one scene at a time, mostly in single-threaded Python and numpy, so on a machine with
cores to spare the demo shards its scenes over forked processes (Lightning's ``ddp_fork``); the
files it writes are the same. Stage 1 stays in one process: its per-pixel torch work already uses
the cores, and a process of one thread rounds a few sums differently from one of several.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rich.console import Console
from rich.table import Table

from crmot.association.zeroshot import score_zeroshot
from crmot.constants import CONF_DIR, DEMO_SEED
from crmot.data.check import check_root, print_summary
from crmot.data.synthetic import ensure_world, load_preset
from crmot.progress import frame_progress
from crmot.report import build_report
from crmot.stages.associate import main as associate_main
from crmot.stages.evaluate import main as evaluate_main
from crmot.stages.tracklets import main as tracklets_main
from crmot.stages.train import main as train_main

DEMO_PRESET = "demo"
#: Most processes stage 2 shards the demo's scenes over (each holds a scene's frames and tracklets).
MAX_SCENE_PROCESSES = 4


def run_demo(data: Path, run: Path, seed: int = DEMO_SEED, console: Console | None = None,
             train_steps: int | None = None) -> None:
    console = console or Console()
    config = load_preset(DEMO_PRESET)
    summary = ensure_world(data, config, seed)
    if summary is None:
        console.print(f"[green]demo world[/] {data} is up to date (preset {DEMO_PRESET}, seed {seed}): reusing it")
    else:
        console.print(f"[green]demo world[/] written to {data} in {summary['seconds']:.1f} s")
    print_summary(check_root(data), console, title=f"synthetic world {data} (preset {DEMO_PRESET}, seed {seed})")
    console.rule("stage 1: tracklets (classical backend)")
    tracklets_main(["predict", "--config", str(CONF_DIR / "tracklets.yaml"), "--data.root", str(data),
                    "--model.output_dir", str(Path(run) / "tracklets"), "--trainer.accelerator", "cpu"])
    console.rule("stage 2: cross-view pseudo labels (colour ReID, classical re-prompting, attribute describer)")
    associate_main(["predict", "--config", str(CONF_DIR / "associate.yaml"), "--data.root", str(data),
                    "--model.tracklets_dir", str(Path(run) / "tracklets"), "--model.output_dir", str(Path(run) / "pseudo"),
                    "--trainer.accelerator", "cpu", *scene_processes()])
    console.rule("training-free CRMOT on the test split (stage-2 identities + expression matcher)")
    score_zeroshot(data, Path(run), console)
    run = Path(run)
    console.rule("stage 3: ViewSAM nano on the pseudo labels (sam2-nano-synthetic backbone)")
    checkpoint = run / "train" / "checkpoints" / "last.ckpt"
    steps = ["--trainer.max_steps", str(train_steps)] if train_steps else []
    train_main(["fit", "--config", str(CONF_DIR / "train_synthetic.yaml"), "--data.root", str(data), "--data.label_root",
                str(run / "pseudo"), "--trainer.default_root_dir", str(run / "train"), "--trainer.accelerator", "cpu",
                "--trainer.enable_progress_bar", "false", "--trainer.callbacks+=crmot.training.step_progress.StepProgress",
                *steps,
                *(["--ckpt_path", str(checkpoint)] if checkpoint.exists() else [])])
    console.rule("stage 4: ViewSAM answers the test expressions, prompted by stage-1 tracklets")
    evaluate_main(["predict", "--config", str(CONF_DIR / "evaluate.yaml"), "--data.root", str(data),
                   "--model.checkpoint", str(checkpoint), "--model.tracklets_dir", str(run / "tracklets"),
                   "--model.output_dir", str(run / "eval"), "--trainer.accelerator", "cpu"])
    print_comparison(run, console)
    console.rule("report: tables and mosaic videos of the run")
    with frame_progress(console, "report videos") as advance:
        index = build_report(run, data, "test", progress=advance)
    console.print(f"[green]report[/] written to {index} (open it in a browser)")


def scene_processes() -> list[str]:
    """Trainer flags that shard a scene-by-scene stage over the free cores (none on one core)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    processes = min(cores, MAX_SCENE_PROCESSES)
    return ["--trainer.devices", str(processes), "--trainer.strategy", "ddp_fork"] if processes > 1 else []


#: What the demo compares, by the label it prints: the training-free pipeline, then weak ViewSAM.
COMPARED = ("training-free (stages 1-2 + matcher)", "ViewSAM, weakly supervised")


def comparison(run: Path) -> dict[str, dict]:
    """The demo's two figures on the test split, read from the run's metrics files: per row of
    ``COMPARED``, what produced it (``by``) and its mean CVRIDF1 and CVRMA."""
    zeroshot = json.loads((run / "zeroshot" / "metrics.json").read_text())
    viewsam = json.loads((run / "eval" / "test" / "metrics.json").read_text())
    return {label: {"by": by, "CVRIDF1": report["mean"]["CVRIDF1"], "CVRMA": report["mean"]["CVRMA"]}
            for label, by, report in zip(COMPARED, (zeroshot["pipeline"], viewsam["predicted_by"]["model"]),
                                         (zeroshot, viewsam))}


def print_comparison(run: Path, console: Console) -> None:
    """The training-free pipeline and the weakly trained ViewSAM on the same test expressions."""
    table = Table(title=f"test split of {run}: training-free pipeline vs ViewSAM trained on its pseudo labels")
    for column in ("predictions by", "CVRIDF1", "CVRMA"):
        table.add_column(column, justify="left" if column == "predictions by" else "right")
    for label, row in comparison(run).items():
        table.add_row(f"{label}\n[dim]{row['by']}[/]", f"{row['CVRIDF1']:.2f}", f"{row['CVRMA']:.2f}")
    console.print(table)
