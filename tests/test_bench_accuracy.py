"""A new record keeps the one it replaces, with the readings written beside it, and a run stopped part-way
is not taken for a finished one (benchmarks/bench_accuracy.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_accuracy import previous_record  # noqa: E402


def _record(path: Path, commit: str, **extra) -> Path:
    path.write_text(json.dumps({"machine": {"commit": commit}, "worlds": [{"seed": 100}], "mean": {"gt": [1, 2]},
                                **extra}))
    return path


def test_readings_move_with_the_record_they_describe(tmp_path):
    out = _record(tmp_path / "accuracy.json", "aaa", note="why", diagnosis={"x": 1},
                  previous_record={"commit": "000", "mean": {}})
    kept = previous_record(out, "bbb")
    assert kept == {"commit": "aaa", "mean": {"gt": [1, 2]}, "note": "why", "diagnosis": {"x": 1},
                    "previous_record": {"commit": "000", "mean": {}}}


def test_a_restarted_run_keeps_the_previous_record_it_found(tmp_path):
    out = _record(tmp_path / "accuracy.json", "bbb", previous_record={"commit": "aaa", "mean": {}})
    assert previous_record(out, "bbb") == {"commit": "aaa", "mean": {}}


def test_no_record_yet(tmp_path):
    assert previous_record(tmp_path / "missing.json", "bbb") is None
    assert previous_record(_record(tmp_path / "first.json", "bbb"), "bbb") is None


def test_expression_table_reads_the_runs_on_disk(tmp_path):
    from bench_accuracy import expression_table

    def metrics(path: Path, figure: float) -> None:
        path.mkdir(parents=True)
        (path / "metrics.json").write_text(json.dumps({"expressions": {"Park_a red coat": {"CVRIDF1": figure,
                                                                                           "CVRMA": figure / 2}}}))

    metrics(tmp_path / "run100" / "zeroshot", 60.0)
    metrics(tmp_path / "run100" / "gt" / "seed1" / "eval" / "test", 80.0)
    table = expression_table(tmp_path, [100, 101], [0, 1])
    assert table == {"100": {"training-free": {"Park_a red coat": [60.0, 30.0]},
                             "gt seed1": {"Park_a red coat": [80.0, 40.0]}}, "101": {}}


def test_a_run_stopped_part_way_is_not_taken_for_a_trained_one(tmp_path):
    from bench_accuracy import finished_training

    train = tmp_path / "gt" / "seed0" / "train"
    assert not finished_training(train)
    (train / "checkpoints").mkdir(parents=True)
    (train / "checkpoints" / "last.ckpt").write_bytes(b"step 300 of 2000")
    assert not finished_training(train)
    (train / "train_seconds.json").write_text(json.dumps({"seconds": 1.0}))
    assert finished_training(train)


def test_runs_trained_in_parallel_are_those_not_kept_and_not_finished(tmp_path, monkeypatch):
    import argparse

    import bench_accuracy

    monkeypatch.setattr(bench_accuracy, "prepare_world", lambda seed, work, preset: (work / f"world{seed}",
                                                                                     work / f"run{seed}", 0.0))
    monkeypatch.setattr(bench_accuracy, "label_root", lambda data, run, row: run / row)
    done = tmp_path / "run100" / "weak" / "seed0" / "train"
    (done / "checkpoints").mkdir(parents=True)
    (done / "checkpoints" / "last.ckpt").write_bytes(b"")
    (done / "train_seconds.json").write_text("{}")
    args = argparse.Namespace(seeds=[100, 101], work=tmp_path, preset="demo", steps=None, training_seeds=[0, 1])
    runs = bench_accuracy.pending_runs(args, kept={101: {"gt": {"CVRIDF1": 1.0}}})
    assert [(run[2].relative_to(tmp_path).as_posix(), run[3]) for run in runs] == [
        ("run100/weak/seed1", 1), ("run100/gt/seed0", 0), ("run100/gt/seed1", 1), ("run101/weak/seed0", 0),
        ("run101/weak/seed1", 1)]
    assert runs[1][1] == tmp_path / "run100" / "gt" and runs[0][5] == bench_accuracy.SHARED_MACHINE_ARGS
