"""Accuracy of record: the training-free pipeline, weakly supervised ViewSAM and oracle-trained ViewSAM.

    python benchmarks/bench_accuracy.py [--seeds 100 101 102 103 104] [--training-seeds 0 1]
                                        [--rows weak gt] [--out benchmarks/results/accuracy.json]
    python benchmarks/bench_accuracy.py --table   # the README's table, from the JSON

For each world (the demo preset drawn with one seed), three rows on its test split:
- ``training-free``: stages 1-2 on the split, expressions matched to stage-2 identities (make eval-zeroshot);
- ``weak``: ViewSAM trained on the stage-2 pseudo labels of the train split (make train), then prompted by
  the test split's stage-1 tracklets (make eval);
- ``gt``: the same, trained on the GT (oracle) label root of the train split (the world's own boxes, masks,
  ids and expressions, plus the phrases of its own descriptions: what stage 2 would write were stages 1
  and 2 perfect), the upper bound of weak training.
Each row gives CVRIDF1, CVRMA, training steps, wall seconds and the model's backbone. Seeds 100-104
serve this table only: every setting was chosen on seeds 0-4 (``settings_chosen_on`` in the JSON).

A world's test split holds some 30 expressions, each answered nearly all or nothing, and one
training run differs from another by its seed alone by several CVRIDF1 points on one world. With
``--training-seeds`` each ViewSAM row is trained once per seed (``seed_everything`` and the clip
sampler's seed) and gives the mean of its runs, each run's figures and their spread (max - min).
``--rows gt`` measures that trained row again and keeps the other one from ``--out`` (same worlds and
training seeds): a change that concerns one row costs that row's runs only. The record a run
replaces moves, with the readings written beside it (notes, diagnoses), under ``previous_record``.
Beside the JSON, ``<out>_expressions.json`` holds every run's figures per test expression.

With ``--jobs N`` the runs train N at a time, each process on its share of the cores, before the pass
that answers and reads them: on 2 cores two one-thread runs do about 1.4 times the work of one
two-thread run (``docs/viewsam.md``, Costs). Each run then keeps SAM2's frozen encoder in its step
(a worker would be a third process on two cores), which changes its figures by float rounding only;
its training time is measured beside another run and says so (``jobs`` in the JSON).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402

from crmot.association.labels import write_oracle_labels  # noqa: E402
from crmot.association.zeroshot import score_zeroshot  # noqa: E402
from crmot.constants import CONF_DIR, REPORT_SEEDS, VALIDATION_SEEDS  # noqa: E402
from crmot.data.synthetic import ensure_world, load_preset  # noqa: E402
from crmot.io import atomic_write_json  # noqa: E402
from crmot.stages.associate import main as associate_main  # noqa: E402
from crmot.stages.evaluate import main as evaluate_main  # noqa: E402
from crmot.stages.manifest import MANIFEST  # noqa: E402
from crmot.stages.tracklets import main as tracklets_main  # noqa: E402
from crmot.stages.train import main as train_main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


TRAINED_ROWS = ("weak", "gt")
#: Stage 4's answer decision for a trained row where validation chose another than FusionConfig's
#: default, which was chosen for weakly trained models: the GT-trained models of validation seeds 0-4
#: (two training seeds each) read by sweep_decision.py and chosen by the same rule
#: (``viewsam_ablation.json`` -> ``decision_grid_gt``; ``clauses``: ``clause_composition``).
ROW_FUSION = {"gt": {"refer_threshold": 0.7, "clauses": "identity"}}
#: The keys of a record's own measurement; any other key (a note, a diagnosis written beside it, the
#: record before it) moves with the record under the next record's ``previous_record``.
MEASUREMENT_KEYS = ("machine", "benchmark", "preset", "seeds", "training_seeds", "jobs", "rows_kept_from",
                    "settings_chosen_on", "worlds", "mean")


def prepare_world(seed: int, work: Path, preset: str) -> tuple[Path, Path, float]:
    """The world drawn with ``seed`` and its stages 1-2 (skipped where finished): its data root, its
    run folder and the seconds stages 1-2 took (a re-run reports the last real run's time)."""
    data, run = work / f"world{seed}", work / f"run{seed}"
    ensure_world(data, load_preset(preset), seed)
    timing = run / "stages_seconds.json"
    started, started_at = time.perf_counter(), time.time()
    tracklets_main(["predict", "--config", str(CONF_DIR / "tracklets.yaml"), "--data.root", str(data),
                    "--model.output_dir", str(run / "tracklets"), "--trainer.accelerator", "cpu"])
    associate_main(["predict", "--config", str(CONF_DIR / "associate.yaml"), "--data.root", str(data),
                    "--model.tracklets_dir", str(run / "tracklets"), "--model.output_dir", str(run / "pseudo"),
                    "--trainer.accelerator", "cpu"])
    if not timing.exists() or stages_ran(run, started_at):
        atomic_write_json(timing, {"seconds": round(time.perf_counter() - started, 1), "machine": machine()})
    return data, run, json.loads(timing.read_text())["seconds"]


def run_world(seed: int, work: Path, preset: str, steps: int | None, training_seeds: list[int],
              kept: dict[str, dict] | None = None) -> dict:
    """Every row of one world; trained rows found in ``kept`` are taken from there, not measured."""
    data, run, stages_seconds = prepare_world(seed, work, preset)
    started = time.perf_counter()
    zeroshot = score_zeroshot(data, run)["mean"]
    rows = {"training-free": {"CVRIDF1": zeroshot["CVRIDF1"], "CVRMA": zeroshot["CVRMA"], "steps": 0,
                              "seconds": round(stages_seconds + time.perf_counter() - started, 1),
                              "model": "classical tracklets + colour ReID + attributes + MiniLM matcher"}}
    for name in TRAINED_ROWS:
        if kept and name in kept:
            rows[name] = kept[name]
            continue
        labels = label_root(data, run, name)
        runs = [train_and_evaluate(data, run, labels, run / name / f"seed{t}", t, steps, ROW_FUSION.get(name, {}))
                for t in training_seeds]
        rows[name] = {k: mean_of(runs, k) for k in ("CVRIDF1", "CVRMA", "steps", "seconds")}
        rows[name].update(model=runs[0]["model"], runs=runs,
                          spread=round(max(r["CVRIDF1"] for r in runs) - min(r["CVRIDF1"] for r in runs), 2))
    return {"seed": seed, "preset": preset, "expressions": len(json.loads(
        (run / "zeroshot" / "metrics.json").read_text())["expressions"]), "rows": rows}


def label_root(data: Path, run: Path, row: str) -> Path:
    """Where a trained row's labels are: stage 2's pseudo labels (``weak``), or the oracle label root
    (``gt``), rewritten each time (cheap) so that a stopped run leaves no half root."""
    if row == "weak":
        return run / "pseudo"
    write_oracle_labels(data, run / "oracle", "train")
    return run / "oracle"


def stages_ran(run: Path, since: float) -> bool:
    """Whether stage 1 or 2 redid a scene after ``since`` (a stage rewrites a scene's manifest only when
    it redoes the scene, e.g. after a change of crmot's source), so that the stored time is stale."""
    return any(path.stat().st_mtime >= since for stage in ("tracklets", "pseudo")
               for path in (run / stage).rglob(MANIFEST))


def train_and_evaluate(data: Path, run: Path, labels: Path, out: Path, training_seed: int, steps: int | None,
                       fusion: dict | None = None, train_args: list[str] = ()) -> dict:
    """One ViewSAM trained on ``labels`` with ``training_seed`` (reused when it finished training), then
    evaluated on the test split (``fusion``: stage 4 settings other than the defaults; ``train_args``:
    more ``crmot train`` flags, for an ablation)."""
    train(data, labels, out, training_seed, steps, train_args)
    checkpoint = out / "train" / "checkpoints" / "last.ckpt"
    timing = out / "train" / "train_seconds.json"
    train_seconds = json.loads(timing.read_text())["seconds"] if timing.exists() else None
    started = time.perf_counter()
    evaluate_main(["predict", "--config", str(CONF_DIR / "evaluate.yaml"), "--data.root", str(data),
                   "--model.checkpoint", str(checkpoint), "--model.tracklets_dir", str(run / "tracklets"),
                   "--model.output_dir", str(out / "eval"), "--trainer.accelerator", "cpu",
                   *(arg for key, value in (fusion or {}).items() for arg in (f"--model.fusion.{key}", str(value)))])
    report = json.loads((out / "eval" / "test" / "metrics.json").read_text())
    facts = report["predicted_by"]["checkpoint"]
    eval_seconds = time.perf_counter() - started
    return {"training_seed": training_seed, "CVRIDF1": report["mean"]["CVRIDF1"], "CVRMA": report["mean"]["CVRMA"],
            "steps": facts["global_step"], "model": report["predicted_by"]["model"],
            "fusion": {k: report["predicted_by"]["fusion"][k] for k in ("refer_threshold", "relative_threshold", "clauses")},
            # None: a checkpoint reused without its training time or a resumed run, left out of the row's mean wall time
            "seconds": None if train_seconds is None else round(train_seconds + eval_seconds, 1)}


def train(data: Path, labels: Path, out: Path, training_seed: int, steps: int | None, train_args: list[str] = ()) -> None:
    """One ViewSAM trained on ``labels`` into ``out / "train"``, unless it finished training there."""
    checkpoint = out / "train" / "checkpoints" / "last.ckpt"
    timing = out / "train" / "train_seconds.json"  # a reused checkpoint reports the time it took to train
    if finished_training(out / "train"):
        return
    # a run stopped part-way goes on from its last checkpoint: resuming is exact (the clip sampler's
    # state is in it; tests/test_stage_train.py), but the time of its earlier part is lost
    resume = ["--ckpt_path", str(checkpoint)] if checkpoint.exists() else []
    started = time.perf_counter()
    train_main(["fit", "--config", str(CONF_DIR / "train_synthetic.yaml"), "--data.root", str(data),
                "--data.label_root", str(labels), "--trainer.default_root_dir", str(out / "train"),
                "--trainer.accelerator", "cpu", "--trainer.enable_progress_bar", "false",
                "--seed_everything", str(training_seed), "--data.seed", str(training_seed),
                *(["--trainer.max_steps", str(steps)] if steps else []), *train_args, *resume])
    seconds = None if resume else round(time.perf_counter() - started, 1)
    atomic_write_json(timing, {"seconds": seconds, "machine": machine()})


def finished_training(train_dir: Path) -> bool:
    """Whether a ViewSAM run of this benchmark trained to its end. Its timing is written once training
    returns; a run stopped part-way leaves a ``last.ckpt`` (saved every few steps) and no timing."""
    return (train_dir / "checkpoints" / "last.ckpt").exists() and (train_dir / "train_seconds.json").exists()


def expression_table(work: Path, seeds: list[int], training_seeds: list[int]) -> dict:
    """Per world, row and run: CVRIDF1 / CVRMA of every test expression, read from the metrics files
    under ``work`` (runs not on disk are left out). A world's mean hides which sentences a row gets
    right; this table lets a later diagnosis compare rows sentence by sentence without retraining."""
    table: dict[str, dict] = {}
    for seed in seeds:
        run = work / f"run{seed}"
        files = {"training-free": run / "zeroshot" / "metrics.json"}
        files |= {f"{row} seed{t}": run / row / f"seed{t}" / "eval" / "test" / "metrics.json"
                  for row in TRAINED_ROWS for t in training_seeds}
        world = {}
        for name, path in files.items():
            if path.exists():
                expressions = json.loads(path.read_text())["expressions"]
                world[name] = {e: [round(f["CVRIDF1"], 2), round(f["CVRMA"], 2)] for e, f in expressions.items()}
        table[str(seed)] = world
    return table


def mean_of(records: list[dict], key: str) -> float | None:
    """Mean of ``key`` over the records that measured it (wall time is unknown for reused checkpoints)."""
    values = [r[key] for r in records if r.get(key) is not None]
    return round(float(np.mean(values)), 2) if values else None


def summarise(worlds: list[dict]) -> dict:
    names = list(worlds[0]["rows"])
    return {name: {k: mean_of([w["rows"][name] for w in worlds], k)
                   for k in ("CVRIDF1", "CVRMA", "steps", "seconds", "spread") if k in worlds[0]["rows"][name]}
            for name in names}


ROW_NAMES = {"training-free": "training-free pipeline (stages 1-2 + expression matching)",
             "weak": "ViewSAM trained on the pseudo labels", "gt": "ViewSAM trained on GT labels (upper bound)"}


def markdown_table(result: dict) -> str:
    """Per world and mean: CVRIDF1 / CVRMA of each row (the mean of its training runs), then the runs,
    their CVRIDF1 spread within a world (mean over worlds), steps, wall time per run and model."""
    worlds = result["worlds"]
    head = ("| predictions by | " + " | ".join(f"seed {w['seed']}" for w in worlds)
            + " | mean | runs | run spread | steps | wall s | model |")
    lines = [head, "|" + "---|" * (len(worlds) + 7)]
    for name, label in ROW_NAMES.items():
        cells = [f"{w['rows'][name]['CVRIDF1']:.1f} / {w['rows'][name]['CVRMA']:.1f}" for w in worlds]
        mean = result["mean"][name]
        runs = len(worlds[0]["rows"][name].get("runs", ()))
        spread = f"{mean['spread']:.1f}" if runs > 1 else "-"
        runs = runs or "-"  # not trained
        model = worlds[0]["rows"][name]["model"]
        wall = "-" if mean.get("seconds") is None else f"{mean['seconds']:.0f}"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | **{mean['CVRIDF1']:.2f} / {mean['CVRMA']:.2f}** | "
                     f"{runs} | {spread} | {mean['steps']:.0f} | {wall} | `{model}` |")
    return "\n".join(lines)


#: ``crmot train`` flags of a run that shares the machine with others: its encoder stays in the step.
SHARED_MACHINE_ARGS = ("--data.num_workers", "0", "--data.encode_in_workers", "false")


def pending_runs(args: argparse.Namespace, kept: dict[int, dict[str, dict]]) -> list[tuple]:
    """The ``train`` arguments of every run the record needs and has not finished training, after
    stages 1-2 of every world (run here, one world at a time: they share no files with the runs)."""
    runs = []
    for seed in args.seeds:
        data, run, _ = prepare_world(seed, args.work, args.preset)
        for name in TRAINED_ROWS:
            if name in kept.get(seed, {}):
                continue
            labels = label_root(data, run, name)
            runs += [(data, labels, run / name / f"seed{t}", t, args.steps, SHARED_MACHINE_ARGS)
                     for t in args.training_seeds if not finished_training(run / name / f"seed{t}" / "train")]
    return runs


def train_in_parallel(runs: list[tuple], jobs: int) -> None:
    """``runs`` trained ``jobs`` at a time, in fresh processes of an equal share of the cores."""
    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: torch's thread pool set before use
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_use_threads, initargs=(threads,)) as pool:
        for future in [pool.submit(train, *run) for run in runs]:
            future.result()


def _use_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def kept_rows(args: argparse.Namespace) -> tuple[dict[int, dict[str, dict]], dict]:
    """The trained rows not asked for, per world, from the existing ``--out`` (which must have measured
    the same worlds with the same training seeds), and where they came from."""
    names = [n for n in TRAINED_ROWS if n not in args.rows]
    if not names:
        return {}, {}
    try:
        previous = json.loads(args.out.read_text())
    except (OSError, json.JSONDecodeError) as error:
        sys.exit(f"{args.out}: cannot keep rows {names} from it ({error})")
    worlds = {w["seed"]: w["rows"] for w in previous.get("worlds", [])}
    if previous.get("training_seeds") != args.training_seeds or not set(args.seeds) <= set(worlds):
        sys.exit(f"{args.out}: measured worlds {sorted(worlds)} with training seeds {previous.get('training_seeds')}; "
                 f"rows {names} cannot be kept for worlds {args.seeds} with training seeds {args.training_seeds}")
    kept = {seed: {n: worlds[seed][n] for n in names} for seed in args.seeds}
    origin = previous.get("rows_kept_from", {})
    return kept, {"rows_kept_from": {n: origin.get(n, previous["machine"].get("commit")) for n in names}}


def previous_record(out: Path, commit: str | None) -> dict | None:
    """What the record in ``out`` becomes in the one that replaces it: its commit, means and readings
    (the keys this script does not own), with its own ``previous_record`` nested. A record of the
    same commit is taken for this run's own first worlds (a run that stopped and was started again):
    its ``previous_record`` is kept as it was, and the record itself is not."""
    try:
        previous = json.loads(out.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    measured_at = previous.get("machine", {}).get("commit")
    if measured_at == commit:
        return previous.get("previous_record")
    readings = {k: v for k, v in previous.items() if k not in MEASUREMENT_KEYS}
    return {"commit": measured_at, "mean": previous.get("mean"), **readings}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(REPORT_SEEDS))
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: train_synthetic.yaml's)")
    parser.add_argument("--training-seeds", type=int, nargs="+", default=[0],
                        help="one ViewSAM run per seed for each trained row; the row gives their mean")
    parser.add_argument("--work", type=Path, default=ROOT / "data" / "bench_accuracy")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "accuracy.json")
    parser.add_argument("--rows", nargs="+", choices=TRAINED_ROWS, default=list(TRAINED_ROWS),
                        help="trained rows to measure; the others are kept from --out")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at a time (each on cores / jobs threads)")
    parser.add_argument("--table", action="store_true", help="print the README's markdown table from --out and stop")
    args = parser.parse_args(argv)
    if args.table:
        print(markdown_table(json.loads(args.out.read_text())))
        return
    kept, kept_from = kept_rows(args)
    if args.jobs > 1:
        train_in_parallel(pending_runs(args, kept), args.jobs)
    previous = previous_record(args.out, machine()["commit"])
    worlds = []
    for seed in args.seeds:
        worlds.append(run_world(seed, args.work, args.preset, args.steps, args.training_seeds, kept.get(seed)))
        result = {"machine": machine(), "benchmark": "accuracy", "preset": args.preset, "seeds": args.seeds,
                  "training_seeds": args.training_seeds, "jobs": args.jobs, **kept_from,
                  "settings_chosen_on": {"seeds": list(VALIDATION_SEEDS), "preset": args.preset},
                  "worlds": worlds, "mean": summarise(worlds),
                  **({"previous_record": previous} if previous else {})}
        atomic_write_json(args.out, result)  # after every world: a long run that stops keeps what it measured
        atomic_write_json(args.out.with_name(args.out.stem + "_expressions.json"),
                          {"machine": result["machine"], "what": "CVRIDF1 / CVRMA per test expression of every run "
                           f"of {args.out.name} found on disk", "worlds": expression_table(args.work, args.seeds,
                                                                                         args.training_seeds)})
    print(json.dumps(result["mean"], indent=2))


if __name__ == "__main__":
    sys.exit(main())
