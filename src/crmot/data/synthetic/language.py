"""CRTrack-style sentences from attributes, and the ids each sentence truly refers to.

Real CRTrack test expressions always read "A man ..."; "wearing a <c> coat and <c> trousers" or
"in a <c> cap|helmet, <c> coat, <c> trousers and <c> shoes", then optionally ", carrying a <c>
bag|schoolbag|plastic bag", ", holding a dog" or ", riding a bicycle". Each sentence here is built
from a partial attribute specification, and refers to every person whose attributes match it.
"""

from __future__ import annotations

import numpy as np

from crmot.data.crtrack import Expression
from crmot.data.synthetic.people import Person

Spec = tuple[tuple[str, object], ...]  # sorted (attribute, value) pairs


def _coat(colours: tuple[str, ...]) -> str:
    return " and ".join(colours)


def _suffix(person: Person) -> str:
    if person.companion == "bicycle":
        return ", riding a bicycle"
    if person.companion == "dog":
        return ", holding a dog"
    if person.carried:
        return f", carrying a {person.carried_colour} {person.carried}"
    return ""


def describe(person: Person) -> str:
    """The full description of one person (``gt_train`` line and the most specific expression)."""
    return sentence(full_spec(person))


def full_spec(person: Person) -> Spec:
    spec = {"coat": person.coat, "trousers": person.trousers}
    if _suffix(person):
        spec["extra"] = _suffix(person)
    if person.headwear:
        spec.update(headwear=(person.headwear_colour, person.headwear), shoes=person.shoes)
    return tuple(sorted(spec.items()))


def candidate_specs(person: Person) -> list[Spec]:
    """From specific to general: full description, clothes + carried object, clothes only."""
    clothes = {"coat": person.coat, "trousers": person.trousers}
    specs = [full_spec(person), tuple(sorted(clothes.items()))]
    if _suffix(person):
        specs.append(tuple(sorted({**clothes, "extra": _suffix(person)}.items())))
    return list(dict.fromkeys(specs))


def sentence(spec: Spec) -> str:
    s = dict(spec)
    if "headwear" in s:
        colour, kind = s["headwear"]
        text = f"A man in a {colour} {kind}, {_coat(s['coat'])} coat, {s['trousers']} trousers and {s['shoes']} shoes"
    else:
        text = f"A man wearing a {_coat(s['coat'])} coat and {s['trousers']} trousers"
    return text + s.get("extra", "")


def fits(spec: Spec, person: Person) -> bool:
    attributes = dict(full_spec(person))
    return all(attributes.get(key) == value for key, value in spec)


def scene_expressions(scene: str, people: list[Person], limit: int, rng: np.random.Generator) -> list[Expression]:
    """Up to ``limit`` distinct expressions, each mapped to every person it fits (never to none)."""
    # One spec per sentence: the sentence is what a model sees, so it alone decides the referents.
    by_sentence = {sentence(spec): spec for person in people for spec in candidate_specs(person)}
    specs = list(by_sentence.values())
    chosen = [specs[i] for i in sorted(rng.permutation(len(specs))[:limit])]
    expressions = []
    for spec in chosen:
        ids = tuple(p.pid for p in people if fits(spec, p))
        expressions.append(Expression(scene=scene, sentence=sentence(spec), ids=ids))
    return expressions
