"""Re-choose stage 4's answer decision for a trained ViewSAM, on validation worlds only.

    python benchmarks/sweep_decision.py --run WORLD TRACKLETS CHECKPOINT [--run ...]
        [--grid refer_threshold=0.4,0.5,0.6,0.7 --grid relative_threshold=0.7,0.85,0.95,1.0] [--out sweep.json]

An identity answers an expression when its pooled referring probability clears ``refer_threshold``,
or comes within ``relative_threshold`` of the best identity's (``crmot.inference.fusion``). Where
those two sit trades CVRIDF1 against CVRMA, and a model trained another way may want them elsewhere;
its identity embeddings may want another ``identity_threshold`` too. ``--grid`` varies any field of
``FusionConfig`` (the grid is the product of the fields given; default: the two thresholds above).
Each ``--run`` (a world's root with ground truth, its stage-1 tracklets, one checkpoint) is read once
(the costly part); every grid point then only re-decides and re-scores. The other fusion settings are
stage 4's defaults (``FusionConfig``, or the packaged ``evaluate.yaml`` where it sets them). Give
several checkpoints of one world (training seeds) as several runs: a setting is worth keeping when it
helps across them, not on one draw. The table marks what the rule that chose crmot's defaults picks
(``RULE``; runs grouped by their checkpoint's training seed). ``benchmarks/bench_accuracy.py`` keeps
what it chose for a row that is not the default's (``ROW_FUSION``).

Use worlds that the figures you report never see: a threshold chosen on the test worlds is tuned on them.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import typing
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402

from crmot.constants import CONF_DIR  # noqa: E402
from crmot.data.crtrack import Scene, list_scenes, load_scene  # noqa: E402
from crmot.data.expression_files import write_predictions  # noqa: E402
from crmot.inference.candidates import CandidateConfig, ViewRows, predict_scene  # noqa: E402
from crmot.inference.clauses import scene_questions  # noqa: E402
from crmot.inference.fusion import FusionConfig, answer_scene  # noqa: E402
from crmot.io import atomic_write_json  # noqa: E402
from crmot.metrics.evaluate import evaluate  # noqa: E402
from crmot.stages.evaluate import EvaluationModule  # noqa: E402


def packaged_settings() -> tuple[CandidateConfig, FusionConfig]:
    model = yaml.safe_load((CONF_DIR / "evaluate.yaml").read_text())["model"]
    return CandidateConfig(**model.get("candidates") or {}), FusionConfig(**model.get("fusion") or {})


def read_world(world: Path, tracklets: Path, checkpoint: Path, candidates: CandidateConfig,
               split: str) -> tuple[list[tuple[Scene, dict[int, ViewRows]]], int | None]:
    """ViewSAM's reading of every scene of ``split`` (the expensive step, done once per run), and the
    checkpoint's training seed."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with tempfile.TemporaryDirectory() as unused_output:  # the module writes nothing here
        module = EvaluationModule(str(checkpoint), str(tracklets), unused_output).to(device)
    readings = []
    for name in list_scenes(world, split):
        scene = load_scene(world, split, name, labels=False)
        prompts, _ = module.prompts(scene)
        sentences = scene_questions(scene).sentences
        readings.append((scene, predict_scene(module.model, scene, prompts, sentences, candidates, device)))
    return readings, module.checkpoint.get("training_seed")


def score(world: Path, readings: list[tuple[Scene, dict[int, ViewRows]]], fusion: FusionConfig, split: str) -> dict:
    """CVRIDF1 / CVRMA of the answers ``fusion`` decides (boxes only: the metrics read no masks)."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for scene, views in readings:
            for name, replies in answer_scene(views, scene, fusion).items():
                for k, reply in replies.items():
                    write_predictions(root, name, k, reply.tracks)
        mean = evaluate(world, root, split=split)["mean"]
    return {"CVRIDF1": round(mean["CVRIDF1"], 2), "CVRMA": round(mean["CVRMA"], 2)}


RULE = ("of the settings that raise both figures over the baseline (packaged, or --baseline) for every "
        "training seed (mean over its runs), the largest CVRIDF1 + CVRMA over all runs")


def choose(rows: list[dict], runs: list[dict]) -> dict | None:
    """The rule crmot's defaults were chosen by (``RULE``); None when no setting qualifies. Runs are
    grouped by their checkpoint's training seed: a gain on one draw of the training is not a gain."""
    seeds = sorted({run["training_seed"] for run in runs}, key=str)
    baseline = next(i for i, row in enumerate(rows) if row["baseline"])

    def seed_mean(i: int, seed) -> np.ndarray:
        return np.mean([[r["scores"][i]["CVRIDF1"], r["scores"][i]["CVRMA"]] for r in runs
                        if r["training_seed"] == seed], axis=0)

    better = [i for i in range(len(rows)) if i != baseline
              and all((seed_mean(i, t) > seed_mean(baseline, t)).all() for t in seeds)]
    best = max(better, key=lambda i: rows[i]["CVRIDF1"] + rows[i]["CVRMA"], default=None)
    return None if best is None else rows[best]


DEFAULT_GRID = {"refer_threshold": (0.4, 0.5, 0.6, 0.7), "relative_threshold": (0.7, 0.85, 0.95, 1.0)}


def parse_grid(specs: list[str] | None, default: dict[str, tuple] | None = None) -> dict[str, tuple]:
    """``["name=v,v,..."]`` -> {FusionConfig field: values}; a clear error for an unknown field or value."""
    if not specs:
        return default or {}
    fields = typing.get_type_hints(FusionConfig)
    grid = {}
    for spec in specs:
        name, _, values = spec.partition("=")
        if name not in fields or not values:
            raise SystemExit(f"{spec!r}: expected NAME=V[,V...] with NAME one of {', '.join(fields)}")
        cast = {int: int, bool: _boolean}.get(fields[name], float)
        if typing.get_origin(fields[name]) is typing.Literal:
            cast = partial(_one_of, typing.get_args(fields[name]))
        try:
            grid[name] = tuple(cast(v) for v in values.split(","))
        except ValueError:
            raise SystemExit(f"{spec!r}: {values!r} are not values of {name}") from None
    return grid


def _one_of(choices: tuple[str, ...], text: str) -> str:
    if text not in choices:
        raise ValueError(text)
    return text


def _boolean(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise ValueError(text)
    return text.lower() == "true"


def baseline_setting(packaged: FusionConfig, specs: list[str] | None) -> FusionConfig:
    """The setting a grid point must beat: the packaged one, or a row's own decision (``--baseline``)."""
    own = parse_grid(specs)
    if any(len(values) != 1 for values in own.values()):
        raise SystemExit(f"one value per field (NAME=V), got {specs}")
    return replace(packaged, **{name: values[0] for name, values in own.items()})


def settings(base: FusionConfig, grid: dict[str, tuple]) -> list[FusionConfig]:
    """Every point of ``grid`` over ``base``, ``base`` first (once, even where the grid holds it)."""
    points = (replace(base, **dict(zip(grid, values))) for values in itertools.product(*grid.values()))
    return list(dict.fromkeys([base, *points]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", nargs=3, action="append", required=True, metavar=("WORLD", "TRACKLETS", "CHECKPOINT"))
    parser.add_argument("--grid", action="append", metavar="NAME=V,V", help="a FusionConfig field and its values")
    parser.add_argument("--baseline", action="append", metavar="NAME=V",
                        help="the decision to beat, where not the packaged one (e.g. a row's ROW_FUSION)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--out", type=Path, default=Path("sweep_decision.json"))
    args = parser.parse_args()
    varied = parse_grid(args.grid, DEFAULT_GRID)
    candidates, packaged = packaged_settings()
    base = baseline_setting(packaged, args.baseline)
    grid = settings(base, varied)
    runs = []
    for world, tracklets, checkpoint in map(lambda r: tuple(map(Path, r)), args.run):
        readings, training_seed = read_world(world, tracklets, checkpoint, candidates, args.split)
        runs.append({"world": str(world), "checkpoint": str(checkpoint), "training_seed": training_seed,
                     "scores": [score(world, readings, fusion, args.split) for fusion in grid]})
        print(f"read and scored {world} with {checkpoint}", flush=True)
    rows = []
    for i, fusion in enumerate(grid):
        figures = np.array([[run["scores"][i]["CVRIDF1"], run["scores"][i]["CVRMA"]] for run in runs])
        rows.append({**{name: getattr(fusion, name) for name in varied},
                     "baseline": fusion == base, "CVRIDF1": round(float(figures[:, 0].mean()), 2),
                     "CVRMA": round(float(figures[:, 1].mean()), 2)})
    chosen = choose(rows, runs)
    atomic_write_json(args.out, {"machine": machine(), "split": args.split,
                                 "baseline": {name: getattr(base, name)
                                              for name in dict.fromkeys([*varied, *parse_grid(args.baseline)])},
                                 "rule": RULE, "chosen": chosen, "rows": rows, "runs": runs})
    print("".join(f"{name:>20}" for name in varied) + f"{'CVRIDF1':>8} {'CVRMA':>7}  (mean over {len(runs)} runs)")
    for row in sorted(rows, key=lambda r: -(r["CVRIDF1"] + r["CVRMA"])):
        mark = "  <- baseline" if row["baseline"] else "  <- the rule's choice" if row is chosen else ""
        print("".join(f"{row[name]:>20}" for name in varied) + f"{row['CVRIDF1']:>8.2f} {row['CVRMA']:>7.2f}{mark}")
    print(f"{RULE}: {'keep the baseline' if chosen is None else 'see the marked row'}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
