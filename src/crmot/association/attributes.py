"""What a sentence says about a person, as attribute constraints; and sentences from attributes.

CRTrack sentences name colours of garments ("A man in a black cap, purple coat, black trousers and
blue shoes, carrying a white plastic bag"). The parser reads any such sentence, ours or a user's,
into ``{attribute: colours}``; synonyms map paraphrases onto CRTrack's words ("jacket" -> coat,
"pants" -> trousers, "grey" -> gray), so "a man in a red jacket" constrains the coat like "red coat".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from crmot.association.colour import COLOUR_NAMES

#: Garment words -> the attribute (body part) they describe.
GARMENTS = {
    "coat": "coat", "jacket": "coat", "top": "coat", "shirt": "coat", "t-shirt": "coat", "tshirt": "coat",
    "sweater": "coat", "hoodie": "coat", "jumper": "coat", "clothes": "coat", "dress": "coat",
    "trousers": "trousers", "pants": "trousers", "jeans": "trousers", "shorts": "trousers", "skirt": "trousers",
    "shoes": "shoes", "sneakers": "shoes", "boots": "shoes", "trainers": "shoes",
    "cap": "headwear", "hat": "headwear", "helmet": "headwear",
    "bag": "carried", "schoolbag": "carried", "backpack": "carried", "handbag": "carried", "suitcase": "carried",
}
#: Colour words outside CRTrack's ten names.
COLOUR_SYNONYMS = {"grey": "gray", "violet": "purple", "navy": "blue", "dark": "black", "beige": "white",
                   "golden": "yellow", "silver": "gray", "crimson": "red", "maroon": "red"}
#: Things the weight-free describer cannot see reliably: constraints on them are not scored.
UNOBSERVED = ("carried",)
#: The attributes a description names colours for: coat, trousers, shoes, headwear.
OBSERVED = tuple(a for a in dict.fromkeys(GARMENTS.values()) if a not in UNOBSERVED)

_TOKEN = re.compile(r"[a-z]+(?:-[a-z]+)?")


@dataclass(frozen=True)
class Constraints:
    """Attribute -> set of colour names a sentence requires (e.g. coat -> {red, black})."""

    colours: dict[str, frozenset[str]] = field(default_factory=dict)

    def fits(self, named: dict[str, frozenset[str]]) -> bool:
        """True when every constrained, observable attribute has exactly these colours in ``named``."""
        return all(named.get(k) == v for k, v in self.colours.items() if k not in UNOBSERVED)


def parse(sentence: str) -> Constraints:
    """Colours preceding each garment word are that garment's colours."""
    colours: dict[str, frozenset[str]] = {}
    pending: list[str] = []
    for token in _TOKEN.findall(sentence.lower()):
        token = COLOUR_SYNONYMS.get(token, token)
        if token in COLOUR_NAMES:
            pending.append(token)
        elif token in GARMENTS:
            if pending:
                colours.setdefault(GARMENTS[token], frozenset(pending))
            pending = []
        elif token not in ("and", "a", "an", "with", "in", "plastic"):
            pending = []
    return Constraints(colours)


def coat_words(colours: tuple[str, ...]) -> str:
    return " and ".join(colours)


def sentence(coat: tuple[str, ...], trousers: str | None, shoes: str | None = None,
             headwear: str | None = None) -> str:
    """A CRTrack-style sentence ("A man wearing a red coat and black trousers")."""
    if headwear and trousers and shoes:
        return f"A man in a {headwear} cap, {coat_words(coat)} coat, {trousers} trousers and {shoes} shoes"
    if trousers and coat:
        return f"A man wearing a {coat_words(coat)} coat and {trousers} trousers"
    if coat:
        return f"A man wearing a {coat_words(coat)} coat"
    if trousers:
        return f"A man wearing {trousers} trousers"
    return "A man"  # nothing seen well enough to name


def phrases(coat: tuple[str, ...], trousers: str, shoes: str | None, headwear: str | None) -> list[str]:
    """The full description and its compositional sub-phrases, most specific first."""
    out = [sentence(coat, trousers, shoes, headwear), sentence(coat, trousers),
           sentence(coat, None), sentence((), trousers)]
    return list(dict.fromkeys(out))
