"""``crmot report RUN_DIR``: every stage's figures and mosaic videos of a run, in ``RUN_DIR/report/``.

What the run holds decides what is shown: stage-1 quality (``tracklets/<split>/quality.json``),
pseudo-label quality (``pseudo/quality.json``), the scores of each prediction folder (ViewSAM in
``eval/<split>/``, the training-free pipeline in ``zeroshot/``), and videos: per scene the stage-1
tracklets and the stage-2 identities, per expression the GT and each prediction, the referred objects
bold with their masks. A run on footage without GT or expressions still gets its scene videos.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

from crmot.data.crtrack import Scene, load_split, view_dir
from crmot.data.expression_files import expression_gt, load_predictions
from crmot.data.tracks import read_tracks
from crmot.io import atomic_write_text
from crmot.report.mosaic import Layer, Mosaic
from crmot.report.page import Page
from crmot.report.video import WebMWriter
from crmot.tracklets.io import read_tracklets, rows_path

log = logging.getLogger(__name__)


@dataclass
class Source:
    """A folder of predictions, and its scores when the run scored it."""

    name: str
    predictions: Path
    metrics: dict | None


def build_report(run: Path, data: Path, split: str = "test", out: Path | None = None, tile_width: int = 320,
                 max_expressions: int | None = None, progress=None) -> Path:
    """Write the report folder and return its ``index.html``."""
    run, data = Path(run), Path(data)
    out = Path(out) if out else run / "report"
    started = time.perf_counter()
    sources = [s for s in (_source("ViewSAM", run / "eval" / split / "predictions", run / "eval" / split / "metrics.json"),
                           _source("training-free", run / "zeroshot" / "predictions", run / "zeroshot" / "metrics.json"))
               if s is not None]
    page = Page(f"crmot report: {run.name} ({split} split of {data})")
    _scores(page, sources)
    _stage_quality(page, run, split)
    scenes = load_split(data, split)
    predictions = {s.name: load_predictions(s.predictions) for s in sources}
    for scene in scenes:
        _scene_videos(page, out, run, scene, sources, predictions, tile_width, max_expressions, progress)
    page.note(f"written in {time.perf_counter() - started:.1f} s")
    index = out / "index.html"
    atomic_write_text(index, page.render())
    return index


def _source(name: str, predictions: Path, metrics: Path) -> Source | None:
    if not predictions.is_dir():
        return None
    return Source(name, predictions, json.loads(metrics.read_text()) if metrics.exists() else None)


def _scores(page: Page, sources: list[Source]) -> None:
    scored = [s for s in sources if s.metrics]
    if not scored:
        return
    page.heading("Cross-view referring scores (CVRIDF1 / CVRMA)")
    page.table(["predictions by", "model", "CVRIDF1", "CVRMA", "expressions"],
               [[s.name, _model(s.metrics), s.metrics["mean"]["CVRIDF1"], s.metrics["mean"]["CVRMA"],
                 s.metrics["mean"].get("num_expressions")] for s in scored])
    names = sorted({n for s in scored for n in s.metrics["expressions"]})
    rows = [[n] + [s.metrics["expressions"].get(n, {}).get(k) for s in scored for k in ("CVRIDF1", "CVRMA")] for n in names]
    page.bars(names, {f"{s.name} CVRIDF1": [s.metrics["expressions"].get(n, {}).get("CVRIDF1", 0.0) for n in names]
                      for s in scored})
    page.table(["expression"] + [f"{s.name} {k}" for s in scored for k in ("CVRIDF1", "CVRMA")], rows, "expression")


def _model(metrics: dict) -> str:
    by = metrics.get("predicted_by") or {}
    return str(by.get("model") or metrics.get("pipeline") or "–")


def _stage_quality(page: Page, run: Path, split: str) -> None:
    stage1 = run / "tracklets" / split / "quality.json"
    if stage1.exists():
        quality = json.loads(stage1.read_text())
        views = quality["views"]
        backend = quality.get("backend")
        page.heading(f"Stage 1: tracklets per view (backend {backend.get('name') if isinstance(backend, dict) else backend})")
        keys = ("MOTA", "IDF1", "recall", "precision", "mask_iou")
        page.bars(list(views), {k: [v[k] for v in views.values()] for k in ("MOTA", "IDF1")})
        page.table(["view", *keys, "tracklets"], [[name, *(v[k] for k in keys), v.get("tracklets")] for name, v in views.items()])
    stage2 = run / "pseudo" / "quality.json"
    if stage2.exists():
        quality = json.loads(stage2.read_text())
        page.heading("Stage 2: pseudo labels against GT")
        rows = [[name, *(s["mean"].get(k) for k in ("CVRIDF1", "CVRMA", "expression_precision", "expression_recall"))]
                for name, s in quality.get("splits", {}).items()]
        page.table(["split", "identity CVRIDF1", "identity CVRMA", "expression precision", "expression recall"], rows)


def _scene_videos(page: Page, out: Path, run: Path, scene: Scene, sources: list[Source], predictions: dict,
                  tile_width: int, max_expressions: int | None, progress) -> None:
    mosaic = Mosaic(scene, tile_width)
    videos: list[tuple[str, dict[str, tuple[Path, Layer]]]] = []  # card caption -> source -> (file, layer)
    scene_layers = {}
    stage1 = run / "tracklets" / scene.split / scene.name
    if all(rows_path(stage1, v.index).exists() for v in scene.views):
        tracklets = {v.index: read_tracklets(stage1, v.index) for v in scene.views}
        scene_layers["stage-1 tracklets"] = Layer(f"{scene.name}: stage-1 tracklets", {k: t.tracks for k, t in tracklets.items()},
                                                  {k: t.masks for k, t in tracklets.items()})
    identities = {v.index: view_dir(run / "pseudo", scene.split, scene.name, v.index) / "gt" / "gt.txt" for v in scene.views}
    if all(p.exists() for p in identities.values()):
        scene_layers["stage-2 identities"] = Layer(f"{scene.name}: stage-2 cross-view identities",
                                                   {k: read_tracks(p) for k, p in identities.items()})
    if scene_layers:
        videos.append((f"{scene.name}: what stages 1 and 2 found",
                       {name: (out / "videos" / f"{_slug(scene.name)}_{_slug(name)}.webm", layer)
                        for name, layer in scene_layers.items()}))
    truth = expression_gt(scene) if scene.views and all(v.gt is not None for v in scene.views) else {}
    for number, expression in enumerate(scene.expressions[:max_expressions]):
        layers = {}
        if expression.name in truth:
            layers["GT"] = Layer(f"GT: {expression.sentence}", truth[expression.name], referred=set(expression.ids))
        for source in sources:
            views = predictions[source.name].get(expression.name)
            if views is not None:
                masks = {k: _masks(source.predictions / expression.name, k) for k in views}
                layers[source.name] = Layer(f"{source.name}: {expression.sentence}", views,
                                            {k: m for k, m in masks.items() if m is not None})
        if layers:
            videos.append((expression.sentence, {name: (out / "videos" / f"{_slug(scene.name)}_e{number:03d}_{_slug(name)}.webm",
                                                        layer) for name, layer in layers.items()}))
    if not videos:
        return
    writers = [(WebMWriter(path, *mosaic.size, scene.views[0].seqinfo.frame_rate), layer)
               for _, files in videos for path, layer in files.values()]
    for frame in range(1, scene.num_frames + 1):
        base = mosaic.base(frame)
        for writer, layer in writers:
            writer.write(mosaic.draw(base, layer, frame))
        if progress is not None:
            progress(scene.name, frame, scene.num_frames)
    for writer, _ in writers:
        writer.close()
    page.heading(f"Scene {scene.name} ({len(scene.views)} views, {scene.num_frames} frames)")
    for caption, files in videos:
        page.videos(caption, {name: str(path.relative_to(out)) for name, (path, _) in files.items()})
    log.info("%s: %d videos", scene.name, len(writers))


def _masks(folder: Path, view: int) -> list[dict] | None:
    from crmot.data import masks as rle

    path = folder / f"View{view}.masks.jsonl"
    return rle.read_jsonl(path) if path.exists() else None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
