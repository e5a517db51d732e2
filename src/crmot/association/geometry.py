"""Where people stand: feet on a common plane, and where a person should appear in another view.

With ``calibration/<Scene>.json`` the plane is the metric ground (each view's ground-to-image
homography, K, R, t). Without it, the plane is learned: view-to-view homographies fitted (DLT +
RANSAC) on the feet of tracklets already associated across views, in the first view's image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Height (metres) and width/height ratio of a standing person, to place a projected box.
PERSON_HEIGHT_M = 1.7
PERSON_ASPECT = 0.42


def apply_homography(H: np.ndarray, points: np.ndarray) -> np.ndarray:
    p = np.column_stack([points, np.ones(len(points))]) @ H.T
    return p[:, :2] / np.where(np.abs(p[:, 2:]) > 1e-12, p[:, 2:], 1e-12)


def fit_homography(src: np.ndarray, dst: np.ndarray, iterations: int = 200, tolerance: float = 6.0,
                   seed: int = 0) -> np.ndarray | None:
    """Homography with dst ~ H src by DLT inside RANSAC (pixels); None with fewer than 8 inliers."""
    if len(src) < 8:
        return None
    rng = np.random.default_rng(seed)
    best, best_inliers = None, np.zeros(len(src), bool)
    for _ in range(iterations):
        pick = rng.choice(len(src), 4, replace=False)
        H = _dlt(src[pick], dst[pick])
        if H is None:
            continue
        inliers = np.linalg.norm(apply_homography(H, src) - dst, axis=1) < tolerance
        if inliers.sum() > best_inliers.sum():
            best, best_inliers = H, inliers
    if best is None or best_inliers.sum() < 8:
        return None
    return _dlt(src[best_inliers], dst[best_inliers])


def _dlt(src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    mean_s, mean_d = src.mean(0), dst.mean(0)
    scale_s = np.sqrt(2) / max(np.linalg.norm(src - mean_s, axis=1).mean(), 1e-9)
    scale_d = np.sqrt(2) / max(np.linalg.norm(dst - mean_d, axis=1).mean(), 1e-9)
    Ts = np.array([[scale_s, 0, -scale_s * mean_s[0]], [0, scale_s, -scale_s * mean_s[1]], [0, 0, 1]])
    Td = np.array([[scale_d, 0, -scale_d * mean_d[0]], [0, scale_d, -scale_d * mean_d[1]], [0, 0, 1]])
    s = apply_homography(Ts, src)
    d = apply_homography(Td, dst)
    zeros = np.zeros(len(s))
    ones = np.ones(len(s))
    rows_x = np.column_stack([-s[:, 0], -s[:, 1], -ones, zeros, zeros, zeros, d[:, 0] * s[:, 0], d[:, 0] * s[:, 1], d[:, 0]])
    rows_y = np.column_stack([zeros, zeros, zeros, -s[:, 0], -s[:, 1], -ones, d[:, 1] * s[:, 0], d[:, 1] * s[:, 1], d[:, 1]])
    _, singular, vt = np.linalg.svd(np.vstack([rows_x, rows_y]))
    if singular[-2] < 1e-9:
        return None  # degenerate sample (collinear points)
    H = np.linalg.inv(Td) @ vt[-1].reshape(3, 3) @ Ts
    return H / H[2, 2] if abs(H[2, 2]) > 1e-12 else None


@dataclass
class HeightLine:
    """Standing-person height in pixels as a line in the feet's image row (fitted on a view's boxes)."""

    slope: float
    intercept: float

    @classmethod
    def fit(cls, boxes: np.ndarray) -> HeightLine | None:
        aspect = boxes[:, 3] / np.maximum(boxes[:, 2], 1.0)
        single = boxes[(aspect >= 1.8) & (aspect <= 4.5)]
        if len(single) < 10:
            return None
        slope, intercept = np.polyfit(single[:, 1] + single[:, 3], single[:, 3], 1)
        return cls(float(slope), float(intercept))

    def height(self, foot_row: np.ndarray) -> np.ndarray:
        return np.maximum(self.slope * foot_row + self.intercept, 4.0)


@dataclass
class GroundPlane:
    """Per view: image -> plane homography; plane -> image boxes of a standing person."""

    to_plane: dict[int, np.ndarray]  # view -> 3x3 homography (image feet -> plane)
    metric: bool  # True: the plane is the calibrated ground in metres
    cameras: dict[int, dict] = field(default_factory=dict)  # calibrated views: K, R, t
    heights: dict[int, HeightLine] = field(default_factory=dict)  # learned plane: per-view height lines

    @classmethod
    def from_calibration(cls, calibration: dict) -> GroundPlane:
        to_plane, cameras = {}, {}
        for name, cam in calibration["views"].items():
            k = int(name.removeprefix("View"))
            to_plane[k] = np.linalg.inv(np.asarray(cam["ground_to_image"], np.float64))
            cameras[k] = {key: np.asarray(cam[key], np.float64) for key in ("K", "R", "t")}
        return cls(to_plane, metric=True, cameras=cameras)

    @classmethod
    def learn(cls, correspondences: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]],
              boxes: dict[int, np.ndarray], views: list[int]) -> GroundPlane:
        """From feet seen at the same instant in two views (pairs (u, v): feet in u, feet in v), a
        homography per view onto the first view's image, chained through other views when needed."""
        reference = views[0]
        to_plane = {reference: np.eye(3)}
        changed = True
        while changed:
            changed = False
            for (u, v), (feet_u, feet_v) in correspondences.items():
                for known, other, src, dst in ((u, v, feet_v, feet_u), (v, u, feet_u, feet_v)):
                    if known in to_plane and other not in to_plane:
                        H = fit_homography(src, dst)  # other's image -> known's image
                        if H is not None:
                            to_plane[other] = to_plane[known] @ H
                            changed = True
        heights = {k: line for k, b in boxes.items() if (line := HeightLine.fit(b)) is not None}
        return cls(to_plane, metric=False, heights=heights)

    def covers(self, view: int) -> bool:
        return view in self.to_plane and (self.metric or view in self.heights)

    def feet_to_plane(self, view: int, feet: np.ndarray) -> np.ndarray:
        return apply_homography(self.to_plane[view], feet)

    def boxes_from_plane(self, view: int, points: np.ndarray) -> np.ndarray:
        """(N, 4) xywh boxes of a standing person at plane ``points`` (N, 2), seen from ``view``."""
        feet = apply_homography(np.linalg.inv(self.to_plane[view]), points)
        if self.metric:
            cam = self.cameras[view]
            head = np.column_stack([points, np.full(len(points), PERSON_HEIGHT_M)]) @ cam["R"].T + cam["t"]
            head_px = head[:, :2] / np.maximum(head[:, 2:], 1e-6) * cam["K"][0, 0] + cam["K"][:2, 2]
            height = np.maximum(feet[:, 1] - head_px[:, 1], 4.0)
        else:
            height = self.heights[view].height(feet[:, 1])
        width = PERSON_ASPECT * height
        return np.column_stack([feet[:, 0] - width / 2, feet[:, 1] - height, width, height])
