"""Which identities a referring expression means, from their descriptions (training-free CRMOT).

Score = ``attribute_weight`` x attribute agreement + the rest x sentence similarity. Attribute
agreement is the weakest constrained attribute's colour membership (a red-coat expression against
an identity whose coat is 80% red scores 0.8; one wrong garment sinks it). Sentence similarity is the
cosine of MiniLM embeddings, so paraphrases still score where the parser knows no word.
"""

from __future__ import annotations

import numpy as np

from crmot.association import attributes as attrs
from crmot.association.colour import COLOUR_NAMES
from crmot.association.describe import Description
from crmot.models.text import SentenceEncoder


class ExpressionMatcher:
    def __init__(self, encoder: SentenceEncoder | None = None, attribute_weight: float = 0.7,
                 threshold: float = 0.5) -> None:
        self.encoder = encoder
        self.attribute_weight = attribute_weight if encoder is not None else 1.0
        self.threshold = threshold

    def info(self) -> dict:
        return {"text": "minilm" if self.encoder is not None else None,
                "attribute_weight": self.attribute_weight, "threshold": self.threshold}

    def scores(self, expression: str, descriptions: dict[int, Description]) -> dict[int, float]:
        ids = sorted(descriptions)
        if not ids:
            return {}
        constraints = attrs.parse(expression)
        agreement = np.array([attribute_agreement(constraints, descriptions[i]) for i in ids])
        score = self.attribute_weight * agreement
        if self.encoder is not None:
            vectors = self.encoder.encode([expression] + [descriptions[i].sentence for i in ids]).cpu().numpy()
            score = score + (1 - self.attribute_weight) * np.clip(vectors[1:] @ vectors[0], 0.0, 1.0)
        return dict(zip(ids, score.tolist()))

    def select(self, expression: str, descriptions: dict[int, Description]) -> list[int]:
        """Identities whose score clears the threshold; the best one if none does (an expression
        of the benchmark always refers to someone)."""
        scores = self.scores(expression, descriptions)
        chosen = [i for i, s in scores.items() if s >= self.threshold]
        return chosen or ([max(scores, key=scores.get)] if scores else [])


def attribute_agreement(constraints: attrs.Constraints, description: Description) -> float:
    """Min over observable constrained attributes of the identity's membership in the named colours."""
    values = []
    for attribute, colours in constraints.colours.items():
        if attribute in attrs.UNOBSERVED:
            continue
        p = description.probabilities.get(attribute)
        if p is None:
            values.append(0.0)
            continue
        values.append(float(sum(p[COLOUR_NAMES.index(c)] for c in colours) / max(p.sum(), 1e-9)))
    return min(values) if values else 0.5
