"""Cross-view identities by constrained average-linkage clustering.

Clusters start as single tracklets and the pair with the highest mean affinity (over the tracklet
pairs that have evidence) merges while it clears ``threshold``. A merge is refused when any pair
across the two clusters is forbidden, so an identity never holds two tracklets of one view at the
same instant. The number of identities is not given: it is where merging stops.
"""

from __future__ import annotations

import numpy as np

from crmot.association.affinity import Affinity


def cluster(affinity: Affinity, threshold: float, initial: np.ndarray | None = None) -> np.ndarray:
    """(N,) identity label per tracklet, labels 0..M-1 in order of first tracklet.

    ``initial`` labels (e.g. identities grown by re-prompting) are merged first, then merging goes on.
    """
    n = len(affinity.score)
    if n == 0:
        return np.zeros(0, np.int64)
    weight = affinity.known.astype(np.float64)
    total = np.where(affinity.known, affinity.score, 0.0)
    forbidden = affinity.forbidden.copy()
    np.fill_diagonal(forbidden, True)
    active = np.ones(n, bool)
    label = np.arange(n)

    def merge(i: int, j: int) -> None:
        total[i] += total[j]
        total[:, i] += total[:, j]
        weight[i] += weight[j]
        weight[:, i] += weight[:, j]
        forbidden[i] |= forbidden[j]
        forbidden[:, i] |= forbidden[:, j]
        active[j] = False
        label[label == j] = i

    if initial is not None:
        for group in _groups(initial):
            for j in group[1:]:
                merge(int(group[0]), int(j))
    while True:
        with np.errstate(invalid="ignore", divide="ignore"):
            linkage = np.where((weight > 0) & ~forbidden, total / weight, -np.inf)
        linkage[~active, :] = -np.inf
        linkage[:, ~active] = -np.inf
        flat = int(np.argmax(linkage))
        i, j = divmod(flat, n)
        if not np.isfinite(linkage[i, j]) or linkage[i, j] < threshold:
            break
        merge(min(i, j), max(i, j))
    _, dense = np.unique(label, return_inverse=True)
    return dense


def violations(labels: np.ndarray, forbidden: np.ndarray) -> int:
    """Forbidden pairs inside one identity (0 for any output of :func:`cluster`)."""
    same = labels[:, None] == labels[None, :]
    np.fill_diagonal(same, False)
    return int((same & forbidden).sum() // 2)


def _groups(labels: np.ndarray) -> list[np.ndarray]:
    order = np.argsort(labels, kind="stable")
    cuts = np.flatnonzero(np.diff(labels[order])) + 1
    return np.split(order, cuts)
