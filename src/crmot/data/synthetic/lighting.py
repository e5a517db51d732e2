"""Light that is not uniform: brightness that varies across the image and over time, and soft shadows.

A view is lit by a smooth gradient (the sun on one side of the square), a slow global flicker (clouds
thinning and thickening) and one cloud shadow that drifts across the image. People cast soft shadows on
the ground, away from the sun, which is the same for all views of a scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crmot.data.synthetic.camera import Camera


@dataclass(frozen=True)
class Lighting:
    """One view's brightness field, a function of pixel position and frame."""

    gradient: np.ndarray  # (2,) brightness change from image centre to the right edge / the bottom edge
    flicker: float  # amplitude of the global brightness change over time
    period: float  # frames per flicker cycle
    phase: float
    cloud_start: np.ndarray  # (2,) cloud centre at frame 0, in image fractions
    cloud_velocity: np.ndarray  # (2,) image fractions per frame
    cloud_radius: float  # image fractions
    cloud_depth: float  # fraction of light the cloud takes at its centre

    def field(self, t: float, height: int, width: int) -> np.ndarray:
        """(H, W) float32 multiplier of the image's brightness at frame ``t``."""
        v = (np.arange(height, dtype=np.float32) + 0.5) / height
        u = (np.arange(width, dtype=np.float32) + 0.5) / width
        centre = self.cloud_start + t * self.cloud_velocity
        flat = 1.0 + self.flicker * np.sin(2 * np.pi * t / self.period + self.phase)
        cloud = np.exp(-((u[None] - centre[0]) ** 2 + (v[:, None] - centre[1]) ** 2) / (2 * self.cloud_radius**2))
        gradient = self.gradient[0] * (u[None] - 0.5) * 2 + self.gradient[1] * (v[:, None] - 0.5) * 2
        return ((flat + gradient) * (1.0 - self.cloud_depth * cloud)).astype(np.float32)


def sample_lighting(rng: np.random.Generator, frames: int) -> Lighting:
    angle = rng.uniform(0, 2 * np.pi)
    start = rng.uniform(-0.2, 1.2, size=2)
    velocity = (rng.uniform(0.2, 0.8, size=2) - start) / frames * rng.uniform(0.8, 1.6)
    return Lighting(
        gradient=rng.uniform(0.08, 0.2) * np.array([np.cos(angle), np.sin(angle)]),
        flicker=float(rng.uniform(0.03, 0.08)),
        period=float(rng.uniform(0.6, 1.5) * frames),
        phase=float(rng.uniform(0, 2 * np.pi)),
        cloud_start=start,
        cloud_velocity=velocity,
        cloud_radius=float(rng.uniform(0.15, 0.35)),
        cloud_depth=float(rng.uniform(0.1, 0.25)),
    )


@dataclass(frozen=True)
class Sun:
    """Where shadows fall (a unit ground direction), how long they are and how dark."""

    direction: np.ndarray  # (2,)
    length: float  # shadow length per metre of height
    strength: float  # fraction of light a shadow takes at its core


def sample_sun(rng: np.random.Generator) -> Sun:
    angle = rng.uniform(0, 2 * np.pi)
    return Sun(np.array([np.cos(angle), np.sin(angle)]), float(rng.uniform(0.3, 0.8)), float(rng.uniform(0.25, 0.45)))


def cast_shadow(image: np.ndarray, camera: Camera, sun: Sun, xy: np.ndarray, height: float, width: float) -> None:
    """Darken, in place, the ground where an object of ``height`` x ``width`` metres standing at ``xy``
    casts its shadow: a soft-edged ellipse from its foot away from the sun."""
    length = max(sun.length * height, width)
    centre = xy + sun.direction * length / 2
    across = np.array([-sun.direction[1], sun.direction[0]])
    ends = np.array([centre + sun.direction * length / 2, centre - sun.direction * length / 2,
                     centre + across * width / 2, centre - across * width / 2, centre])
    uv, depth = camera.project(np.column_stack([ends, np.zeros(len(ends))]))
    if depth.min() < 0.5:
        return
    cu, cv = uv[-1]
    ru = max(np.abs(uv[:4, 0] - cu).max(), 1.0)
    rv = max(np.abs(uv[:4, 1] - cv).max(), 1.0)
    h, w = image.shape[:2]
    ya, yb = max(int(cv - rv), 0), min(int(cv + rv) + 1, h)
    xa, xb = max(int(cu - ru), 0), min(int(cu + ru) + 1, w)
    if xb <= xa or yb <= ya:
        return
    yy, xx = np.ogrid[ya:yb, xa:xb]
    r2 = ((xx + 0.5 - cu) / ru) ** 2 + ((yy + 0.5 - cv) / rv) ** 2
    softness = np.clip((1.0 - r2) / 0.5, 0.0, 1.0)  # the outer half of the radius fades out
    image[ya:yb, xa:xb] *= (1.0 - sun.strength * softness)[..., None].astype(np.float32)
