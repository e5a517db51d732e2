"""ViewSAM's parts: the box appearance reads its own box, denoising queries stay hidden from matching."""

from __future__ import annotations

import numpy as np
import torch

from crmot.models.viewsam import ViewSAM
from crmot.models.viewsam.appearance import BoxAppearance
from crmot.models.viewsam.heads import Denoise
from crmot.training.clips import noised_boxes


def test_box_appearance_reads_only_inside_its_box():
    torch.manual_seed(0)
    pool = BoxAppearance(channels=3, dim=16)
    image = torch.rand(1, 3, 64, 64)
    box = torch.tensor([[[0.25, 0.25, 0.5, 0.75]]])  # x0, y0, x1, y1
    before = pool([image], box)
    outside = image.clone()
    outside[..., :, 40:] = 0.0  # right of the box (x1 = 32 px), with a margin for bilinear sampling
    outside[..., 52:, :] = 0.0  # below it (y1 = 48 px)
    assert torch.allclose(pool([outside], box), before)
    inside = image.clone()
    inside[..., 20:44, 18:30] = 1.0
    assert not torch.allclose(pool([inside], box), before)


def test_denoising_queries_are_hidden_from_the_matching_queries():
    torch.manual_seed(0)
    model = ViewSAM("nano", "both", "word", allow_random_init=True).train()
    images, views = torch.randn(2, 2, 3, 128, 128), torch.arange(2)
    boxes = torch.tensor([[[0.3, 0.5, 0.1, 0.3], [0.6, 0.4, 0.1, 0.2]], [[0.5, 0.5, 0.2, 0.4], [0.5, 0.5, 0.1, 0.1]]])
    padding = torch.tensor([[False, False], [False, True]])
    plain = model(images, views, ["a man in a red coat"])
    guided = model(images, views, ["a man in a red coat"], [Denoise(boxes, padding)] * 2)
    for a, b in zip(plain, guided):
        for key in ("boxes", "objectness", "refer", "identity", "masks"):
            assert torch.allclose(a[key], b[key], atol=1e-5), key
        assert b["denoise"]["boxes"].shape == (2, 2, 4) and "denoise" not in a


def test_noised_boxes_stay_near_their_labels():
    labels = np.array([[0.5, 0.5, 0.1, 0.3], [0.2, 0.8, 0.05, 0.1]])
    first, again = noised_boxes(labels, np.random.default_rng(3)), noised_boxes(labels, np.random.default_rng(3))
    assert np.array_equal(first, again)
    many = noised_boxes(np.tile(labels, (500, 1)), np.random.default_rng(0)).reshape(500, 2, 4)
    assert np.all(np.abs(many[..., :2] - labels[:, :2]) <= 0.2 * labels[:, 2:] + 1e-9)
    assert np.all((many[..., 2:] >= 0.6 * labels[:, 2:] - 1e-9) & (many[..., 2:] <= 1.4 * labels[:, 2:] + 1e-9))
    assert many[..., 0].std() > 0 and many[..., 2].std() > 0
