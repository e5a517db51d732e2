"""``make demo``: the pipeline end to end on the synthetic demo world.

Today it writes (or reuses) the demo world, validates it and runs stage 1 (tracklets, with their
quality against the world's ground truth); each stage extends this function as it lands.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from crmot.constants import CONF_DIR
from crmot.data.check import check_root, print_summary
from crmot.data.synthetic import generate, load_preset
from crmot.stages.tracklets import main as tracklets_main

DEMO_PRESET = "demo"


def run_demo(data: Path, run: Path, seed: int = 0, console: Console | None = None) -> None:
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
    console.print("stages 2-4 (pseudo labels, ViewSAM, evaluation) are not built yet: see the open issues; "
                  "`crmot evaluate` scores any prediction folder today.")


def _world_is_current(data: Path, config, seed: int) -> bool:
    """A world whose ``world.json`` records the same config and seed is reused, not rewritten."""
    path = Path(data) / "world.json"
    if not path.exists():
        return False
    recorded = json.loads(path.read_text())
    wanted = {k: list(v) if isinstance(v, tuple) else v for k, v in config.__dict__.items()}
    return recorded.get("seed") == seed and recorded.get("config") == wanted
