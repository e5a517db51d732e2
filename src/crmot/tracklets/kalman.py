"""A constant-velocity Kalman filter over many boxes at once (SORT's state: cx, cy, area, ratio)."""

from __future__ import annotations

import numpy as np

_DIM = 7  # cx, cy, s (area), r (w/h), and velocities of cx, cy, s


def _matrices() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    F = np.eye(_DIM)
    F[0, 4] = F[1, 5] = F[2, 6] = 1.0
    H = np.eye(4, _DIM)
    R = np.diag([1.0, 1.0, 10.0, 0.01])
    Q = np.diag([1.0, 1.0, 1.0, 0.001, 0.01, 0.01, 1e-4])
    P0 = np.diag([10.0, 10.0, 10.0, 10.0, 1e4, 1e4, 1e4])
    return F, H, R, Q, P0


F, H, R, Q, P0 = _matrices()


def box_to_z(boxes: np.ndarray) -> np.ndarray:
    x, y, w, h = boxes.T
    return np.stack([x + w / 2, y + h / 2, w * h, w / np.maximum(h, 1e-6)], axis=1)


def x_to_box(state: np.ndarray) -> np.ndarray:
    cx, cy, s, r = state[:, 0], state[:, 1], np.maximum(state[:, 2], 1e-6), state[:, 3]
    w = np.sqrt(s * np.maximum(r, 1e-6))
    h = s / np.maximum(w, 1e-6)
    return np.stack([cx - w / 2, cy - h / 2, w, h], axis=1)


class KalmanBoxes:
    """States (N, 7) and covariances (N, 7, 7) of N tracked boxes, updated in one batched step."""

    def __init__(self) -> None:
        self.x = np.zeros((0, _DIM))
        self.P = np.zeros((0, _DIM, _DIM))

    def __len__(self) -> int:
        return len(self.x)

    def add(self, boxes: np.ndarray) -> None:
        x = np.zeros((len(boxes), _DIM))
        x[:, :4] = box_to_z(boxes)
        self.x = np.concatenate([self.x, x])
        self.P = np.concatenate([self.P, np.repeat(P0[None], len(boxes), axis=0)])

    def keep(self, mask: np.ndarray) -> None:
        self.x, self.P = self.x[mask], self.P[mask]

    def predict(self) -> np.ndarray:
        """Advance every box one frame; returns the predicted boxes (N, 4)."""
        shrinking = self.x[:, 2] + self.x[:, 6] <= 0
        self.x[shrinking, 6] = 0.0
        self.x = self.x @ F.T
        self.P = F @ self.P @ F.T + Q
        return x_to_box(self.x)

    def update(self, index: np.ndarray, boxes: np.ndarray) -> None:
        """Correct the boxes at ``index`` with their measured ``boxes``."""
        if not len(index):
            return
        x, P = self.x[index], self.P[index]
        y = box_to_z(boxes) - x @ H.T
        S = H @ P @ H.T + R
        K = P @ H.T @ np.linalg.inv(S)
        self.x[index] = x + np.einsum("nij,nj->ni", K, y)
        self.P[index] = (np.eye(_DIM) - K @ H) @ P
