from __future__ import annotations

import numpy as np
import pytest

from crmot.data.synthetic import generate, load_preset
from crmot.data.tracks import Tracks


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
    """A tiny synthetic CRTrack root, written once per test session (read-only for tests)."""
    root = tmp_path_factory.mktemp("tiny") / "root"
    generate(root, load_preset("tiny"), seed=3, workers=1)
    return root


def tracks(rows) -> Tracks:
    """Tracks from ``[frame, id, x, y, w, h, ...]`` rows."""
    return Tracks.from_table(np.asarray(rows, dtype=np.float64).reshape(-1, max(6, len(rows[0]) if rows else 6)))
