"""Clause pairs: which sentences add a carried thing to another (benchmarks/by_expression_kind.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from by_expression_kind import clause_pairs  # noqa: E402


def _report(figures: dict[str, float]) -> dict:
    return {"scenes": {"Park_1": {}, "Park": {}},
            "expressions": {name: {"CVRMA": value} for name, value in figures.items()}}


def test_pairs_within_a_scene_and_the_flips():
    report = _report({
        "Park_1_A man wearing a red coat": 90.0,
        "Park_1_A man wearing a red coat, carrying a white plastic bag": 0.0,  # right -> wrong
        "Park_1_A man wearing a blue coat": 5.0,
        "Park_1_A man wearing a blue coat, holding a dog": 60.0,  # wrong -> right
        "Park_A man wearing a red coat, riding a bicycle": 70.0,  # its clause-free sentence is another scene's
        "Park_1_A man wearing a green coat, carrying a bag": 40.0,  # no clause-free sentence
    })
    pairs = clause_pairs([report])
    assert {k: v for k, v in pairs.items() if k != "by_object"} == {"pairs": 2, "without": 47.5, "with": 30.0, "flips": 1,
                                                                      "reverse_flips": 1}
    assert pairs["by_object"] == {
        "dog": {"pairs": 1, "without": 5.0, "with": 60.0, "flips": 0, "reverse_flips": 1},
        "plastic bag": {"pairs": 1, "without": 90.0, "with": 0.0, "flips": 1, "reverse_flips": 0}}


def test_no_pairs():
    assert clause_pairs([_report({"Park_A man wearing a red coat": 1.0})])["pairs"] == 0
