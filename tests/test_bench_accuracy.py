"""A new record keeps the one it replaces, with the readings written beside it (benchmarks/bench_accuracy.py)."""

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
