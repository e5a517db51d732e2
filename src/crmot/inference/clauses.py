"""A trailing clause narrows a sentence, it never widens it.

Whoever "a man wearing a yellow coat and black trousers, carrying a white plastic bag" means, "a man
wearing a yellow coat and black trousers" means too. A model that reads the whole sentence may still
let the clause pull its answer towards someone else: the clause's words change how the garment words
are read in context, and a small carried thing is hard to see, so the clause adds little evidence of
its own. Stage 4 therefore asks ViewSAM both sentences and takes, for every box, the smaller of the
two probabilities: a box must fit the sentence and the sentence without its clause. Both answers are
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

import numpy as np

#: ", <participle or 'with'> ..." closing a sentence, with no comma after it.
CLAUSE = re.compile(r",\s+(?:\w{2,}ing|with)\b[^,]*$", re.IGNORECASE)


def clause_free(sentence: str) -> str | None:
    """The sentence without its trailing clause, or None when it has none."""
    match = CLAUSE.search(sentence.rstrip(" ."))
    core = sentence[: match.start()].strip() if match else ""
    return core or None


@dataclass(frozen=True)
class Questions:
    """What ViewSAM is asked for a scene's expressions: the expressions themselves, then each clause-free
    sentence that is not already one of them; ``narrowed`` pairs an expression's column with its
    clause-free sentence's column."""

    sentences: list[str]
    expressions: int  # the first columns are the expressions
    narrowed: list[tuple[int, int]]


def questions(sentences: list[str], clauses: bool = True) -> Questions:
    """The sentences to ask for ``sentences`` (with ``clauses`` False: the expressions alone)."""
    asked = list(sentences)
    column = {s: i for i, s in reversed(list(enumerate(sentences)))}
    narrowed = []
    for i, sentence in enumerate(sentences if clauses else ()):
        core = clause_free(sentence)
        if core is None:
            continue
        if core not in column:
            column[core] = len(asked)
            asked.append(core)
        narrowed.append((i, column[core]))
    return Questions(asked, len(sentences), narrowed)


def answer_columns(refer: np.ndarray, asked: Questions) -> np.ndarray:
    """(R, expressions) referring probabilities from the (R, asked) ones: an expression with a clause
    keeps, per row, the smaller of its own and its clause-free sentence's."""
    out = refer[:, : asked.expressions].copy()
    for expression, core in asked.narrowed:
        out[:, expression] = np.minimum(out[:, expression], refer[:, core])
    return out
