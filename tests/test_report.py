"""The HTML report: videos that play, one table row per expression, and a real browser that loads it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from crmot.data import load_split
from crmot.data import masks as rle
from crmot.data.expression_files import expression_gt, write_predictions
from crmot.data.tracks import Tracks
from crmot.tracklets.io import write_tracklets
from crmot.tracklets.types import Tracklets

pytest.importorskip("av", reason="report videos need PyAV (make install)")


@pytest.fixture(scope="module")
def report(tiny_root, tmp_path_factory):
    from crmot.metrics.evaluate import evaluate
    from crmot.report import build_report

    run = tmp_path_factory.mktemp("run")
    predictions = run / "zeroshot" / "predictions"
    for scene in load_split(tiny_root, "test"):
        for name, views in expression_gt(scene).items():
            for k, tracks in views.items():
                write_predictions(predictions, name, k, tracks)
        for view in scene.views:  # stage-1 rows: the GT's, with its masks
            gt = view.gt
            tail = np.ones((len(gt), 1))
            write_tracklets(run / "tracklets" / "test" / scene.name, view.index,
                            Tracklets(Tracks(gt.frames, gt.ids, gt.boxes, tail), rle.read_jsonl(view.masks_path)))
    metrics = evaluate(tiny_root, predictions, split="test")
    (run / "zeroshot" / "metrics.json").write_text(json.dumps(metrics))
    return build_report(run, tiny_root, "test", max_expressions=3), metrics


def test_every_video_has_frames_and_the_table_has_one_row_per_expression(report):
    from crmot.report.video import duration_seconds

    index, metrics = report
    page = index.read_text()
    videos = re.findall(r'<video[^>]* src="([^"]+)"', page)
    assert videos and all(duration_seconds(index.parent / v) > 0 for v in videos)
    assert page.count('<tr class="expression">') == len(metrics["expressions"])


def test_a_headless_browser_loads_the_report_and_every_video_plays(report, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium on this machine (Debian: apt install chromium)")
    index, _ = report
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000"]
    shot = tmp_path / "report.png"
    subprocess.run([*flags, "--window-size=1280,1600", f"--screenshot={shot}", index.as_uri()], capture_output=True,
                   timeout=120, check=True)
    assert shot.stat().st_size > 10_000
    dom = subprocess.run([*flags, "--dump-dom", index.as_uri()], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    durations = re.findall(r'<video[^>]*data-duration="([^"]+)"', dom)
    assert len(durations) == dom.count("<video") and all(float(d) > 0 for d in durations)
