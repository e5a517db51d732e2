"""Calibrated static cameras around the ground plane, each with its own look."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Camera:
    """Pinhole camera (no roll) plus the per-camera photometric variation ViewSAM must cope with."""

    K: np.ndarray  # (3, 3)
    R: np.ndarray  # (3, 3) world -> camera
    t: np.ndarray  # (3,)
    width: int
    height: int
    gain: np.ndarray  # (3,) per-channel colour cast
    offset: float  # brightness shift
    blur: int  # box-blur size in pixels (1 = none)
    noise: float  # sensor noise sigma
    ground_colour: np.ndarray  # (3,)
    sky_colour: np.ndarray  # (3,)
    tile: float  # paving tile size in metres

    @property
    def position(self) -> np.ndarray:
        return -self.R.T @ self.t

    @property
    def focal(self) -> float:
        return float(self.K[0, 0])

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (N, 2) and depth (N,) of world points (N, 3)."""
        cam = points @ self.R.T + self.t
        depth = cam[:, 2]
        safe = np.where(depth > 1e-6, depth, 1e-6)
        uv = (cam[:, :2] / safe[:, None]) * self.focal + self.K[:2, 2]
        return uv, depth

    def ground_to_image(self) -> np.ndarray:
        """Homography mapping ground-plane points (x, y, 1) to pixels."""
        H = self.K @ np.column_stack([self.R[:, 0], self.R[:, 1], self.t])
        return H / H[2, 2]

    def to_json(self) -> dict:
        return {
            "K": self.K.tolist(), "R": self.R.tolist(), "t": self.t.tolist(),
            "position": self.position.tolist(), "ground_to_image": self.ground_to_image().tolist(),
            "image_size": [self.width, self.height],
        }


def sample_cameras(rng: np.random.Generator, count: int, width: int, height: int,
                   area: tuple[float, float]) -> list[Camera]:
    """Cameras spread around the area: different azimuths, heights, distances, fields of view, looks."""
    span = float(max(area))
    base = rng.uniform(0, 2 * np.pi)
    cameras = []
    for k in range(count):
        azimuth = base + 2 * np.pi * k / count + rng.uniform(-0.25, 0.25)
        distance = rng.uniform(0.6, 0.9) * span
        position = np.array([distance * np.cos(azimuth), distance * np.sin(azimuth), rng.uniform(4.5, 8.0)])
        target = np.array([*rng.uniform(-0.1, 0.1, size=2) * np.array(area), 0.6])
        hfov = np.deg2rad(rng.uniform(58, 72))
        focal = width / (2 * np.tan(hfov / 2))
        cameras.append(Camera(
            K=np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1.0]]),
            R=(R := _look_at(position, target)),
            t=-R @ position,
            width=width,
            height=height,
            gain=rng.uniform(0.8, 1.2, size=3),
            offset=float(rng.uniform(-20, 20)),
            blur=int(rng.choice([1, 1, 2, 3])),
            noise=float(rng.uniform(1.5, 4.0)),
            # Pavements are desaturated: a grey level with a slight tint (clothes are the saturated things).
            ground_colour=rng.uniform(95, 165) + rng.uniform(-12, 12, size=3),
            sky_colour=rng.uniform(150, 230, size=3),
            tile=float(rng.uniform(0.8, 1.5)),
        ))
    return cameras


def _look_at(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    forward = target - position
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])
