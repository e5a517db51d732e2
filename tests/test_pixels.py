"""The classical backend's per-pixel work in torch matches scipy.ndimage and numpy, the tools it was
tuned with: same border rules, same thresholds, so outputs do not depend on the device."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from crmot.tracklets.backends import pixels
from crmot.tracklets.backends.classical import ClassicalConfig, ClassicalDetector
from crmot.tracklets.backends.classical.foreground import Foreground, camera_shift


@pytest.mark.parametrize("size", [(3, 3), (7, 1), (1, 5), (5, 3)])
@pytest.mark.parametrize("shape", [(3, 40, 50), (2, 4, 6)])  # the second smaller than some windows
def test_morphology_equals_scipy_with_its_border_rules(size, shape):
    masks = np.random.default_rng(sum(size) + shape[1]).random(shape) < 0.6
    structure = np.ones((1, *size), bool)
    tensor = torch.from_numpy(masks)
    for ours, theirs in [(pixels.erode, ndimage.binary_erosion), (pixels.dilate, ndimage.binary_dilation),
                         (pixels.opening, ndimage.binary_opening), (pixels.closing, ndimage.binary_closing)]:
        np.testing.assert_array_equal(ours(tensor, size).numpy(), theirs(masks, structure), err_msg=ours.__name__)


def test_max_filter_equals_scipy():
    values = np.random.default_rng(0).integers(0, 256, (3, 30, 41)).astype(np.uint8)
    np.testing.assert_array_equal(pixels.max_filter(torch.from_numpy(values), (5, 5)).numpy(),
                                  ndimage.maximum_filter(values, size=(1, 5, 5)))


def test_an_even_window_is_refused():
    with pytest.raises(ValueError, match="odd"):
        pixels.max_filter(torch.zeros(1, 8, 8), (4, 3))


def test_frames_are_shared_with_torch_on_the_cpu_unless_read_only():
    """torch warns (once per process) when handed read-only memory, as a decoded PIL frame is:
    such frames are copied, the others shared."""
    frame = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    assert np.shares_memory(pixels.to_device(frame, torch.device("cpu")).numpy(), frame)
    frame.flags.writeable = False
    tensor = pixels.to_device(frame, torch.device("cpu"))
    np.testing.assert_array_equal(tensor.numpy(), frame)
    assert not np.shares_memory(tensor.numpy(), frame)


@pytest.mark.parametrize("count", [47, 48])
def test_median_frame_equals_numpys_truncated(count):
    frames = np.random.default_rng(count).integers(0, 256, (count, 12, 10, 3)).astype(np.uint8)
    np.testing.assert_array_equal(pixels.median_frame(torch.from_numpy(frames)).numpy(),
                                  np.median(frames, axis=0).astype(np.uint8))


@pytest.mark.parametrize("relax", [1.0, 0.8, 0.7, 0.35])
def test_the_integer_threshold_table_equals_the_float64_thresholds(relax):
    """Every entry of the table decides as the float64 formula does, edge cases included."""
    cfg = ClassicalConfig()
    least = Foreground(cfg, torch.device("cpu"))._least(relax).numpy()
    d = np.arange(256)
    for largest in range(256):
        np.testing.assert_array_equal(d >= least[largest], (d > relax * cfg.threshold) & (d >= relax * cfg.edge * largest))


def _ground(height: int = 96, width: int = 128) -> np.ndarray:
    rng = np.random.default_rng(0)
    tint = np.array([120, 126, 112], np.float32)
    return np.clip(tint * rng.uniform(0.9, 1.1, (height, width, 1)), 0, 255).astype(np.uint8)


def test_a_change_of_light_is_no_foreground_and_an_object_is():
    """A cloud darkens one side of the frame, a shadow lies on the ground, a red object stands on it:
    only the object is foreground."""
    background = _ground()
    light = np.linspace(0.7, 1.15, background.shape[1], dtype=np.float32)[None, :, None]
    frame = background * light
    frame[40:46, 20:32] *= 0.6  # a shadow (smaller than a cell of the light field): darker, same chromaticity
    frame[20:50, 80:86] = (190, 30, 35)  # an object
    frame = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
    foreground = Foreground(ClassicalConfig(), torch.device("cpu"))
    found, _ = foreground.masks(torch.from_numpy(frame[None]), torch.from_numpy(background))
    found = found[0].numpy()
    assert found[20:50, 80:86].mean() > 0.95
    outside = np.ones_like(found)
    outside[18:52, 78:88] = False  # the object and its blurred edge
    assert found[outside].mean() < 0.01


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (CPU runs are checked above)")
def test_the_classical_backend_finds_the_same_components_on_the_gpu(tiny_root):
    from crmot.data import load_split
    from crmot.data.frames import read_frame
    from crmot.tracklets.types import VideoSource

    view = load_split(tiny_root, "train")[0].views[0]
    info = view.seqinfo
    video = VideoSource(info.seq_length, info.height, info.width, lambda f: read_frame(view, f))
    found = {}
    for device in ("cpu", "cuda"):
        detector = ClassicalDetector()
        detector.setup(torch.device(device))
        background = detector.calibrate(video).background
        blobs, _ = detector.foreground.blobs(video.spread(8), background)
        found[device] = (background, [(t, y, x, blob.tobytes()) for t, y, x, blob in blobs])
    np.testing.assert_array_equal(found["cpu"][0], found["cuda"][0])
    assert found["cpu"][1] == found["cuda"][1]


def test_components_by_label_propagation_equal_scipys():
    """The GPU path's labelling (run here on the CPU) numbers and boxes components as scipy does."""
    masks = np.random.default_rng(3).random((3, 40, 50)) < 0.45
    in_frame = np.zeros((3, 3, 3), bool)
    in_frame[1] = True
    expected, count = ndimage.label(masks, structure=in_frame)
    labels, found = pixels.label_components(torch.from_numpy(masks))
    assert found == count
    np.testing.assert_array_equal(labels.numpy(), expected)
    boxes = pixels.component_boxes(labels, found).numpy()
    assert [tuple(b) for b in boxes] == [(s[0].start, s[1].start, s[1].stop, s[2].start, s[2].stop)
                                         for s in ndimage.find_objects(expected)]


def test_blobs_are_the_same_whichever_device_labels_them(tiny_root):
    from crmot.data import load_split
    from crmot.data.frames import read_frame
    from crmot.tracklets.types import VideoSource

    view = load_split(tiny_root, "train")[0].views[0]
    info = view.seqinfo
    video = VideoSource(info.seq_length, info.height, info.width, lambda f: read_frame(view, f))
    detector = ClassicalDetector()
    background = detector.calibrate(video).background
    found = {}
    for on_device in (False, True):
        detector.foreground.label_on_device = on_device
        blobs, _ = detector.foreground.blobs(video.spread(8), background)
        found[on_device] = [(t, y, x, blob.tobytes()) for t, y, x, blob in blobs]
    assert found[True] == found[False] and len(found[True]) > 0


def test_a_shaken_camera_is_realigned_and_only_the_object_is_foreground():
    rng = np.random.default_rng(1)
    texture = rng.integers(40, 220, (96, 128, 1)).astype(np.float32)  # a wall of bricks: strong edges everywhere
    background = np.clip(np.repeat(texture, 3, axis=2) + rng.normal(0, 2, (96, 128, 3)), 0, 255).astype(np.uint8)
    frame = np.roll(background, (2, -3), axis=(0, 1)).copy()  # the camera moved 2 down, 3 left
    frame[30:60, 60:66] = (20, 200, 40)
    foreground = Foreground(ClassicalConfig(max_shift=8), torch.device("cpu"))
    shift = camera_shift(torch.from_numpy(frame[None]), torch.from_numpy(background), 8)
    assert shift.tolist() == [[2, -3]]
    found = foreground.masks(torch.from_numpy(frame[None]), torch.from_numpy(background))[0][0].numpy()
    inner = np.zeros_like(found)
    inner[8:-8, 8:-8] = True  # away from the rim the shift uncovers
    assert found[30:60, 60:66].mean() > 0.95
    outside = inner.copy()
    outside[28:62, 58:68] = False
    assert found[outside].mean() < 0.01


def test_runs_built_from_a_crop_equal_pycocotools_on_the_full_mask():
    from crmot.data import masks as rle

    rng = np.random.default_rng(5)
    for _ in range(2000):
        height, width = (int(v) for v in rng.integers(1, 40, 2))
        h, w = int(rng.integers(1, height + 1)), int(rng.integers(1, width + 1))
        top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
        crop = rng.random((h, w)) < rng.choice([0.0, 0.05, 0.5, 0.95, 1.0])
        full = np.zeros((height, width), bool)
        full[top:top + h, left:left + w] = crop
        assert rle.encode_crop(crop, top, left, height, width) == rle.encode(full)
