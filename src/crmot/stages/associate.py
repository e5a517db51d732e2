"""Stage 2 as a Lightning predict stage: cross-view identities and language pseudo labels.

    crmot associate predict [--data.root ROOT] [--model.tracklets_dir DIR]

Per scene (DDP shards scenes): stage-1 tracklets -> appearance -> constrained clustering ->
affinity-guided re-prompting rounds -> descriptions -> the scene's part of the pseudo label root
``<output_dir>`` (CRTrack format, see :mod:`crmot.association.labels`) and a manifest under
``<output_dir>/manifests``; a re-run skips scenes whose manifest matches. Rank 0 then writes
``<output_dir>/quality.json`` and prints it where the root has ground truth.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.cli import LightningCLI
from rich.console import Console
from rich.table import Table

from crmot import progress
from crmot.association.appearance import ColourEmbedder
from crmot.association.describe import AttributeDescriber, Describer
from crmot.association.labels import scene_quality, summarize, write_scene
from crmot.association.scene import AssociationConfig, SceneAssociation, associate_scene
from crmot.crops import Embedder
from crmot.data.crtrack import Scene, list_scenes, load_scene
from crmot.errors import MissingFileError
from crmot.io import atomic_write_json
from crmot.stages.launch import run_stage, with_packaged_config
from crmot.stages.manifest import MANIFEST, is_done, manifest_dir, modules_of, view_fingerprint, write_manifest
from crmot.stages.scenes import SceneData
from crmot.tracklets.backends import SegmentationBackend
from crmot.tracklets.backends.classical import ClassicalBackend
from crmot.tracklets.io import masks_path, read_tracklets, rows_path

log = logging.getLogger(__name__)


@dataclass
class ScenePseudoLabels:
    source: Scene  # the scene of the data root, as loaded by predict_step
    key: dict
    result: SceneAssociation | None = None
    seconds: float = 0.0
    skipped: bool = False

    @property
    def split(self) -> str:
        return self.source.split

    @property
    def scene(self) -> str:
        return self.source.name


class AssociationData(SceneData):
    """Scenes of the source root (images, and GT where present for the quality report)."""


class AssociationModule(L.LightningModule):
    def __init__(self, tracklets_dir: str = "runs/demo/tracklets", output_dir: str = "runs/demo/pseudo",
                 embedder: Embedder | None = None, segmenter: SegmentationBackend | None = None,
                 describer: Describer | None = None, association: AssociationConfig | None = None,
                 overwrite: bool = False) -> None:
        super().__init__()
        self.tracklets_dir = Path(tracklets_dir)
        self.output_dir = Path(output_dir)
        self.embedder = embedder or ColourEmbedder()
        self.segmenter = segmenter or ClassicalBackend()
        self.describer = describer or AttributeDescriber()
        self.association = association or AssociationConfig()
        self.overwrite = overwrite
        self.code = (__name__, *modules_of(self.embedder, self.segmenter, self.describer))

    def backends(self) -> dict:
        return {"embedder": self.embedder.describe(), "segmenter": self.segmenter.describe(),
                "describer": self.describer.info()}

    def on_predict_start(self) -> None:
        self.embedder.setup(self.device)
        self.segmenter.setup(self.device)
        self.describer.setup(self.device)
        self.progress = progress.on_rank_zero(self.trainer, "stage 2 steps")

    def on_predict_end(self) -> None:
        progress.stop(self.progress)

    def predict_step(self, unit: dict, batch_idx: int = 0) -> ScenePseudoLabels:
        scene = load_scene(unit["root"], unit["split"], unit["scene"])
        source = self.tracklets_dir / scene.split / scene.name
        if not (manifest_dir(self.tracklets_dir, scene.split, scene.name) / MANIFEST).exists():
            raise MissingFileError(f"{source}: no finished stage-1 tracklets for scene {scene.name!r}; "
                                   "run stage 1 first (make tracklets / make pseudolabels)")
        key = {"stage": "associate", **self.backends(), "config": asdict(self.association),
               "tracklets": _files_digest(source, [v.index for v in scene.views]),
               "inputs": {v.name: view_fingerprint(v) for v in scene.views}}
        out = ScenePseudoLabels(scene, key)
        if not self.overwrite and is_done(self.manifest_dir(scene.split, scene.name), key, self.code):
            out.skipped = True
            return out
        start = time.perf_counter()
        stage1 = {v.index: read_tracklets(source, v.index) for v in scene.views if rows_path(source, v.index).exists()}
        advance = progress.for_item(getattr(self, "progress", None), f"{scene.split}/{scene.name}")
        out.result = associate_scene(scene, stage1, self.embedder, self.segmenter, self.describer, self.association,
                                     progress=advance)
        out.seconds = time.perf_counter() - start
        return out

    def manifest_dir(self, split: str, scene: str) -> Path:
        return manifest_dir(self.output_dir, split, scene)


class PseudoLabelWriter(BasePredictionWriter):
    """Writes each scene as soon as it is done (manifest last); rank 0 reports quality at the end."""

    def __init__(self) -> None:
        super().__init__(write_interval="batch")

    def write_on_batch_end(self, trainer, pl_module: AssociationModule, prediction: ScenePseudoLabels,
                           batch_indices, batch, batch_idx, dataloader_idx=0) -> None:
        if prediction.skipped:
            log.info("%s/%s: pseudo labels up to date, skipped", prediction.split, prediction.scene)
            return
        scene, result = prediction.source, prediction.result
        write_scene(pl_module.output_dir, scene, result)
        write_manifest(pl_module.manifest_dir(scene.split, scene.name), prediction.key, pl_module.code, pl_module.device,
                       seconds=prediction.seconds, tracklets=len(result.tracklets), identities=len(result.descriptions),
                       splits=result.splits, rounds=result.rounds, geometry=result.geometry)
        log.info("%s/%s: %d tracklets -> %d identities in %.1f s (%s geometry)", scene.split, scene.name,
                 len(result.tracklets), len(result.descriptions), prediction.seconds, result.geometry)

    def on_predict_end(self, trainer, pl_module: AssociationModule) -> None:
        trainer.strategy.barrier()
        if trainer.is_global_zero:
            report_quality(trainer.datamodule.root, pl_module.output_dir, trainer.datamodule.splits,
                           pl_module.backends(), pl_module.association)


def report_quality(root: Path, output_dir: Path, splits: list[str], backends: dict,
                   config: AssociationConfig) -> dict | None:
    """``<output_dir>/quality.json``: per split and scene, pseudo identities and expressions vs GT."""
    report = {"backends": backends, "reprompt_rounds": config.reprompt_rounds,
              "use_calibration": config.use_calibration, "splits": {}}
    for split in splits:
        per_scene = {}
        for name in list_scenes(root, split):
            if (manifest_dir(output_dir, split, name) / MANIFEST).exists():
                quality = scene_quality(load_scene(root, split, name), output_dir)
                if quality is not None:
                    per_scene[name] = quality
        if per_scene:
            report["splits"][split] = {"mean": summarize(per_scene), "scenes": per_scene}
    if not report["splits"]:
        return None
    atomic_write_json(output_dir / "quality.json", report)
    print_quality(report)
    return report


def print_quality(report: dict, console: Console | None = None) -> None:
    b = report["backends"]
    table = Table(title=f"stage 2 pseudo labels vs GT (embedder {b['embedder']['name']}, segmenter "
                        f"{b['segmenter']['name']}, describer {b['describer']['name']}, re-prompting rounds "
                        f"{report['reprompt_rounds']}, calibration {'on' if report['use_calibration'] else 'off'})")
    for column in ("split/scene", "identities (GT)", "CVRIDF1", "CVRMA", "expr. precision", "expr. recall"):
        table.add_column(column, justify="left" if column == "split/scene" else "right")
    colours = []
    for split, data in report["splits"].items():
        for name, q in data["scenes"].items():
            table.add_row(f"{split}/{name}", f"{q['identities']} ({q['gt_identities']})", f"{q['CVRIDF1']:.1f}",
                          f"{q['CVRMA']:.1f}", f"{q.get('expression_precision', float('nan')):.1f}",
                          f"{q.get('expression_recall', float('nan')):.1f}")
        m = data["mean"]
        table.add_row(f"{split} mean", "", f"{m['CVRIDF1']:.1f}", f"{m['CVRMA']:.1f}",
                      f"{m.get('expression_precision', float('nan')):.1f}",
                      f"{m.get('expression_recall', float('nan')):.1f}", style="bold")
        if "colour_accuracy" in m:
            colours.append(f"{split}: " + ", ".join(f"{a} {v:.0f}%" for a, v in m["colour_accuracy"].items()))
    console = console or Console()
    console.print(table)
    if colours:
        console.print("colours named as the GT description names them (share of identities): " + "; ".join(colours))


def _files_digest(scene_dir: Path, views: list[int]) -> str:
    """Content hash of a scene's stage-1 files: new tracklets invalidate the pseudo labels."""
    digest = hashlib.sha256()
    for k in views:
        for path in (rows_path(scene_dir, k), masks_path(scene_dir, k)):
            digest.update(path.read_bytes() if path.exists() else b"<missing>")
    return digest.hexdigest()


def main(args: list[str] | None = None) -> None:
    args = with_packaged_config(args, "associate.yaml")
    run_stage(lambda: LightningCLI(AssociationModule, AssociationData, save_config_callback=None, args=args))
