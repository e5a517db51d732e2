"""ViewSAM's parts: the box appearance reads its own box, prompts do not leak into each other, the
expression-free part does not depend on the expressions, the view conditions what is seen, and the
referring head is a noisy AND over words."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crmot.data.white_balance import view_gain
from crmot.inference.candidates import read_frames
from crmot.models.viewsam import ViewSAM, normalised_prompts
from crmot.models.viewsam.appearance import BoxAppearance
from crmot.models.viewsam.attention import attention_kernels
from crmot.models.viewsam.grounding import Grounding
from crmot.models.viewsam.inputs import PIXEL_MEAN, PIXEL_STD, model_input
from crmot.training.clips import NEGATIVE_IOU, box_iou, jittered_boxes, negative_boxes

SENTENCES = ["a man in a red coat", "the woman with a blue hat and black trousers", "a person carrying a bag"]


@pytest.fixture(scope="module")
def model() -> ViewSAM:
    torch.manual_seed(0)
    return ViewSAM("nano", "both", "word", allow_random_init=True).eval()


def _frames(b: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    return torch.rand(b, 3, 256, 256) * 2 - 1, torch.arange(b)


def test_two_cameras_with_different_casts_give_the_model_the_same_colours():
    """A scene of grey pavement with one red coat, filmed by two cameras of opposite casts: once each
    view's white balance is applied, the model's inputs agree (a colour word means one colour in both)."""
    scene = np.full((48, 64, 3), 120.0)
    scene[10:30, 20:28] = (170, 30, 30)
    scene += np.random.default_rng(0).normal(0, 2, scene.shape)
    inputs = []
    for cast in ((1.15, 1.0, 0.85), (0.85, 1.0, 1.15)):
        frame = np.clip(scene * cast, 0, 255).astype(np.uint8)
        pixels = model_input(frame, 32, view_gain(frame[None])) * PIXEL_STD + PIXEL_MEAN
        inputs.append(pixels.numpy())
        raw = model_input(frame, 32) * PIXEL_STD + PIXEL_MEAN
    assert np.abs(inputs[0] - inputs[1]).max() < 0.03
    assert np.abs(raw.numpy() - inputs[1]).max() > 0.1  # the casts differ far more than that


def test_box_appearance_reads_only_inside_its_box():
    torch.manual_seed(0)
    pool = BoxAppearance(feature_channels=3, dim=16)
    image = torch.rand(1, 3, 64, 64)
    masks = torch.ones(1, 1, 64, 64)
    box = torch.tensor([[[0.25, 0.25, 0.5, 0.75]]])  # x0, y0, x1, y1
    before = pool(image, image, masks, box)
    outside = image.clone()
    outside[..., :, 40:] = 0.0  # right of the box (x1 = 32 px), with a margin for bilinear sampling
    outside[..., 52:, :] = 0.0  # below it (y1 = 48 px)
    assert torch.allclose(pool(outside, outside, masks, box), before)
    inside = image.clone()
    inside[..., 20:44, 18:30] = 1.0
    assert not torch.allclose(pool(inside, inside, masks, box), before)


def test_a_prompt_is_answered_alike_alone_or_among_padding_and_expressions_do_not_change_it(model):
    images, views = _frames()
    box = torch.tensor([[0.2, 0.3, 0.35, 0.8]])
    other = torch.tensor([[0.6, 0.2, 0.7, 0.6], [0.1, 0.1, 0.2, 0.4]])
    with torch.no_grad():
        alone = model(images, views, normalised_prompts([box, other]), SENTENCES[:1])
        padded = model(images, views, normalised_prompts([box, torch.cat([other, other])]), SENTENCES)
    for key in ("objectness", "identity", "masks"):
        assert torch.allclose(alone[key][0, :1], padded[key][0, :1], atol=1e-5), key
    assert torch.allclose(alone["refer"][0, 0, 0], padded["refer"][0, 0, 0], atol=1e-5)
    assert padded["refer"].shape == (2, len(SENTENCES), 4)
    assert torch.all(padded["refer"] < 0) and torch.allclose(padded["identity"].norm(dim=-1), torch.ones(2, 4))
    assert torch.all(padded["masks"][0, 1:] == padded["masks"].new_tensor(-20.0))  # padding: no mask decoded


def test_the_same_frame_seen_from_another_camera_is_read_differently(model):
    images, _ = _frames(1)
    prompts = normalised_prompts([torch.tensor([[0.2, 0.3, 0.35, 0.8]])])
    with torch.no_grad():
        torch.nn.init.normal_(model.condition.camera.weight)  # cameras apart, as training leaves them
        first = model(images, torch.tensor([0]), prompts, SENTENCES)
        second = model(images, torch.tensor([3]), prompts, SENTENCES)
    assert not torch.allclose(first["identity"], second["identity"], atol=1e-4)
    blind = ViewSAM("nano", "none", "word", allow_random_init=True).eval()
    with torch.no_grad():
        a = blind(images, torch.tensor([0]), prompts, SENTENCES)
        b = blind(images, torch.tensor([3]), prompts, SENTENCES)
    assert torch.allclose(a["identity"], b["identity"]) and torch.allclose(a["refer"], b["refer"])


def test_only_the_added_modules_train():
    model = ViewSAM("nano", "both", "word", allow_random_init=True)
    assert not any(p.requires_grad for p in model.sam.parameters())
    table = model.parameter_table()
    assert table["trainable"] > 0 and table["sam2"] == sum(p.numel() for p in model.sam.parameters())
    model.train()
    assert not model.sam.training and model.decoder.training


def test_grounding_is_a_noisy_and_one_disagreeing_word_sinks_the_match():
    torch.manual_seed(0)
    head = Grounding(dim=8, cells=4)
    parts = torch.randn(1, 1, 4, 8)
    words = torch.randn(1, 1, 3, 8)
    mask = torch.ones(1, 3, dtype=torch.bool)
    full = head(parts, words, mask)
    fewer = head(parts, words, torch.tensor([[True, True, False]]))
    assert torch.all(full <= fewer)  # every word can only lower the probability
    with torch.no_grad():
        head.gate.bias.fill_(-30.0)  # weightless words say nothing: p -> 1
    assert torch.allclose(head(parts, words, mask).exp(), torch.ones(1, 1, 1), atol=1e-4)


def test_jittered_prompts_stay_near_their_labels_and_negatives_away_from_them():
    labels = np.array([[0.45, 0.35, 0.55, 0.65], [0.175, 0.75, 0.225, 0.85]])
    first, again = jittered_boxes(labels, np.random.default_rng(3)), jittered_boxes(labels, np.random.default_rng(3))
    assert np.array_equal(first, again)
    many = jittered_boxes(np.tile(labels, (500, 1)), np.random.default_rng(0))
    assert np.diag(box_iou(many, np.tile(labels, (500, 1)))).min() > 0.5
    assert many.std(0).min() > 0
    negatives = negative_boxes(labels, 40, np.random.default_rng(0))
    assert len(negatives) > 10 and box_iou(negatives, labels).max() <= NEGATIVE_IOU
    assert np.all((negatives >= 0) & (negatives <= 1))


def test_the_flipped_reading_is_the_same_for_a_frame_and_its_mirror_image(model):
    """With ``flip``, each box's reading averages the frame and its mirror image, so a mirrored frame
    (boxes mirrored too) reads the same; without it the two differ (the model is not symmetric)."""
    images, views = _frames()
    boxes = [torch.tensor([[0.2, 0.3, 0.35, 0.8], [0.6, 0.2, 0.7, 0.6]]), torch.tensor([[0.1, 0.1, 0.2, 0.4]])]
    mirrored = [torch.stack([1 - b[:, 2], b[:, 1], 1 - b[:, 0], b[:, 3]], 1) for b in boxes]
    texts = [model.encode_text(SENTENCES)]
    with torch.no_grad():
        shot = read_frames(model, images, views, boxes, texts, flip=True)
        mirror = read_frames(model, images.flip(-1), views, mirrored, texts, flip=True)
        plain = read_frames(model, images, views, boxes, texts, flip=False)
        plain_mirror = read_frames(model, images.flip(-1), views, mirrored, texts, flip=False)
    for key in ("objectness", "identity", "refer"):
        assert torch.allclose(shot[key], mirror[key], atol=1e-4), key
    for key in ("objectness", "refer"):
        assert torch.allclose(shot[key], (plain[key] + plain_mirror[key]) / 2, atol=1e-5), key
    assert not torch.allclose(plain["refer"], plain_mirror["refer"], atol=1e-4)
    assert torch.allclose(shot["identity"].norm(dim=-1), torch.ones(2, 2))
    assert torch.allclose(shot["masks"], plain["masks"], atol=1e-4)  # masks from the frame as shot


def test_on_a_gpu_attention_avoids_cudnn_s_per_shape_plans_and_on_cpu_nothing_changes():
    before = torch.backends.cuda.cudnn_sdp_enabled()
    with attention_kernels(torch.device("cuda")):  # sets flags only: no GPU needed
        assert not torch.backends.cuda.cudnn_sdp_enabled()
        assert torch.backends.cuda.flash_sdp_enabled() and torch.backends.cuda.mem_efficient_sdp_enabled()
    assert torch.backends.cuda.cudnn_sdp_enabled() == before
    with attention_kernels(torch.device("cpu")):
        assert torch.backends.cuda.cudnn_sdp_enabled() == before
