"""SAM3 video model (transformers' ``Sam3VideoModel``): checkpoint loading and a tiny random build.

The real model loads from a local checkpoint directory (``from_pretrained(path)``, as saved from
``facebook/sam3``); nothing is fetched from a hub. ``build_random`` makes a small randomly
initialised model and a processor with a stub tokenizer, for tests and speed benchmarks only.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch

from crmot.errors import MissingFileError

CHECKPOINT_HINT = (
    "download the SAM3 checkpoint (Hugging Face 'facebook/sam3', saved with save_pretrained) into that "
    "folder, or set model.backend.init_args.checkpoint to where it is"
)


def load(checkpoint: str | Path, device: torch.device, dtype: torch.dtype = torch.float32):
    """(model, processor) from a local checkpoint directory; a missing folder is a clear error."""
    from transformers import Sam3VideoModel, Sam3VideoProcessor

    path = Path(checkpoint)
    if not (path / "config.json").exists():
        raise MissingFileError(f"SAM3 checkpoint not found at {path} (model.backend.init_args.checkpoint): {CHECKPOINT_HINT}")
    model = Sam3VideoModel.from_pretrained(path, torch_dtype=dtype, local_files_only=True).to(device).eval()
    processor = Sam3VideoProcessor.from_pretrained(path, local_files_only=True)
    return model, processor


def build_random(image_size: int = 336, num_queries: int = 4, seed: int = 0):
    """A small random SAM3 video model (about 25 M parameters) with permissive thresholds, so that
    random weights still produce objects; for tests and benchmarks, never for pseudo labels."""
    from transformers import CLIPTokenizer, Sam3VideoConfig, Sam3VideoModel, Sam3VideoProcessor
    from transformers.models.sam2_video.video_processing_sam2_video import Sam2VideoVideoProcessor
    from transformers.models.sam3 import Sam3ImageProcessor

    config = Sam3VideoConfig().to_dict()
    small = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2,
             "image_size": image_size}
    detector, tracker = config["detector_config"], config["tracker_config"]
    detector["vision_config"]["backbone_config"].update(small)
    tracker["vision_config"]["backbone_config"].update(small)
    detector["text_config"].update(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                                   vocab_size=64)
    for part in ("detr_encoder_config", "detr_decoder_config", "geometry_encoder_config"):
        detector[part]["num_layers"] = 1
    detector["detr_decoder_config"]["num_queries"] = num_queries
    tracker["prompt_encoder_config"]["image_size"] = image_size
    tracker["image_size"] = image_size
    tracker["memory_attention_num_layers"] = 1
    torch.manual_seed(seed)
    model = Sam3VideoModel(Sam3VideoConfig(detector_config=detector, tracker_config=tracker,
                                           score_threshold_detection=0.0, new_det_thresh=0.0)).eval()
    size = {"height": image_size, "width": image_size}
    with tempfile.TemporaryDirectory(prefix="crmot-sam3-tokenizer-") as name:  # the tokenizer reads it at once
        folder = Path(name)
        (folder / "vocab.json").write_text(json.dumps({"<|startoftext|>": 0, "<|endoftext|>": 1, "person</w>": 2}))
        (folder / "merges.txt").write_text("#version: 0.2\n")
        tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    processor = Sam3VideoProcessor(image_processor=Sam3ImageProcessor(size=size),
                                   video_processor=Sam2VideoVideoProcessor(size=size), tokenizer=tokenizer)
    return model, processor
