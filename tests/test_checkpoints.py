"""Checkpoints in their release formats, written by the tests with random weights, loaded through the
production paths: the loaded weights equal the saved ones, and a file that does not fit is an error
naming the path and the config key."""

from __future__ import annotations

import pytest
import torch


@pytest.mark.parametrize("size", ["tiny", "small", "base_plus", pytest.param("large", marks=pytest.mark.slow)])
def test_a_sam2_release_checkpoint_loads_strictly_and_is_named_as_meta_s_weights(tmp_path, size):
    pytest.importorskip("sam2", reason="SAM2 needs the sam2 package (make install)")
    from crmot.models import sam2 as sam2_models

    torch.manual_seed(1)
    source = sam2_models.build_model(size, None, 1024)
    for p in source.parameters():  # weights the seeded random init would not give
        p.data.add_(torch.randn_like(p) * 0.01)
    path = tmp_path / f"sam2.1_hiera_{size}.pt"  # Meta's file name and layout
    torch.save({"model": source.state_dict()}, path)
    resolved = sam2_models.resolve_checkpoint(size, str(path), False, "model.sam2_checkpoint")
    assert sam2_models.backbone_name(size, resolved) == f"sam2.1-hiera-{size}"
    loaded = sam2_models.build_model(size, resolved, 1024).state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in source.state_dict().items())
    other = "small" if size == "tiny" else "tiny"
    with pytest.raises(ValueError, match="does not fit this SAM2 size"):
        sam2_models.build_model(other, resolved, 1024)


def test_a_sam3_folder_saved_by_save_pretrained_loads_offline(tmp_path):
    pytest.importorskip("transformers", reason="SAM3 needs transformers (make install)")
    from crmot.models import sam3 as sam3_models
    from crmot.tracklets.backends.sam3 import SAM3Backend

    source, processor = sam3_models.build_random(image_size=112, seed=3)
    folder = tmp_path / "sam3"
    source.save_pretrained(folder)
    processor.save_pretrained(folder)
    backend = SAM3Backend(checkpoint=str(folder))
    backend.setup(torch.device("cpu"))
    loaded = backend.model.state_dict()
    assert backend.name == "sam3"
    assert all(torch.equal(loaded[k], v) for k, v in source.state_dict().items())
    with pytest.raises(FileNotFoundError, match=r"sam3-missing \(model.backend.init_args.checkpoint\)"):
        SAM3Backend(checkpoint=str(tmp_path / "sam3-missing")).setup(torch.device("cpu"))


def test_an_open_clip_checkpoint_loads_into_the_clip_embedder(tmp_path):
    open_clip = pytest.importorskip("open_clip", reason="CLIP needs open_clip (make install)")
    from crmot.models.reid import CLIPEmbedder

    torch.manual_seed(4)
    source = open_clip.create_model("ViT-S-32")
    path = tmp_path / "open_clip_vit_s_32.bin"  # open_clip's release files are plain state dicts
    torch.save(source.state_dict(), path)
    embedder = CLIPEmbedder("ViT-S-32", checkpoint=str(path))
    loaded = embedder.build().state_dict()
    assert embedder.name == "clip"
    assert all(torch.equal(loaded[k], v) for k, v in source.state_dict().items())
    with pytest.raises(FileNotFoundError, match="model.embedder.init_args.checkpoint"):
        CLIPEmbedder("ViT-S-32", checkpoint=str(tmp_path / "missing.bin"), allow_random_init=True).build()


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


def _tiny_vlm_folder(folder) -> dict:
    """A random LLaVA (CLIP vision tower, Llama text model) with a word-level tokenizer and a chat
    template, saved as a transformers image-text-to-text folder; returns the model's state dict."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )

    from crmot.constants import COLOUR_WORDS

    words = ["<unk>", "<pad>", "<s>", "</s>", "<image>", "USER:", "ASSISTANT:", "a", "man", "wearing", "and",
             "coat", "trousers", "shoes", "cap", *COLOUR_WORDS]
    vocab = {w: i for i, w in enumerate(words)}
    model = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    model.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=model, unk_token="<unk>", pad_token="<pad>", bos_token="<s>",
                                        eos_token="</s>", additional_special_tokens=["<image>"])
    template = ("{% for m in messages %}USER: {% for c in m['content'] %}{% if c['type'] == 'image' %}<image> "
                "{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endfor %}"
                "{% if add_generation_prompt %} ASSISTANT:{% endif %}")
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                              image_size=32, patch_size=8, projection_dim=32)
    text = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                       num_key_value_heads=2, vocab_size=len(words), max_position_embeddings=256, pad_token_id=1,
                       bos_token_id=2, eos_token_id=3)
    torch.manual_seed(5)
    vlm = LlavaForConditionalGeneration(LlavaConfig(vision_config=vision, text_config=text,
                                                    image_token_index=vocab["<image>"]))
    processor = LlavaProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 32},
                                                                  crop_size={"height": 32, "width": 32}),
                               tokenizer=tokenizer, chat_template=template, patch_size=8,
                               vision_feature_select_strategy="default", image_token="<image>",
                               num_additional_image_tokens=1)
    vlm.save_pretrained(folder)
    processor.save_pretrained(folder)
    return vlm.state_dict()


def test_a_local_vlm_folder_describes_a_crop_and_its_words_reach_the_expression_builder(tmp_path):
    pytest.importorskip("transformers", reason="the VLM describer needs transformers (make install)")
    import numpy as np

    from crmot.association import attributes as attrs
    from crmot.association.describe import Description, VLMDescriber
    from crmot.association.labels import pseudo_expressions
    from crmot.crops import Crop

    folder = tmp_path / "vlm"
    saved = _tiny_vlm_folder(folder)
    describer = VLMDescriber(str(folder), max_new_tokens=6)
    describer.setup("cpu")
    loaded = describer.model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in saved.items())
    image = np.zeros((60, 24, 3), np.float32)
    image[:] = (200, 30, 35)
    generated = describer.describe([Crop(0, 1, image, np.ones((60, 24), bool), 1.0)])
    vocabulary = set(describer.processor.tokenizer.get_vocab())
    assert generated.sentence and set(generated.sentence.split()) <= vocabulary  # words the model generated
    answer = "A man wearing a red coat and black trousers"  # what a trained VLM answers, parsed the same way
    red = Description(answer, attrs.parse(answer).colours, {})
    expressions = {e.sentence: set(e.ids) for e in pseudo_expressions("S", {1: red, 2: generated})}
    assert 1 in expressions["A man wearing a red coat"]
    assert all(ids <= {1, 2} for ids in expressions.values())
    with pytest.raises(FileNotFoundError, match="model.describer.init_args.checkpoint"):
        VLMDescriber(str(tmp_path / "missing")).setup("cpu")
