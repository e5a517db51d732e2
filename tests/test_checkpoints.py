"""Checkpoints in their release formats, written by the tests with random weights, loaded through the
production paths: the loaded weights equal the saved ones, and a file that does not fit is an error
naming the path and the config key."""

from __future__ import annotations

import pytest
import torch


def test_a_sam2_release_checkpoint_loads_strictly_and_is_named_as_meta_s_weights(tmp_path):
    pytest.importorskip("sam2", reason="SAM2 needs the sam2 package (make install)")
    from crmot.models import sam2 as sam2_models

    torch.manual_seed(1)
    source = sam2_models.build_model("tiny", None, 1024)
    for p in source.parameters():  # weights the seeded random init would not give
        p.data.add_(torch.randn_like(p) * 0.01)
    path = tmp_path / "sam2.1_hiera_tiny.pt"  # Meta's file name and layout
    torch.save({"model": source.state_dict()}, path)
    resolved = sam2_models.resolve_checkpoint("tiny", str(path), False, "model.sam2_checkpoint")
    assert sam2_models.backbone_name("tiny", resolved) == "sam2.1-hiera-tiny"
    loaded = sam2_models.build_model("tiny", resolved, 1024).state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in source.state_dict().items())
    with pytest.raises(ValueError, match="does not fit this SAM2 size"):
        sam2_models.build_model("small", resolved, 1024)


def test_an_osnet_release_checkpoint_with_the_module_prefix_loads_and_a_foreign_one_is_refused(tmp_path):
    pytest.importorskip("torchreid", reason="OSNet needs torchreid (make install)")
    from torchreid.reid.models import build_model

    from crmot.models.reid import OSNetEmbedder

    torch.manual_seed(2)
    source = build_model("osnet_x0_25", num_classes=751, pretrained=False)  # a Market-1501 classifier
    path = tmp_path / "osnet_x0_25_market.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}, "epoch": 150}, path)
    embedder = OSNetEmbedder("osnet_x0_25", checkpoint=str(path))
    loaded = embedder.build().state_dict()
    kept = {k: v for k, v in source.state_dict().items() if not k.startswith("classifier.")}
    assert kept and all(torch.equal(loaded[k], v) for k, v in kept.items())
    assert embedder.name == "osnet"
    with pytest.raises(ValueError, match=r"osnet_x0_25_market.pth \(model.embedder.init_args.checkpoint\)"):
        OSNetEmbedder("osnet_x1_0", checkpoint=str(path)).build()  # another variant: shapes differ
    with pytest.raises(FileNotFoundError, match="model.embedder.init_args.checkpoint"):
        OSNetEmbedder("osnet_x0_25", checkpoint=str(tmp_path / "missing.pth"), allow_random_init=True).build()
