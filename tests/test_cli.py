"""``crmot evaluate`` and ``crmot data check`` as a user runs them."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from crmot.cli import main
from crmot.data import load_split
from crmot.data.crtrack import expression_gt, write_expression_gt, write_predictions
from crmot.metrics import evaluate


def _write_gt_as_predictions(root, pred, transform=lambda name, k, rows: rows):
    for scene in load_split(root, "test"):
        for name, views in expression_gt(scene).items():
            for k, rows in views.items():
                write_predictions(pred, name, k, transform(name, k, rows))


@pytest.mark.parametrize("protocol", ["crtrack", "strict"])
def test_ground_truth_as_prediction_scores_100(tiny_root, tmp_path, protocol):
    _write_gt_as_predictions(tiny_root, tmp_path / "pred")
    report = evaluate(tiny_root, tmp_path / "pred", protocol=protocol)
    assert report["mean"]["CVRIDF1"] == 100.0 and report["mean"]["CVRMA"] == 100.0
    assert report["protocol"] == protocol


def test_cli_reads_per_expression_gt_and_writes_the_json_report(tiny_root, tmp_path, capsys):
    write_expression_gt(tmp_path / "gt", expression_gt(load_split(tiny_root, "test")[0]))

    def swap_view2(name, k, rows):
        if k != 2 or len(np.unique(rows.ids)) < 2:
            return rows
        a, b = np.unique(rows.ids)[:2]
        ids = np.where(rows.ids == a, b, np.where(rows.ids == b, a, rows.ids))
        return type(rows)(rows.frames, ids, rows.boxes, rows.tail)

    _write_gt_as_predictions(tiny_root, tmp_path / "pred", swap_view2)
    out = tmp_path / "metrics.json"
    assert main(["evaluate", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred"), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report) == {"protocol", "mean", "scenes", "expressions"}
    assert "CVRIDF1" in capsys.readouterr().out
    for name, entry in report["expressions"].items():
        assert {"CVRIDF1", "CVRMA", "IDTP", "IDSW", "per_view"} <= set(entry)
        assert all(v["MOTA"] == 100.0 for v in entry["per_view"].values())  # per view nothing is wrong
    assert report["mean"]["CVRIDF1"] <= 100.0


def test_missing_prediction_folder_counts_as_nothing_with_a_warning(tiny_root, tmp_path, caplog):
    _write_gt_as_predictions(tiny_root, tmp_path / "pred")
    victim = sorted((tmp_path / "pred").iterdir())[0]
    shutil.rmtree(victim)
    report = evaluate(tiny_root, tmp_path / "pred")
    assert report["expressions"][victim.name]["CVRIDF1"] == 0.0
    assert "no prediction folder" in caplog.text


def test_prediction_folder_without_gt_is_an_error(tiny_root, tmp_path, capsys):
    _write_gt_as_predictions(tiny_root, tmp_path / "pred")
    (tmp_path / "pred" / "Nowhere_A man wearing a red coat").mkdir()
    assert main(["evaluate", "--gt", str(tiny_root), "--pred", str(tmp_path / "pred")]) == 2
    assert "pred/Nowhere_A man wearing a red coat: prediction folder has no ground truth" in capsys.readouterr().err


def test_data_check_prints_a_summary_and_rejects_a_bad_root(tiny_root, tmp_path, capsys):
    assert main(["data", "check", str(tiny_root)]) == 0
    assert "valid" in capsys.readouterr().out
    bad = tmp_path / "bad"
    shutil.copytree(tiny_root, bad)
    gt = next((bad / "images" / "train").glob("*_View1")) / "gt" / "gt.txt"
    gt.write_text(gt.read_text() + "3,1,0,0,-4,5,1,1,1\n")
    assert main(["data", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{gt}:" in err and "box with negative width or height" in err
