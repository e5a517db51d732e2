"""WebM (VP9) writing with PyAV: a pip wheel that carries its own FFmpeg, so no system ffmpeg is assumed.

VP9 plays in every browser, Chromium builds without proprietary codecs included; the realtime preset
keeps encoding a small share of the report's time."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crmot.errors import ConfigError


class WebMWriter:
    """Frames (H, W, 3) uint8 RGB in, one ``.webm`` file out, written to a temporary name first."""

    def __init__(self, path: Path, width: int, height: int, frame_rate: float) -> None:
        try:
            import av
        except ImportError:
            raise ConfigError("report videos need PyAV: pip install 'crmot[report]'") from None
        self.path = Path(path)
        self.partial = self.path.with_name(f".{self.path.name}.partial")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.container = av.open(str(self.partial), "w", format="webm")
        self.stream = self.container.add_stream("libvpx-vp9", rate=max(int(round(frame_rate)), 1))
        self.stream.width, self.stream.height = width - width % 2, height - height % 2  # yuv420p needs even sides
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"deadline": "realtime", "cpu-used": "8", "crf": "36", "b:v": "0"}
        self._frame = av.VideoFrame

    def write(self, rgb: np.ndarray) -> None:
        frame = self._frame.from_ndarray(np.ascontiguousarray(rgb[: self.stream.height, : self.stream.width]), format="rgb24")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()
        self.partial.replace(self.path)


def duration_seconds(path: Path) -> float:
    """Length of a written video (0 when it holds no frame)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        return float(container.duration or 0) / 1e6
