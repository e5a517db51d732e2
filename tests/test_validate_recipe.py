"""A recipe is tried on validation worlds only, and its table counts the last line of every run and
stars a run whose earlier lines gave other figures (benchmarks/validate_recipe.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from validate_recipe import main, summary  # noqa: E402


def test_the_records_worlds_are_refused(tmp_path):
    with pytest.raises(SystemExit, match="record"):
        main(["--seeds", "3", "101", "--work", str(tmp_path)])
    assert not list(tmp_path.iterdir())  # refused before anything was drawn


def test_the_table_gives_each_recipe_and_seed_its_mean_over_complete_worlds(tmp_path):
    out = tmp_path / "runs.jsonl"
    lines = [
        {"name": "training-free", "row": "training-free", "world": 0, "CVRIDF1": 70.0, "CVRMA": 50.0},
        {"name": "training-free", "row": "training-free", "world": 1, "CVRIDF1": 60.0, "CVRMA": 40.0},
        {"name": "cf", "row": "weak", "world": 0, "training_seed": 0, "CVRIDF1": 1.0, "CVRMA": 1.0},  # run again:
        {"name": "cf", "row": "weak", "world": 0, "training_seed": 0, "CVRIDF1": 72.0, "CVRMA": 52.0,  # this counts
         "machine": {"cpu_kernels": "AVX2"}},
        {"name": "cf", "row": "weak", "world": 1, "training_seed": 0, "CVRIDF1": 62.0, "CVRMA": 44.0,
         "machine": {"cpu_kernels": "AVX512"}},
        {"name": "cf", "row": "weak", "world": 0, "training_seed": 1, "CVRIDF1": 68.0, "CVRMA": 48.0},
    ]
    out.write_text("".join(json.dumps(line) + "\n" for line in lines))
    table = summary(out).splitlines()
    assert table[0] == "| recipe | row | training seed | world 0 | world 1 | mean | kernels |"
    assert "| cf | weak | 0 | 72.00 / 52.00 * | 62.00 / 44.00 | 67.00 / 48.00 | AVX2, AVX512 |" in table  # mixed: visible
    assert "| cf | weak | 1 | 68.00 / 48.00 |  |  |  |" in table  # world 1 not yet run: no mean
    assert "| training-free | training-free |  | 70.00 / 50.00 | 60.00 / 40.00 | 65.00 / 45.00 |  |" in table
    assert table[-1].startswith("\\* trained or answered again")


def test_a_run_answered_again_with_the_same_figures_is_not_starred(tmp_path):
    out = tmp_path / "runs.jsonl"
    line = {"name": "cf", "row": "weak", "world": 0, "training_seed": 0, "CVRIDF1": 72.0, "CVRMA": 52.0}
    out.write_text((json.dumps(line) + "\n") * 2)
    assert summary(out).splitlines()[-1] == "| cf | weak | 0 | 72.00 / 52.00 | 72.00 / 52.00 |  |"
