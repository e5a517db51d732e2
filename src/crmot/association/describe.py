"""Describers: an identity's crops -> a CRTrack-style description and its colour attributes.

``AttributeDescriber`` (weight-free) names the dominant colour of head, coat, trousers and shoes
from view-normalised pixels (a coat whose halves differ clearly is two-coloured; a head whose top
is not skin-like wears headwear). ``VLMDescriber`` asks a local vision-language model (transformers,
from a checkpoint directory; never random weights) and reads the attributes back from its answer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from crmot.association import attributes as attrs
from crmot.association.colour import COLOUR_NAMES, garment_names, name_probabilities, skin_like, srgb_to_lab, surface_lab
from crmot.crops import PARTS, Crop
from crmot.errors import MissingFileError

#: A second coat colour is named when each half of the coat is dominated by a different colour.
TWO_COLOUR_SHARE = 0.45
#: Headwear: the crown of the head differs from the face by this much (Lab distance) and is not
#: skin-like, in at least ``HEADWEAR_SHARE`` of the (weighted) crops.
HEADWEAR_CONTRAST = 18.0
HEADWEAR_SHARE = 0.5


@dataclass
class Description:
    sentence: str
    named: dict[str, frozenset[str]]  # attribute -> colour names (what the sentence says)
    probabilities: dict[str, np.ndarray] = field(default_factory=dict)  # attribute -> (10,) colour memberships

    @property
    def phrases(self) -> list[str]:
        coat = tuple(sorted(self.named.get("coat", ())))
        trousers = next(iter(self.named.get("trousers", ())), None)
        shoes = next(iter(self.named.get("shoes", ())), None)
        headwear = next(iter(self.named.get("headwear", ())), None)
        if not coat and not trousers:
            return [self.sentence]
        return attrs.phrases(coat, trousers, shoes, headwear) if trousers else [attrs.sentence(coat, None)]


class Describer(ABC):
    name: str

    @abstractmethod
    def describe(self, crops: list[Crop]) -> Description:
        """One description from all crops of one identity (all views)."""

    def setup(self, device) -> None:
        """Load weights onto ``device``."""

    def info(self) -> dict:
        return {"name": self.name}


def _weighted_mean(vectors: list[np.ndarray], weights: list[float]) -> np.ndarray:
    w = np.asarray(weights, np.float64)
    return (np.stack(vectors) * w[:, None]).sum(0) / max(w.sum(), 1e-9)


class AttributeDescriber(Describer):
    name = "attributes"

    def describe(self, crops: list[Crop]) -> Description:
        if not crops:
            return Description(attrs.sentence((), None), {})
        probabilities, named = {}, {}
        for part in ("coat", "trousers", "shoes"):
            found = [(garment_names(px), c.weight) for c in crops
                     if len(px := c.part_pixels(part))]
            if found:
                probabilities[part] = _weighted_mean(*zip(*found))
                named[part] = frozenset([COLOUR_NAMES[int(np.argmax(probabilities[part]))]])
        if second := self._second_coat_colour(crops, named.get("coat")):
            named["coat"] = named["coat"] | {second}
        if headwear := self._headwear(crops):
            probabilities["headwear"], colour = headwear
            named["headwear"] = frozenset([colour])
        coat = tuple(sorted(named.get("coat", ())))
        trousers = next(iter(named.get("trousers", ())), None)
        text = attrs.sentence(coat, trousers, next(iter(named.get("shoes", ())), None),
                              next(iter(named.get("headwear", ())), None))
        if "headwear" not in named:
            named.pop("shoes", None)  # CRTrack names shoes only in the long form with headwear
        return Description(text, named, probabilities)

    @staticmethod
    def _second_coat_colour(crops: list[Crop], coat: frozenset[str] | None) -> str | None:
        if not coat:
            return None
        halves = []
        for side in ("left", "right"):
            found = [(garment_names(px), c.weight) for c in crops
                     if len(px := c.part_pixels("coat", side))]
            if not found:
                return None
            halves.append(_weighted_mean(*zip(*found)))
        names = [COLOUR_NAMES[int(np.argmax(h))] for h in halves]
        shares = [h.max() for h in halves]
        if names[0] != names[1] and min(shares) >= TWO_COLOUR_SHARE:
            return next(n for n in names if n not in coat) if any(n not in coat for n in names) else None
        return None

    @staticmethod
    def _headwear(crops: list[Crop]) -> tuple[np.ndarray, str] | None:
        """Colour of what covers the top of the head, when it is not skin and differs from the face."""
        top, bottom = PARTS["head"]
        votes, weights, covered = [], [], []
        for c in crops:
            h = c.mask.shape[0]
            y_top, y_face, y_end = (int(round((top + f * (bottom - top)) * h)) for f in (0.0, 0.45, 1.0))
            crown = c.image[y_top:max(y_face, y_top + 1)][c.mask[y_top:max(y_face, y_top + 1)]]
            face = c.image[y_face:max(y_end, y_face + 1)][c.mask[y_face:max(y_end, y_face + 1)]]
            if len(crown) < 4 or len(face) < 4:
                continue
            crown_lab, face_lab = srgb_to_lab(crown), srgb_to_lab(face)
            contrast = np.linalg.norm(crown_lab.mean(0) - face_lab.mean(0))
            covered.append(float(contrast >= HEADWEAR_CONTRAST and skin_like(crown_lab).mean() < 0.5))
            weights.append(c.weight)
            votes.append(name_probabilities(surface_lab(crown_lab)).mean(0))
        if not votes or np.average(covered, weights=weights) < HEADWEAR_SHARE:
            return None
        p = _weighted_mean(votes, weights)
        return p, COLOUR_NAMES[int(np.argmax(p))]


class VLMDescriber(Describer):
    """A local vision-language model (transformers ``AutoModelForImageTextToText``) describes the
    best crop; attributes are parsed back from its answer so pseudo expressions map to identities."""

    name = "vlm"
    PROMPT = ("Describe the person in one sentence in the style 'A man wearing a <colour> coat and <colour> "
              "trousers', naming colours of headwear, coat, trousers and shoes.")

    def __init__(self, checkpoint: str = "checkpoints/vlm", max_new_tokens: int = 40) -> None:
        self.checkpoint = checkpoint
        self.max_new_tokens = max_new_tokens
        self.model = self.processor = None
        self.device = "cpu"

    def setup(self, device) -> None:
        if not Path(self.checkpoint).is_dir():
            raise MissingFileError(f"vision-language checkpoint directory {self.checkpoint!r} not found "
                                   "(config key model.describer.init_args.checkpoint); the vlm describer never "
                                   "runs on random weights: save a transformers image-text-to-text model there")
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.device = device
        self.processor = AutoProcessor.from_pretrained(self.checkpoint)
        self.model = AutoModelForImageTextToText.from_pretrained(self.checkpoint).eval().to(device)

    def describe(self, crops: list[Crop]) -> Description:
        import torch
        from PIL import Image

        if self.model is None:
            self.setup(self.device)
        best = max(crops, key=lambda c: c.weight * c.mask.sum())
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": self.PROMPT}]}]
        prompt = self.processor.apply_chat_template(messages, add_generation_prompt=True)
        inputs = self.processor(images=Image.fromarray(best.image.astype(np.uint8)), text=prompt,
                                return_tensors="pt").to(self.device)
        with torch.inference_mode():
            generated = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        text = self.processor.batch_decode(generated[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)[0]
        text = text.strip().split("\n")[0].rstrip(".").replace(".:", ":").replace("/", " ")
        named = attrs.parse(text).colours
        probabilities = {k: np.isin(COLOUR_NAMES, sorted(v)).astype(np.float64) / len(v) for k, v in named.items()}
        return Description(text, named, probabilities)

    def info(self) -> dict:
        return {"name": self.name, "checkpoint": self.checkpoint}
