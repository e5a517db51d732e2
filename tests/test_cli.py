"""``crmot evaluate`` and ``crmot data check`` as a user runs them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from crmot.cli import main
from crmot.data import load_split
from crmot.data.crtrack import CRTrackFormatError
from crmot.data.expression_files import expression_gt, write_expression_gt, write_predictions
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
    assert set(report) == {"protocol", "mean", "scenes", "expressions", "warnings"}
    assert report["warnings"]["count"] == 0
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
    assert f"{victim}: no prediction folder" in caplog.text
    assert report["warnings"]["by_kind"]["missing_expression"] == 1


def test_what_would_silently_score_zero_is_warned_counted_and_an_error_under_strict(tiny_root, tmp_path, caplog,
                                                                                   capsys):
    pred = tmp_path / "pred"
    _write_gt_as_predictions(tiny_root, pred)
    first, second = sorted(pred.iterdir())[:2]
    (first / "view1.txt").write_text("1,1,0,0,5,5,1,-1,-1,-1\n")  # misnamed: the tool ignores it
    for view in second.glob("View*.txt"):
        view.unlink()  # an expression folder without view files
    (first / "View9.txt").write_text((first / "View1.txt").read_text())  # a view the GT lacks
    report = evaluate(tiny_root, pred)
    assert report["warnings"]["by_kind"] == {"stray_file": 1, "no_view_files": 1, "view_without_gt": 1,
                                             "missing_expression": 0}
    for path in (first / "view1.txt", second, first / "View9.txt"):
        assert str(path) in caplog.text
    assert main(["evaluate", "--gt", str(tiny_root), "--pred", str(pred), "--strict"]) == 2
    err = capsys.readouterr().err
    assert str(first / "View9.txt") in err or str(first / "view1.txt") in err or str(second) in err
    assert "--strict" in err


def test_crmot_errors_are_one_line_unless_traceback_and_other_errors_keep_theirs(tmp_path, capsys, monkeypatch):
    assert main(["data", "check", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'nowhere'}: ")
    with pytest.raises(CRTrackFormatError):
        main(["data", "check", str(tmp_path / "nowhere"), "--traceback"])
    with pytest.raises(CRTrackFormatError):
        main(["--traceback", "data", "check", str(tmp_path / "nowhere")])

    def broken(*args, **kwargs):
        raise ValueError("a bug, not bad input")

    monkeypatch.setattr("crmot.data.check.check_root", broken)
    with pytest.raises(ValueError, match="a bug"):
        main(["data", "check", str(tmp_path)])


def test_per_view_hota_detA_assA_from_trackeval(tiny_root, tmp_path, capsys):
    pytest.importorskip("trackeval", reason="per-view HOTA needs TrackEval (crmot[hota])")
    _write_gt_as_predictions(tiny_root, tmp_path / "pred")
    out = tmp_path / "metrics.json"
    assert main(["evaluate", "--gt", str(tiny_root), "--pred", str(tmp_path / "pred"), "--hota", "--json", str(out)]) == 0
    assert "HOTA" in capsys.readouterr().out
    for entry in json.loads(out.read_text())["expressions"].values():
        assert all(v["HOTA"] == v["DetA"] == v["AssA"] == 100.0 for v in entry["per_view"].values())


def test_hota_without_trackeval_is_said_once_not_raised(tiny_root, tmp_path, caplog, monkeypatch):
    monkeypatch.setitem(sys.modules, "trackeval", None)  # import fails as if not installed
    monkeypatch.setitem(sys.modules, "trackeval.metrics", None)
    _write_gt_as_predictions(tiny_root, tmp_path / "pred")
    report = evaluate(tiny_root, tmp_path / "pred", hota=True)
    assert caplog.text.count("TrackEval is not installed") == 1
    assert all("HOTA" not in v for e in report["expressions"].values() for v in e["per_view"].values())


def test_the_command_line_and_the_metric_core_never_import_torch():
    code = ("import sys, crmot.cli, crmot.metrics.evaluate, crmot.data.check; crmot.cli._parser(); "
            "assert not [m for m in ('torch', 'lightning', 'torchmetrics') if m in sys.modules]")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_means_are_those_the_torchmetrics_classes_compute(tiny_root, tmp_path):
    from crmot.metrics import CVRIDF1, CVRMA
    from crmot.metrics.sequence import score_sequences

    _write_gt_as_predictions(tiny_root, tmp_path / "pred", lambda name, k, rows: rows.select(rows.frames % 3 > 0))
    report = evaluate(tiny_root, tmp_path / "pred")
    ground_truth = {n: v for s in load_split(tiny_root, "test") for n, v in expression_gt(s).items()}
    from crmot.data.expression_files import load_predictions

    predictions = load_predictions(tmp_path / "pred")
    idf1, mota = CVRIDF1(), CVRMA()
    for score in score_sequences([(ground_truth[n], predictions.get(n, {})) for n in sorted(ground_truth)]):
        idf1.update(score)
        mota.update(score)
    assert report["mean"]["CVRIDF1"] == float(idf1.compute()) < 100.0
    assert report["mean"]["CVRMA"] == float(mota.compute())


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


def test_crmot_lists_every_stage_and_a_stage_runs_from_any_directory(tmp_path):
    import subprocess
    import sys

    listing = subprocess.run([sys.executable, "-m", "crmot.cli", "--help"], capture_output=True, text=True, check=True,
                             cwd=tmp_path).stdout
    for command in ("tracklets", "associate", "train", "infer", "zeroshot", "evaluate", "report", "data"):
        assert f"    {command}" in listing, command
    fit = subprocess.run([sys.executable, "-m", "crmot.cli", "train", "fit", "--help"], capture_output=True, text=True,
                         cwd=tmp_path)  # outside the checkout: the packaged train.yaml is the config
    assert fit.returncode == 0 and "--model.sam2_checkpoint" in fit.stdout and "--trainer.devices" in fit.stdout
