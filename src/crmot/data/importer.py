"""``crmot data import``: synchronized camera files (videos or folders of frames) into a CRTrack root.

Views are numbered in argument order. Each becomes ``<Scene>_View<K>/img1/<Scene>_View<K>_<frame>.jpg``
with a ``seqinfo.ini`` holding the real image size and frame rate; no ground truth is needed. The views
of a scene must be equally long, so longer ones are cut to the shortest (said in the log). Videos are
decoded with PyAV (its wheel carries FFmpeg); frames are streamed, one in memory at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from crmot.data.crtrack import Expression, SeqInfo, view_dir, write_expressions, write_view
from crmot.data.frames import encode_jpeg
from crmot.errors import ConfigError, MissingFileError
from crmot.io import atomic_write_bytes

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
#: Frame rate written for folders of frames when none is given (they do not record one).
DEFAULT_FOLDER_RATE = 10
JPEG_QUALITY = 95


def import_views(root: Path, scene: str, sources: list[Path], split: str = "test", frame_rate: float | None = None,
                 max_frames: int | None = None, expressions: list[str] = (), progress=None) -> dict:
    """Write the views of ``scene`` under ``root``; returns a summary (views, frames, size, rate)."""
    if not sources:
        raise ConfigError("give at least one video or folder of frames")
    if "_" in scene or "/" in scene:
        raise ConfigError(f"scene name {scene!r} may not contain '_' or '/' (CRTrack folder names split on '_')")
    written = []
    for k, source in enumerate(sources, start=1):
        rate, frames, total = _open(Path(source), frame_rate)
        total = min(total, max_frames) if total and max_frames else (total or max_frames)
        count, size = 0, None
        folder = view_dir(root, split, scene, k)
        for count, rgb in enumerate(frames, start=1):
            if size is None:
                size = (rgb.shape[1], rgb.shape[0])
            elif (rgb.shape[1], rgb.shape[0]) != size:
                raise ConfigError(f"{source}: frame {count} is {rgb.shape[1]}x{rgb.shape[0]}, the first was {size[0]}x{size[1]}")
            atomic_write_bytes(folder / "img1" / f"{scene}_View{k}_{count:06d}.jpg", encode_jpeg(rgb, JPEG_QUALITY))
            if progress is not None:
                progress(f"View{k}", count, total)
            if max_frames and count >= max_frames:
                break
        if not count:
            raise ConfigError(f"{source}: no frame could be read")
        written.append((k, count, size, rate, folder))
    length = min(count for _, count, _, _, _ in written)
    for k, count, size, rate, folder in written:
        for extra in range(length + 1, count + 1):  # equally long views: cut to the shortest
            (folder / "img1" / f"{scene}_View{k}_{extra:06d}.jpg").unlink()
        if count > length:
            log.warning("%s View%d: %d frames cut to the shortest view's %d", scene, k, count, length)
        write_view(root, split, scene, k, SeqInfo(f"{scene}_View{k}", int(round(rate)), length, *size), gt=None)
    if expressions:
        write_expressions(root, split, scene, [Expression(scene, sentence, ()) for sentence in expressions], unlabelled=True)
    return {"scene": scene, "split": split, "views": len(written), "frames": length,
            "sizes": [list(w[2]) for w in written], "frame_rates": [w[3] for w in written]}


def _open(source: Path, frame_rate: float | None) -> tuple[float, Iterator[np.ndarray], int | None]:
    """Frame rate, frames, and their number when the file says it."""
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise MissingFileError(f"{source}: no {'/'.join(IMAGE_SUFFIXES)} frames in this folder")
        return float(frame_rate or DEFAULT_FOLDER_RATE), (_read_image(p) for p in files), len(files)
    if not source.is_file():
        raise MissingFileError(f"{source}: no such video or folder of frames")
    try:
        import av
    except ImportError:
        raise ConfigError("reading videos needs PyAV: pip install 'crmot[report]'") from None
    try:
        container = av.open(str(source))
        stream = container.streams.video[0]
    except (av.error.FFmpegError, IndexError) as err:
        raise ConfigError(f"{source}: not a video PyAV can read ({err})") from None
    rate = frame_rate or float(stream.average_rate or stream.guessed_rate or Fraction(DEFAULT_FOLDER_RATE))

    def frames() -> Iterator[np.ndarray]:
        with container:
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")

    return rate, frames(), stream.frames or None


def _read_image(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except OSError as err:
        raise ConfigError(f"{path}: not an image ({err})") from None
