"""``make demo``: the pipeline end to end on the synthetic demo world.

It writes (or reuses) the demo world, validates it, runs stage 1 (tracklets) and stage 2 (cross-view
pseudo labels), each with its quality against the world's ground truth; the training-free pipeline
answers the test expressions and ``crmot evaluate`` scores it; then ViewSAM ``nano`` trains on the
pseudo labels for a few minutes (stage 3) and answers the test expressions too (stage 4), scored the
same way. Both tables name what produced them: nano runs on a random-init SAM2, so its figures say
that the pipeline works end to end, not what ViewSAM reaches with SAM2 weights.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from crmot.constants import CONF_DIR
from crmot.data.check import check_root, print_summary
from crmot.data.synthetic import generate, load_preset
from crmot.stages.associate import main as associate_main
from crmot.stages.evaluate import main as evaluate_main
from crmot.stages.tracklets import main as tracklets_main
from crmot.stages.train import main as train_main

DEMO_PRESET = "demo"
#: ViewSAM nano training steps of the demo: 4-6.5 minutes on 2 CPU cores.
DEMO_TRAIN_STEPS = 600


def run_demo(data: Path, run: Path, seed: int = 0, console: Console | None = None,
             train_steps: int = DEMO_TRAIN_STEPS) -> None:
    console = console or Console()
    config = load_preset(DEMO_PRESET)
    if _world_is_current(data, config, seed):
        console.print(f"[green]demo world[/] {data} is up to date (preset {DEMO_PRESET}, seed {seed}): reusing it")
    else:
        summary = generate(data, config, seed=seed)
        console.print(f"[green]demo world[/] written to {data} in {summary['seconds']:.1f} s")
    print_summary(check_root(data), console, title=f"synthetic world {data} (preset {DEMO_PRESET}, seed {seed})")
    console.rule("stage 1: tracklets (classical backend)")
    tracklets_main(["predict", "--config", str(CONF_DIR / "tracklets.yaml"), "--data.root", str(data),
                    "--model.output_dir", str(Path(run) / "tracklets"), "--trainer.accelerator", "cpu"])
    console.rule("stage 2: cross-view pseudo labels (colour ReID, classical re-prompting, attribute describer)")
    associate_main(["predict", "--config", str(CONF_DIR / "associate.yaml"), "--data.root", str(data),
                    "--model.tracklets_dir", str(Path(run) / "tracklets"), "--model.output_dir", str(Path(run) / "pseudo"),
                    "--trainer.accelerator", "cpu"])
    console.rule("training-free CRMOT on the test split (stage-2 identities + expression matcher)")
    score_zeroshot(data, Path(run), console)
    run = Path(run)
    console.rule(f"stage 3: ViewSAM nano on the pseudo labels, {train_steps} steps (random-init SAM2: no weights offline)")
    checkpoint = run / "train" / "checkpoints" / "last.ckpt"
    train_main(["fit", "--config", str(CONF_DIR / "train.yaml"), "--data.root", str(data), "--data.label_root",
                str(run / "pseudo"), "--trainer.default_root_dir", str(run / "train"), "--trainer.accelerator", "cpu",
                "--trainer.max_steps", str(train_steps), "--trainer.enable_progress_bar", "false",
                *(["--ckpt_path", str(checkpoint)] if checkpoint.exists() else [])])
    console.rule("stage 4: ViewSAM answers the test expressions, scored by crmot evaluate")
    evaluate_main(["predict", "--config", str(CONF_DIR / "evaluate.yaml"), "--data.root", str(data),
                   "--model.checkpoint", str(checkpoint), "--model.output_dir", str(run / "eval"),
                   "--trainer.accelerator", "cpu"])


def score_zeroshot(data: Path, run: Path, console: Console) -> dict:
    from crmot.association.matcher import ExpressionMatcher
    from crmot.association.zeroshot import answer_split
    from crmot.metrics.evaluate import evaluate, print_report
    from crmot.models.text import SentenceEncoder
    from crmot.io import atomic_write_json

    predictions = run / "zeroshot" / "predictions"
    answer_split(data, run / "pseudo", "test", ExpressionMatcher(SentenceEncoder()), predictions)
    report = evaluate(data, predictions, split="test")
    report["pipeline"] = "training-free: classical tracklets + colour ReID + attributes + MiniLM matcher"
    atomic_write_json(run / "zeroshot" / "metrics.json", report)
    print_report(report, console)
    return report


def _world_is_current(data: Path, config, seed: int) -> bool:
    """A world whose ``world.json`` records the same config and seed is reused, not rewritten."""
    path = Path(data) / "world.json"
    if not path.exists():
        return False
    recorded = json.loads(path.read_text())
    wanted = {k: list(v) if isinstance(v, tuple) else v for k, v in config.__dict__.items()}
    return recorded.get("seed") == seed and recorded.get("config") == wanted
