"""What differs from the empty scene: a median background, the light of each frame, shadows, blobs.

The background is the median of frames sampled over the whole video (memory bounded by the sample).
A camera on a pole shakes: each frame's translation against the background is found by phase
correlation and the background moved with it, so the edges of walls and doors do not become people.
Light changes over the scene and over time (the sun, clouds), so each frame's light is estimated as a
coarse field: the median, per grid cell, of the brightness ratio between frame and background (people
fill a small part of a cell, the ground the rest), smoothly upsampled. A pixel is foreground when its
colour differs enough from the background lit like this, unless it is a shadow: darker than the lit
background by a shadow's ratio, with the same chromaticity. Morphology runs in torch on the stage's
device; connected components in scipy on the CPU.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from crmot.tracklets.backends import pixels
from crmot.tracklets.backends.classical.config import ClassicalConfig

_IN_FRAME = np.zeros((3, 3, 3), bool)
_IN_FRAME[1] = True  # labelling stays inside one frame of a window
_SPECKS = (3, 3)  # rows, columns: what opening removes and closing fills
_VERTICAL = (7, 1)  # closing bridges a head, coat and legs that differ little from the ground
#: Frames go through the per-pixel steps in batches of about this many pixels (bounded temporaries).
_PIXELS_PER_PASS = 1 << 20

#: Smallest side of a light-field cell in pixels: people must fill well under half of a cell for its
#: median to be the ground's (on small images the grid gets fewer cells).
MIN_LIGHT_CELL = 32

#: A foreground component of one frame of a window: (frame index, top, left, mask with holes filled).
Blob = tuple[int, int, int, np.ndarray]


def median_background(frames: np.ndarray, device: torch.device) -> np.ndarray:
    """(H, W, 3) uint8 median of ``frames`` (T, H, W, 3)."""
    return pixels.median_frame(pixels.to_device(frames, device)).cpu().numpy()


def light_field(frames: torch.Tensor, background: torch.Tensor, cells: int) -> torch.Tensor:
    """(T, Hc, Wc, 3) float32 colour of each frame's light relative to its (T, H, W, 3) background, per
    grid cell and channel (a camera's white balance drifts as well as its exposure): the median over
    every other row and column of the cell, as the light varies slowly and a quarter is plenty."""
    _, height, width, _ = frames.shape
    side = max(MIN_LIGHT_CELL, min(height, width) // cells) // 2 * 2
    rows, cols = max(height // side, 1), max(width // side, 1)
    crop = (slice(None), slice(0, rows * side, 2), slice(0, cols * side, 2))
    ratio = (frames[crop].float() + 1.0) / (background[crop].float() + 1.0)
    half = side // 2
    ratio = ratio.reshape(-1, rows, half, cols, half, 3)
    return ratio.permute(0, 1, 3, 5, 2, 4).reshape(len(frames), rows, cols, 3, -1).median(dim=-1).values


def lit_background(background: torch.Tensor, light: torch.Tensor) -> torch.Tensor:
    """(T, H, W, 3) float32: the (T, H, W, 3) background under each frame's light (cells upsampled bilinearly)."""
    height, width = background.shape[1:3]
    full = F.interpolate(light.permute(0, 3, 1, 2), size=(height, width), mode="bilinear", align_corners=False)
    return background.float() * full.permute(0, 2, 3, 1)


def camera_shift(frames: torch.Tensor, background: torch.Tensor, reach: int) -> torch.Tensor:
    """(T, 2) integer (rows, columns) by which each frame is the background moved, within ``reach``
    pixels: the peak of the phase correlation of their grey levels (Hann-windowed)."""
    grey = frames.float().mean(-1)
    base = background.float().mean(-1)
    height, width = base.shape
    window = torch.outer(torch.hann_window(height, device=grey.device), torch.hann_window(width, device=grey.device))
    spectrum = torch.fft.rfft2((grey - grey.mean((1, 2), keepdim=True)) * window)
    reference = torch.fft.rfft2((base - base.mean()) * window)
    cross = spectrum * reference.conj()
    correlation = torch.fft.irfft2(cross / cross.abs().clamp_min(1e-6), s=(height, width))
    offsets = torch.arange(-reach, reach + 1, device=grey.device)
    near = correlation[:, offsets % height][:, :, offsets % width]  # (T, 2 reach + 1, 2 reach + 1)
    best = near.reshape(len(frames), -1).argmax(dim=1)
    return torch.stack([offsets[best // len(offsets)], offsets[best % len(offsets)]], dim=1)


def aligned_backgrounds(background: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """(T, H, W, 3): the background moved by each frame's shift, edge pixels repeated where it uncovers."""
    height, width = background.shape[:2]
    out = background.expand(len(shifts), *background.shape).clone()
    for (dy, dx) in {tuple(s) for s in shifts.tolist()} - {(0, 0)}:
        rows = torch.clamp(torch.arange(height, device=background.device) - dy, 0, height - 1)
        cols = torch.clamp(torch.arange(width, device=background.device) - dx, 0, width - 1)
        chosen = (shifts[:, 0] == dy) & (shifts[:, 1] == dx)
        out[chosen] = background[rows][:, cols]
    return out


class Foreground:
    """Foreground masks and blobs of a window of frames, against one view's background."""

    def __init__(self, config: ClassicalConfig, device: torch.device) -> None:
        self.config = config
        self.device = device

    @property
    def device(self) -> torch.device:
        return self._device

    @device.setter
    def device(self, device: torch.device) -> None:
        self._device = torch.device(device)
        self.label_on_device = self._device.type == "cuda"  # components where the masks are

    def masks(self, frames: torch.Tensor, background: torch.Tensor, relax: float = 1.0
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Foreground (T, H, W) bool and the light cells (T, Hc, Wc, 3) of uint8 ``frames``. Blur smears a
        person's colours over the pixels around them, so a pixel must also reach ``edge`` of the largest
        distance nearby: the mask stops at the blurred edge's midpoint, not where the smear fades."""
        cfg = self.config
        if cfg.max_shift:
            background = aligned_backgrounds(background, camera_shift(frames, background, cfg.max_shift))
        else:
            background = background.expand(len(frames), *background.shape)
        light = light_field(frames, background, cfg.light_cells)
        lit = lit_background(background, light)
        image = frames.float()
        distance = (image - lit).abs_().amax(dim=-1).round_().clamp_(0, 255).to(torch.int16)
        nearby = pixels.max_filter(distance, (cfg.edge_reach, cfg.edge_reach))
        foreground = distance >= self._least(relax)[nearby.long()]
        where = foreground.nonzero(as_tuple=True)  # the shadow test, on the few pixels it can clear
        seen, expected = image[where], lit[where]
        brightness, lit_brightness = seen.sum(-1) + 3.0, expected.sum(-1) + 3.0
        ratio = brightness / lit_brightness
        chroma = (seen / brightness[:, None] - expected / lit_brightness[:, None]).abs().sum(-1)
        shadow = (ratio >= cfg.shadow_ratio[0]) & (ratio <= cfg.shadow_ratio[1]) & (chroma <= cfg.shadow_chroma)
        foreground[tuple(axis[shadow] for axis in where)] = False
        return foreground, light

    def _least(self, relax: float) -> torch.Tensor:
        """The smallest distance that is foreground, per largest distance nearby (0-255): above
        ``threshold`` and at least ``edge`` of that largest one, as a table of integers."""
        nearby = np.arange(256)
        least = np.maximum(np.floor(relax * self.config.threshold) + 1, np.ceil(relax * self.config.edge * nearby))
        return torch.from_numpy(np.minimum(least, 256).astype(np.int16)).to(self.device)

    def blobs(self, frames: np.ndarray, background: np.ndarray, relax: float = 1.0
              ) -> tuple[list[Blob], np.ndarray]:
        """Every foreground component of a window, and the window's light cells (T, Hc, Wc, 3)."""
        parts, lights = [], []
        step = max(1, _PIXELS_PER_PASS // (frames.shape[1] * frames.shape[2]))
        background = pixels.to_device(background, self.device)
        for start in range(0, len(frames), step):
            part, light = self.masks(pixels.to_device(frames[start:start + step], self.device), background, relax)
            part = pixels.opening(part, _SPECKS)
            parts.append(pixels.closing(pixels.closing(part, _VERTICAL), _SPECKS))
            lights.append(light.cpu().numpy())
        if self.label_on_device:
            labels, count = pixels.label_components(torch.cat(parts))
            found = [(slice(t, t + 1), slice(y0, y1), slice(x0, x1))
                     for t, y0, y1, x0, x1 in pixels.component_boxes(labels, count).cpu().tolist()]
            labels = labels.to(torch.int32).cpu().numpy()
        else:
            labels, _ = ndimage.label(torch.cat(parts).cpu().numpy(), structure=_IN_FRAME)
            found = ndimage.find_objects(labels)
        blobs = []
        for label, where in enumerate(found, start=1):
            if where is not None:  # holes filled blob by blob: small crops, not whole windows
                t, ys, xs = where
                blobs.append((t.start, ys.start, xs.start, ndimage.binary_fill_holes(labels[t.start, ys, xs] == label)))
        return blobs, np.concatenate(lights)


def light_at(cells: np.ndarray, shape: tuple[int, int], row: float, col: float) -> np.ndarray:
    """The light (3,) of one frame's cells at pixel ``(row, col)`` of an image of ``shape`` (nearest cell)."""
    r = min(int(row * cells.shape[0] / shape[0]), cells.shape[0] - 1)
    c = min(int(col * cells.shape[1] / shape[1]), cells.shape[1] - 1)
    return cells[max(r, 0), max(c, 0)].astype(np.float32)
