"""Counterfactual sentences: a training expression with one colour word changed, which its own
referents do not answer.

A clip teaches a word only against the people who happen to be in view, so a person one garment away
from a sentence ("a black coat and gray trousers" for someone in a black coat and blue trousers) is
rarely seen as a negative, and the referring head learns to answer such people too: the student's
surplus false positives are of that kind (docs/viewsam.md). Changing one colour word of a sentence
gives that negative for free: whoever the sentence refers to now wears a garment of another colour
than the new sentence says. Nothing is known about the other people in view (one of them may wear
exactly that), so only the sentence's own referents are labelled, as not referred. Where a pseudo
label picked the wrong person, the changed sentence is still false of them, unless the change names
the very garment and colour in which they differ from the sentence (of a two-garment sentence's
changes, about one in sixteen).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from crmot.constants import COLOUR_WORDS

_COLOUR = re.compile(r"\b(" + "|".join(COLOUR_WORDS) + r")\b", re.IGNORECASE)
_ARTICLE = re.compile(r"\b(an?) $", re.IGNORECASE)  # the article right before a colour word


@dataclass(frozen=True)
class Counterfactual:
    sentence: str
    denied_ids: tuple[int, ...]  # the referents of the sentence it was made from: they do not fit it


def colour_words_in(sentences: list[str]) -> list[str]:
    """The colour words used by ``sentences``, in ``COLOUR_WORDS`` order: the only ones a swap may
    bring in, since a word no training sentence has is masked out of the referring head's AND and
    the changed sentence would read as the original."""
    used = {m.group(0).lower() for s in sentences for m in _COLOUR.finditer(s)}
    return [c for c in COLOUR_WORDS if c in used]


def swap_one_colour(sentence: str, colours: list[str], rng: np.random.Generator) -> str | None:
    """``sentence`` with one of its colour words (drawn at random) replaced by a colour it does not
    name at all (so "a red and pink coat" never becomes "a red and red coat"); None when it names no
    colour or every colour of ``colours``."""
    found = list(_COLOUR.finditer(sentence))
    if not found:
        return None
    present = {m.group(0).lower() for m in found}
    choices = [c for c in colours if c not in present]
    if not choices:
        return None
    target = found[int(rng.integers(len(found)))]
    new = choices[int(rng.integers(len(choices)))]
    before = _ARTICLE.sub(lambda m: _article(m.group(1), new) + " ", sentence[: target.start()])
    return before + new + sentence[target.end():]


def _article(old: str, word: str) -> str:
    """``old`` ("a" / "an", any case) as the word before ``word`` needs it."""
    new = "an" if word[0] in "aeiou" else "a"
    return new.capitalize() if old[0].isupper() else new


def counterfactuals(sentences: list[str], ids: list[tuple[int, ...]], count: int, colours: list[str],
                    taken: set[str], rng: np.random.Generator) -> list[Counterfactual]:
    """Up to ``count`` counterfactuals of the clip's expressions (``sentences`` with their referents
    ``ids``), each from another expression; a changed sentence that is one of the scene's own
    expressions (``taken``) is dropped, as its referents are known otherwise."""
    out = []
    for e in rng.permutation(len(sentences))[:count].tolist():
        if not ids[e]:
            continue
        changed = swap_one_colour(sentences[e], colours, rng)
        if changed is not None and changed not in taken:
            out.append(Counterfactual(changed, tuple(ids[e])))
    return out
