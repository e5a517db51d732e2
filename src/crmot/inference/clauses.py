"""A trailing clause narrows a sentence, it never widens it.

Whoever "a man wearing a yellow coat and black trousers, carrying a white plastic bag" means, "a man
wearing a yellow coat and black trousers" means too. A model that reads the whole sentence may still
let the clause carry its answer to someone else: the clause's words change how the garment words are
read in context, and a small carried thing is hard to see, so the clause adds little evidence of its
own. Stage 4 therefore asks ViewSAM both sentences, and a box must fit both: it keeps the smaller
of its two probabilities (``FusionConfig.clauses``, :mod:`crmot.inference.fusion`). Both answers are
the model's own; the split is a rule of English syntax, not a parse of attributes (no colour or
garment is read here).

A clause is the sentence's last comma-separated part when it opens with a participle or "with"
(", carrying ...", ", riding ...", ", with ..."). A comma-separated list of garments ("a cap, a
yellow coat and pink trousers") is left whole: its last part opens with no such word. A garment
that ends in -ing (", sling bag") is taken for a clause, which is harmless: what the sentence says
before a comma it still says with what follows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crmot.data.crtrack import Scene

#: ", <participle or 'with'> ..." closing a sentence, with no comma after it.
CLAUSE = re.compile(r",\s+(?:\w{2,}ing|with)\b[^,]*$", re.IGNORECASE)


def clause_free(sentence: str) -> str | None:
    """The sentence without its trailing clause, or None when it has none."""
    match = CLAUSE.search(sentence.rstrip(" ."))
    core = sentence[: match.start()].strip() if match else ""
    return core or None


@dataclass(frozen=True)
class Questions:
    """What ViewSAM is asked for a scene's expressions: the expressions themselves, then each
    clause-free sentence that is not already one of them; ``narrowed`` pairs an expression's index
    with its clause-free sentence's."""

    sentences: list[str]
    narrowed: list[tuple[int, int]]


def questions(expressions: list[str]) -> Questions:
    """The sentences to read for a scene whose expressions are ``expressions`` (in that order first)."""
    asked = list(expressions)
    index = {s: i for i, s in reversed(list(enumerate(expressions)))}
    narrowed = []
    for i, sentence in enumerate(expressions):
        core = clause_free(sentence)
        if core is None:
            continue
        if core not in index:
            index[core] = len(asked)
            asked.append(core)
        narrowed.append((i, index[core]))
    return Questions(asked, narrowed)


def scene_questions(scene: Scene) -> Questions:
    """What stage 4 asks ViewSAM for ``scene``: its expressions, then their clause-free sentences."""
    return questions([e.sentence for e in scene.expressions])
