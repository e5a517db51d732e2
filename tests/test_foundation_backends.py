"""SAM2 and SAM3 backends with small random models on CPU (the real checkpoints are not shipped)."""

from __future__ import annotations

import numpy as np
import pytest

from crmot.data import load_split
from crmot.data import masks as rle
from crmot.data.frames import read_frame
from crmot.tracklets.stitch import stitch
from crmot.tracklets.types import VideoSource


def _video(tiny_root, frames: int) -> VideoSource:
    view = load_split(tiny_root, "test")[0].views[0]
    info = view.seqinfo
    return VideoSource(frames, info.height, info.width, lambda f: read_frame(view, f), path=view.frame_path)


def _check(tracklets, frames: int) -> None:
    t = tracklets.tracks
    assert len(tracklets.masks) == len(t) and set(t.frames.tolist()) <= set(range(1, frames + 1))
    if len(t):
        np.testing.assert_array_equal(rle.to_boxes(tracklets.masks), t.boxes)
        assert ((t.scores >= 0) & (t.scores <= 1)).all()


def test_stitch_joins_ids_by_mask_overlap():
    a, b = np.zeros((20, 20), bool), np.zeros((20, 20), bool)
    a[2:10, 2:6], b[5:15, 12:18] = True, True
    previous = {7: rle.encode(a), 9: rle.encode(b)}
    current = {1: rle.encode(b), 2: rle.encode(a), 3: rle.encode(np.eye(20, dtype=bool))}
    assert stitch(previous, current) == {1: 9, 2: 7}


def test_sam3_backend_runs_a_small_random_model(tiny_root):
    pytest.importorskip("transformers", reason="the SAM3 backend needs transformers>=5 (make install)")
    from crmot.tracklets.backends.sam3 import SAM3Backend

    backend = SAM3Backend(checkpoint=None, allow_random_init=True, window=2)
    backend.setup("cpu")
    tracklets = backend.segment_video(_video(tiny_root, 3), ["person"])
    _check(tracklets, 3)
    assert len(tracklets.tracks) > 0
    assert backend.describe()["name"] == "sam3-random-init"


def test_sam3_without_checkpoint_is_a_clear_error(tmp_path):
    pytest.importorskip("transformers", reason="the SAM3 backend needs transformers>=5 (make install)")
    from crmot.tracklets.backends.sam3 import SAM3Backend

    with pytest.raises(FileNotFoundError, match=rf"{tmp_path}/sam3 \(model.backend.init_args.checkpoint\)"):
        SAM3Backend(checkpoint=str(tmp_path / "sam3")).setup("cpu")
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path}/sam3 \(model.backend.init_args.checkpoint\)"):
        SAM3Backend(checkpoint=str(tmp_path / "sam3"), allow_random_init=True).setup("cpu")  # named: no fallback
    with pytest.raises(FileNotFoundError, match="allow_random_init"):
        SAM3Backend()


def test_sam2_backend_runs_a_small_random_model(tiny_root):
    pytest.importorskip("sam2", reason="the SAM2 backend needs the sam2 package (make install)")
    from crmot.tracklets.backends.sam2 import SAM2Backend

    backend = SAM2Backend(size="tiny", checkpoint=None, allow_random_init=True, image_size=256, window=2)
    backend.setup("cpu")
    tracklets = backend.segment_video(_video(tiny_root, 4), ["person"])
    _check(tracklets, 4)
    assert len(tracklets.tracks) > 0
    ids_by_frame = [set(tracklets.tracks.ids[tracklets.tracks.frames == f].tolist()) for f in (1, 3)]
    assert ids_by_frame[0] & ids_by_frame[1]  # objects keep their ids across the window boundary
    assert backend.describe()["name"] == "sam2-random-init"


def test_sam2_random_init_must_be_asked_for(tmp_path):
    pytest.importorskip("sam2", reason="the SAM2 backend needs the sam2 package (make install)")
    from crmot.tracklets.backends.sam2 import SAM2Backend

    with pytest.raises(FileNotFoundError, match="allow_random_init"):
        SAM2Backend(size="tiny", checkpoint=None).setup("cpu")
    with pytest.raises(FileNotFoundError, match=r"sam2.pt \(model.backend.init_args.checkpoint\)"):
        SAM2Backend(size="tiny", checkpoint=str(tmp_path / "sam2.pt")).setup("cpu")


def test_sam2_takes_its_box_prompts_from_any_detector(tiny_root):
    """SAM2 sees only what the detector gives it: one box, one object."""
    pytest.importorskip("sam2", reason="the SAM2 backend needs the sam2 package (make install)")
    from crmot.tracklets.backends.base import Detection, Detector
    from crmot.tracklets.backends.sam2 import SAM2Backend

    class OneBox(Detector):
        name = "one-box"
        asked = 0

        def calibrate(self, video):
            return None

        def detect(self, frames, calibration):
            self.asked += 1
            mask = np.zeros(frames.shape[1:3], bool)
            mask[20:60, 40:55] = True
            return [[Detection(np.array([40.0, 20.0, 15.0, 40.0]), 1.0, rle.encode(mask), np.zeros(6))] for _ in frames]

    detector = OneBox()
    backend = SAM2Backend(size="tiny", checkpoint=None, allow_random_init=True, image_size=256, window=4,
                          detector=detector)
    backend.setup("cpu")
    tracklets = backend.segment_video(_video(tiny_root, 3), ["person"])  # one window: prompts on frame 1 only
    assert detector.asked == 1 and backend.describe()["detector"]["name"] == "one-box"
    assert set(tracklets.tracks.ids.tolist()) <= {1}  # nothing SAM2 was not prompted with
