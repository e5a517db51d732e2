"""The ONE reader and writer of the CRTrack layout, used by every stage.

::

    <root>/images/<split>/<Scene>_View<K>/img1/<Scene>_View<K>_000001.jpg
    <root>/images/<split>/<Scene>_View<K>/gt/gt.txt          frame,id,x,y,w,h,1,1,1 (ids global)
    <root>/images/<split>/<Scene>_View<K>/gt/masks.jsonl     (ours) one COCO RLE per gt.txt row
    <root>/images/<split>/<Scene>_View<K>/seqinfo.ini
    <root>/labels_with_ids_text/<split>/tackled_text/<Scene>.txt   <Scene>_<Sentence>.:<id>,<id>
    <root>/labels_with_ids_text/<split>/gt_train/<Scene>.txt       <id>:<Sentence>
    <root>/calibration/<Scene>.json                                 (ours) cameras per view

Per-expression ground truth ``<gt_root>/<Scene>_<Sentence>/gt/View<K>.txt`` (xywh) and predictions
``<pred_root>/<Scene>_<Sentence>/View<K>.txt`` (``frame,id,x1,y1,x2,y2,score,-1,-1,-1``) are read
and written here too.
"""

from __future__ import annotations

import configparser
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from crmot.constants import EXPRESSION_ID_SEPARATOR, GT_TAIL, SPLITS, VIEW_PREFIX
from crmot.data.errors import CRTrackFormatError
from crmot.data.text import read_text
from crmot.data.tracks import Tracks, read_tracks
from crmot.errors import ConfigError
from crmot.io import atomic_write_json, atomic_write_text

_VIEW_DIR = re.compile(rf"^(?P<scene>.+)_{VIEW_PREFIX}(?P<k>\d+)$")
VIEW_FILE = re.compile(rf"^{VIEW_PREFIX}(?P<k>\d+)\.txt$")


# --------------------------------------------------------------------------- records
@dataclass(frozen=True)
class SeqInfo:
    """The ``[Sequence]`` section of a MOTChallenge ``seqinfo.ini``."""

    name: str
    frame_rate: int
    seq_length: int
    width: int
    height: int
    im_dir: str = "img1"
    im_ext: str = ".jpg"

    def to_text(self) -> str:
        return (
            "[Sequence]\n"
            f"name={self.name}\nimDir={self.im_dir}\nframeRate={self.frame_rate}\n"
            f"seqLength={self.seq_length}\nimWidth={self.width}\nimHeight={self.height}\n"
            f"imExt={self.im_ext}\n"
        )


@dataclass(frozen=True)
class View:
    """One camera of one scene. Frames are not loaded here: ``frame_path`` says where each lies."""

    scene: str
    index: int  # K of View<K>, 1-based
    path: Path  # the <Scene>_View<K> folder
    seqinfo: SeqInfo
    gt: Tracks | None  # None where the root has no gt.txt (a test root without labels)

    @property
    def name(self) -> str:
        return f"{VIEW_PREFIX}{self.index}"

    @property
    def folder_name(self) -> str:
        return f"{self.scene}_{self.name}"

    @property
    def num_frames(self) -> int:
        return self.seqinfo.seq_length

    def frame_path(self, frame: int) -> Path:
        """Path of 1-based ``frame``'s image."""
        return self.path / self.seqinfo.im_dir / f"{self.folder_name}_{frame:06d}{self.seqinfo.im_ext}"

    @property
    def masks_path(self) -> Path:
        return self.path / "gt" / "masks.jsonl"


@dataclass(frozen=True)
class Expression:
    """A referring expression and the global ids it refers to (in every view)."""

    scene: str
    sentence: str
    ids: tuple[int, ...]

    @property
    def name(self) -> str:
        """``<Scene>_<Sentence>``: the folder name of this expression in GT and predictions."""
        return f"{self.scene}_{self.sentence}"

    def to_line(self) -> str:
        return f"{self.name}{EXPRESSION_ID_SEPARATOR}{','.join(str(i) for i in self.ids)}"


@dataclass(frozen=True)
class Scene:
    """All views of one scene plus its language labels (and calibration, where present)."""

    root: Path
    split: str
    name: str
    views: tuple[View, ...]
    expressions: tuple[Expression, ...] = ()
    descriptions: dict[int, str] = field(default_factory=dict)
    calibration: dict | None = None

    @property
    def num_frames(self) -> int:
        return self.views[0].num_frames

    def view(self, index: int) -> View:
        return self.views[index - 1]

    def global_ids(self) -> np.ndarray:
        ids = [v.gt.ids for v in self.views if v.gt is not None]
        return np.unique(np.concatenate(ids)) if ids else np.zeros(0, np.int64)


# --------------------------------------------------------------------------- paths
def images_dir(root: str | os.PathLike, split: str) -> Path:
    return Path(root) / "images" / split


def text_dir(root: str | os.PathLike, split: str) -> Path:
    return Path(root) / "labels_with_ids_text" / split


def expressions_path(root, split: str, scene: str) -> Path:
    return text_dir(root, split) / "tackled_text" / f"{scene}.txt"


def descriptions_path(root, split: str, scene: str) -> Path:
    return text_dir(root, split) / "gt_train" / f"{scene}.txt"


def calibration_path(root, scene: str) -> Path:
    return Path(root) / "calibration" / f"{scene}.json"


def view_dir(root, split: str, scene: str, index: int) -> Path:
    return images_dir(root, split) / f"{scene}_{VIEW_PREFIX}{index}"


# --------------------------------------------------------------------------- reading
def list_scenes(root: str | os.PathLike, split: str) -> list[str]:
    """Scene names of a split, sorted; from view folders and from expression files alike."""
    _check_split(split)
    base = images_dir(root, split)
    if not base.is_dir():
        raise CRTrackFormatError(base, f"no images/{split} folder: is {root} a CRTrack root?")
    scenes = {m["scene"] for p in base.iterdir() if p.is_dir() and (m := _VIEW_DIR.match(p.name))}
    tackled = text_dir(root, split) / "tackled_text"
    if tackled.is_dir():
        for path in tackled.glob("*.txt"):
            if path.stem not in scenes:
                raise CRTrackFormatError(path, f"expressions for scene {path.stem!r}, which has no view folder in {base}")
    return sorted(scenes)


def load_split(root: str | os.PathLike, split: str) -> list[Scene]:
    return [load_scene(root, split, name) for name in list_scenes(root, split)]


def load_scene(root: str | os.PathLike, split: str, scene: str, labels: bool = True) -> Scene:
    """Read every view's seqinfo and labels, the expressions and the calibration of one scene.

    ``labels=False`` reads neither ``gt.txt`` nor the per-object descriptions (views get ``gt=None``):
    what a model's inputs are (frames, expressions' sentences, calibration) without the answers."""
    _check_split(split)
    root = Path(root)
    base = images_dir(root, split)
    indices = sorted(
        int(m["k"]) for p in base.glob(f"{glob_escape(scene)}_{VIEW_PREFIX}*")
        if p.is_dir() and (m := _VIEW_DIR.match(p.name)) and m["scene"] == scene
    )
    if not indices:
        raise CRTrackFormatError(base, f"scene {scene!r} has no {scene}_{VIEW_PREFIX}<K> folder")
    missing = sorted(set(range(1, max(indices) + 1)) - set(indices))
    if missing:
        raise CRTrackFormatError(
            view_dir(root, split, scene, missing[0]),
            f"missing view folder: scene {scene!r} has views {indices}, views are numbered 1..V",
        )
    views = tuple(_load_view(root, split, scene, k, labels) for k in indices)
    lengths = {v.name: v.num_frames for v in views}
    if len(set(lengths.values())) > 1:
        raise CRTrackFormatError(
            views[0].path.parent, f"views of scene {scene!r} differ in length (seqLength): {lengths}"
        )
    expr_path = expressions_path(root, split, scene)
    desc_path = descriptions_path(root, split, scene)
    calib_path = calibration_path(root, scene)
    return Scene(
        root=root,
        split=split,
        name=scene,
        views=views,
        expressions=read_expressions(expr_path, scene, unlabelled=all(v.gt is None for v in views))
        if expr_path.exists() else (),
        descriptions=read_descriptions(desc_path) if labels and desc_path.exists() else {},
        calibration=_read_json(calib_path) if calib_path.exists() else None,
    )


def _load_view(root: Path, split: str, scene: str, index: int, labels: bool = True) -> View:
    path = view_dir(root, split, scene, index)
    seqinfo = read_seqinfo(path / "seqinfo.ini")
    gt_path = path / "gt" / "gt.txt"
    gt = read_tracks(gt_path) if labels and gt_path.exists() else None
    view = View(scene=scene, index=index, path=path, seqinfo=seqinfo, gt=gt)
    if gt is not None and len(gt) and gt.frames.max() > seqinfo.seq_length:
        raise CRTrackFormatError(gt_path, f"frame {gt.frames.max()} beyond seqLength={seqinfo.seq_length}")
    img_dir = path / seqinfo.im_dir
    if img_dir.is_dir():
        count = sum(1 for p in img_dir.iterdir() if p.suffix == seqinfo.im_ext)
        if count != seqinfo.seq_length:
            raise CRTrackFormatError(img_dir, f"{count} {seqinfo.im_ext} frames, seqinfo.ini says seqLength={seqinfo.seq_length}")
    return view


def read_seqinfo(path: Path) -> SeqInfo:
    parser = configparser.ConfigParser()
    try:
        parser.read_string(read_text(path), source=str(path))
    except configparser.Error as err:
        raise CRTrackFormatError(path, f"not an ini file: {err}") from None
    if "Sequence" not in parser:
        raise CRTrackFormatError(path, "no [Sequence] section")
    sec = parser["Sequence"]
    try:
        info = SeqInfo(
            name=sec.get("name", path.parent.name),
            im_dir=sec.get("imDir", "img1"),
            frame_rate=int(sec["frameRate"]),
            seq_length=int(sec["seqLength"]),
            width=int(sec["imWidth"]),
            height=int(sec["imHeight"]),
            im_ext=sec.get("imExt", ".jpg"),
        )
    except KeyError as err:
        raise CRTrackFormatError(path, f"missing key {err.args[0]}") from None
    except ValueError as err:
        raise CRTrackFormatError(path, f"bad value: {err}") from None
    if info.seq_length < 1 or info.width < 1 or info.height < 1:
        raise CRTrackFormatError(path, "seqLength, imWidth and imHeight must be positive")
    return info


def read_expressions(path: Path, scene: str, unlabelled: bool = False) -> tuple[Expression, ...]:
    """Parse ``<Scene>_<Sentence>.:<ids>`` lines; the sentence may hold commas, dots, double spaces.
    In a scene without ground truth (``unlabelled``: your own footage) an expression may name no id."""
    expressions = []
    prefix = f"{scene}_"
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, ids_text = line.rpartition(EXPRESSION_ID_SEPARATOR)
        if not sep:
            raise CRTrackFormatError(path, f"no {EXPRESSION_ID_SEPARATOR!r} separating sentence and ids: {line!r}", number)
        if not name.startswith(prefix):
            raise CRTrackFormatError(path, f"expression does not start with {prefix!r}: {line!r}", number)
        tokens = [t.strip() for t in ids_text.split(",") if t.strip()]
        if not tokens and not unlabelled:
            raise CRTrackFormatError(path, f"expression refers to no id: {line!r}", number)
        try:
            ids = tuple(int(t) for t in tokens)
        except ValueError:
            raise CRTrackFormatError(path, f"ids must be integers: {ids_text!r}", number) from None
        expressions.append(Expression(scene=scene, sentence=name[len(prefix):], ids=ids))
    return tuple(expressions)


def read_descriptions(path: Path) -> dict[int, str]:
    descriptions = {}
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        ident, sep, sentence = line.partition(":")
        try:
            descriptions[int(ident)] = sentence
        except ValueError:
            raise CRTrackFormatError(path, f"expected '<id>:<sentence>', found {line!r}", number) from None
        if not sep:
            raise CRTrackFormatError(path, f"expected '<id>:<sentence>', found {line!r}", number)
    return descriptions


def _read_json(path: Path) -> dict:
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise CRTrackFormatError(path, f"invalid JSON: {err.msg}", err.lineno) from None


# --------------------------------------------------------------------------- writing
def write_view(root, split: str, scene: str, index: int, seqinfo: SeqInfo, gt: Tracks | None) -> Path:
    """Write a view's ``seqinfo.ini`` and (if given) ``gt/gt.txt``; frames are written by the caller."""
    path = view_dir(root, split, scene, index)
    atomic_write_text(path / "seqinfo.ini", seqinfo.to_text())
    if gt is not None:
        atomic_write_text(path / "gt" / "gt.txt", gt.sorted().to_text())
    return path


def gt_tracks(frames: np.ndarray, ids: np.ndarray, boxes: np.ndarray) -> Tracks:
    """Ground-truth rows with CRTrack's constant tail ``1,1,1``."""
    tail = np.tile(np.asarray(GT_TAIL, dtype=np.float64), (len(frames), 1))
    return Tracks(np.asarray(frames, np.int64), np.asarray(ids, np.int64), np.asarray(boxes, np.float64), tail)


def write_expressions(root, split: str, scene: str, expressions: list[Expression] | tuple[Expression, ...],
                      unlabelled: bool = False) -> None:
    """``unlabelled``: the scene has no GT, so expressions may name no id (sentences to answer)."""
    for expr in expressions:
        if not expr.ids and not unlabelled:
            raise ConfigError(f"expression {expr.name!r} refers to no id")
        if EXPRESSION_ID_SEPARATOR in expr.sentence or "/" in expr.sentence or "\n" in expr.sentence:
            raise ConfigError(f"sentence may not contain '.:', '/' or a newline: {expr.sentence!r}")
    atomic_write_text(expressions_path(root, split, scene), "".join(e.to_line() + "\n" for e in expressions))


def write_descriptions(root, split: str, scene: str, descriptions: dict[int, str]) -> None:
    text = "".join(f"{i}:{s}\n" for i, s in sorted(descriptions.items()))
    atomic_write_text(descriptions_path(root, split, scene), text)


def write_calibration(root, scene: str, calibration: dict) -> None:
    atomic_write_json(calibration_path(root, scene), calibration)


# --------------------------------------------------------------------------- helpers
def glob_escape(text: str) -> str:
    return re.sub(r"([\[\]*?])", r"[\1]", text)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {SPLITS}, not {split!r}")
