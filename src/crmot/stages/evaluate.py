"""Stage 4 as a Lightning predict stage: a trained ViewSAM answers every expression, then CVRIDF1/CVRMA.

    crmot infer predict --model.checkpoint runs/demo/train/checkpoints/last.ckpt \
        --model.tracklets_dir runs/demo/tracklets

Per scene (DDP shards scenes): the split's stage-1 tracklets prompt ViewSAM, which reads every row once
for all expressions (:mod:`crmot.inference.candidates`); the fusion (:mod:`crmot.inference.fusion`)
groups the tracklets into cross-view identities and answers each expression; then for each expression
``<output_dir>/<split>/predictions/<Scene>_<Sentence>/ViewK.txt`` (the official layout) and
``ViewK.masks.jsonl`` (one COCO RLE per row), and a manifest; a re-run skips scenes whose manifest
matches (same checkpoint file, settings and inputs). Rank 0 then scores each split that has ground
truth with ``crmot evaluate``'s code: ``<output_dir>/<split>/metrics.json``, printed as a table.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.cli import LightningCLI

from crmot import progress
from crmot.data import masks as rle
from crmot.data.crtrack import Scene, list_scenes, load_scene
from crmot.data.expression_files import write_predictions
from crmot.data.tracks import Tracks, read_tracks
from crmot.errors import MissingFileError
from crmot.inference.candidates import CandidateConfig, predict_scene
from crmot.inference.clauses import scene_questions
from crmot.inference.fusion import Answer, FusionConfig, answer_scene
from crmot.io import atomic_write_json
from crmot.metrics.evaluate import evaluate, print_report
from crmot.models.viewsam.checkpoint import load_viewsam
from crmot.stages.launch import run_stage, with_packaged_config
from crmot.stages.manifest import MANIFEST, is_done, manifest_dir, modules_of, view_fingerprint, write_manifest
from crmot.stages.scenes import SceneData
from crmot.tracklets.io import rows_path

log = logging.getLogger(__name__)


@dataclass
class ScenePredictions:
    source: Scene
    key: dict
    answers: dict[str, dict[int, Answer]] = field(default_factory=dict)  # expression name -> view -> answer
    seconds: float = 0.0
    skipped: bool = False


class EvaluationData(SceneData):
    """Scenes to answer: the test split by default."""

    def __init__(self, root: str = "data/synth", splits: list[str] | None = None, scenes: list[str] | None = None):
        super().__init__(root, splits or ["test"], scenes, labels=False)


class EvaluationModule(L.LightningModule):
    def __init__(self, checkpoint: str = "runs/demo/train/checkpoints/last.ckpt",
                 tracklets_dir: str = "runs/demo/tracklets", output_dir: str = "runs/demo/eval",
                 candidates: CandidateConfig = CandidateConfig(), fusion: FusionConfig = FusionConfig(),
                 overwrite: bool = False) -> None:
        super().__init__()
        self.model, self.checkpoint = load_viewsam(checkpoint)
        self.model.requires_grad_(False)
        self.tracklets_dir = Path(tracklets_dir)
        self.output_dir = Path(output_dir)
        self.candidates, self.fusion = candidates, fusion
        self.overwrite = overwrite
        self.code = (__name__, *modules_of(self.model))  # whose source an output's manifest records

    def on_predict_start(self) -> None:
        self.progress = progress.on_rank_zero(self.trainer, "stage 4 frames")

    def on_predict_end(self) -> None:
        progress.stop(self.progress)

    def describe(self) -> dict:
        """What made the predictions (model, checkpoint, settings): written into every manifest and
        metrics file, since one model answers differently under another decision."""
        path = Path(self.checkpoint["path"])
        stat = path.stat()
        return {"model": self.model.name, "checkpoint": {**self.checkpoint, "bytes": stat.st_size,
                                                         "mtime_ns": stat.st_mtime_ns},
                "candidates": asdict(self.candidates), "fusion": asdict(self.fusion)}

    def prompts(self, scene: Scene) -> tuple[dict[int, Tracks], dict]:
        """The scene's stage-1 tracklet rows per view (ViewSAM's prompts) and what produced them."""
        folder = self.tracklets_dir / scene.split / scene.name
        manifest = manifest_dir(self.tracklets_dir, scene.split, scene.name) / MANIFEST
        if not manifest.is_file():
            raise MissingFileError(f"{manifest}: no stage-1 tracklets for {scene.split}/{scene.name} "
                                   "(model.tracklets_dir); run `make tracklets` on this split first")
        rows = {v.index: read_tracks(rows_path(folder, v.index)) for v in scene.views}
        return rows, json.loads(manifest.read_text())["key"]

    def predict_step(self, unit: dict, batch_idx: int = 0) -> ScenePredictions:
        scene = load_scene(unit["root"], unit["split"], unit["scene"], labels=False)
        prompts, stage1 = self.prompts(scene)
        key = {"stage": "evaluate", **self.describe(), "expressions": [e.name for e in scene.expressions],
               "tracklets": stage1, "inputs": {v.name: view_fingerprint(v) for v in scene.views}}
        out = ScenePredictions(scene, key)
        if not self.overwrite and is_done(self.manifest_dir(scene), key, self.code):
            out.skipped = True
            return out
        start = time.perf_counter()
        sentences = scene_questions(scene).sentences
        advance = progress.for_item(getattr(self, "progress", None), f"{scene.split}/{scene.name}")
        views = predict_scene(self.model, scene, prompts, sentences, self.candidates, self.device, progress=advance)
        if advance is not None:
            advance(scene.num_frames, scene.num_frames)
        out.answers = answer_scene(views, scene, self.fusion)
        out.seconds = time.perf_counter() - start
        return out

    def predictions_dir(self, split: str) -> Path:
        return self.output_dir / split / "predictions"

    def manifest_dir(self, scene: Scene) -> Path:
        return manifest_dir(self.output_dir, scene.split, scene.name)


class AnswerWriter(BasePredictionWriter):
    """Writes each scene's answers as soon as it is done (manifest last); rank 0 scores at the end."""

    def __init__(self) -> None:
        super().__init__(write_interval="batch")

    def write_on_batch_end(self, trainer, pl_module: EvaluationModule, prediction: ScenePredictions,
                           batch_indices, batch, batch_idx, dataloader_idx=0) -> None:
        scene = prediction.source
        if prediction.skipped:
            log.info("%s/%s: predictions up to date, skipped", scene.split, scene.name)
            return
        root = pl_module.predictions_dir(scene.split)
        rows = 0
        for name, views in prediction.answers.items():
            for k, reply in views.items():
                path = write_predictions(root, name, k, reply.tracks)
                rle.write_jsonl(path.with_suffix(".masks.jsonl"), reply.masks)
                rows += len(reply.tracks)
        frames_per_s = scene.num_frames * len(scene.views) / max(prediction.seconds, 1e-9)
        write_manifest(pl_module.manifest_dir(scene), prediction.key, pl_module.code, pl_module.device,
                       seconds=prediction.seconds,
                       rows=rows, frames_per_s=frames_per_s)
        log.info("%s/%s: %d expressions answered with %d rows in %.1f s (%.1f view-frames/s, %s)", scene.split,
                 scene.name, len(prediction.answers), rows, prediction.seconds, frames_per_s, pl_module.model.name)

    def on_predict_end(self, trainer, pl_module: EvaluationModule) -> None:
        trainer.strategy.barrier()
        if trainer.is_global_zero:
            for split in trainer.datamodule.splits:
                score_split(trainer.datamodule.root, split, pl_module)


def score_split(root: Path, split: str, module: EvaluationModule) -> dict | None:
    """``<output_dir>/<split>/metrics.json`` when the root has ground truth for ``split``."""
    scenes = [load_scene(root, split, name) for name in list_scenes(root, split)]
    if not any(s.expressions and all(v.gt is not None for v in s.views) for s in scenes):
        log.info("%s: no ground truth, predictions written but not scored", split)
        return None
    report = evaluate(root, module.predictions_dir(split), split=split)
    report["predicted_by"] = module.describe()
    atomic_write_json(module.output_dir / split / "metrics.json", report)
    print_report(report, backend=module.model.name)
    return report


def main(args: list[str] | None = None) -> None:
    args = with_packaged_config(args, "evaluate.yaml")
    run_stage(lambda: LightningCLI(EvaluationModule, EvaluationData, save_config_callback=None, args=args))
