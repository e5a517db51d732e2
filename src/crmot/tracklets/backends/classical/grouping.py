"""People in one blob: what walks beside a person is cut off, groups are split into standing-person
rectangles sized by the perspective line, and a head above a pair of legs is joined into one person."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from scipy import ndimage

from crmot.tracklets.backends.classical.config import ClassicalConfig
from crmot.tracklets.backends.classical.perspective import Perspective

_TWO_ROWS = np.ones((2, 1), bool)  # what a split part keeps: at least two rows thick


def core(blob: np.ndarray, cfg: ClassicalConfig) -> np.ndarray:
    """Keep the columns that reach the top part of the blob: a dog beside its owner or the wheels
    of a bicycle only occupy the bottom rows."""
    top = blob[: max(1, int(round(cfg.core * blob.shape[0])))]
    return blob & top.any(axis=0)[None, :]



def split(blob: np.ndarray, top: int, perspective: Perspective | None, cfg: ClassicalConfig):
    """Parts of a blob holding several people. Yields (part, column offset, whether it is the whole blob).

    A blob no larger than one person (height from the perspective line) is kept whole; a larger
    one is explained by person rectangles (``split_templates``). Without the line, side-by-side
    people are cut at column valleys.
    """
    rows = np.flatnonzero(blob.any(axis=1))
    if not len(rows):
        return
    if perspective is None:
        for part, dx in split_columns(blob, float(rows[-1] + 1 - rows[0]), cfg):
            yield part, dx, part is blob
        return
    bottom = int(rows[-1]) + 1
    cols = np.flatnonzero(blob.any(axis=0))
    person_h = perspective.height(top + bottom)
    if person_h < cfg.min_height or (
            bottom - rows[0] <= 1.3 * person_h and cols[-1] + 1 - cols[0] <= cfg.person_aspect * person_h):
        yield blob, 0, True  # one person: keep the exact mask
        return
    for part in split_templates(blob, top, perspective, cfg):
        yield part, 0, part is blob



def split_templates(blob: np.ndarray, top: int, perspective: Perspective, cfg: ClassicalConfig,
                    first: tuple[int, int] | None = None) -> list[np.ndarray]:
    """Explain a blob by standing-person rectangles, greedily: every candidate foot point gets a
    rectangle sized by the perspective line; the next person is the rectangle best filled by the
    blob among those that still cover enough pixels no chosen person explains. Pixels go to the
    nearest (lowest-footed) rectangle holding them, so an occluded person keeps what is visible.
    ``first`` (foot row index, centre column) is a person known to stand there (re-prompting),
    added to the people the blob shows by itself; their part is the first returned."""
    height, width = blob.shape
    feet = np.arange(1, height + 1)
    tall = np.maximum(np.round(perspective.height(top + feet)), 2).astype(np.int64)
    half = np.maximum(np.round(cfg.template_width * tall / 2), 1).astype(np.int64)
    y0, y1 = np.clip(feet - tall, 0, None)[:, None], feet[:, None]
    centres = np.arange(width)[None, :]
    x0, x1 = np.clip(centres - half[:, None], 0, width), np.clip(centres + half[:, None] + 1, 0, width)
    area = (tall * (2 * half + 1)).astype(np.float64)[:, None]

    def fill(mask: np.ndarray) -> np.ndarray:
        table = np.pad(mask, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
        return (table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]) / area

    filled = fill(blob)
    explained = np.zeros_like(blob)
    chosen: list[tuple[int, int]] = []  # (foot row, centre column)
    while len(chosen) < cfg.max_group:
        gain = fill(blob & ~explained)
        score = np.where((gain >= cfg.min_gain) & (filled >= cfg.min_fill), filled + gain, -np.inf)
        foot, centre = np.unravel_index(int(np.argmax(score)), score.shape)
        if not np.isfinite(score[foot, centre]):
            break
        chosen.append((int(foot), int(centre)))
        explained[y0[foot, 0]:y1[foot, 0], x0[foot, centre]:x1[foot, centre]] |= True
    if first is not None:  # known, not seen: the others are those the blob shows without them
        foot, centre = first
        chosen = [first] + [(f, c) for f, c in chosen if abs(f - foot) > 2 or abs(c - centre) > half[foot]]
    if len(chosen) <= 1:
        return [blob]  # one person after all (a bag, an arm): keep the exact mask
    owner = np.zeros(blob.shape, np.int64)  # 1-based index into chosen, 0 = nobody
    reach = np.full(blob.shape, np.inf)
    for index, (foot, centre) in sorted(enumerate(chosen, start=1), key=lambda item: item[1][0]):
        rows = slice(y0[foot, 0], y1[foot, 0])
        wide = max(int(round(cfg.person_aspect * tall[foot])), 1)
        a, b = max(centre - wide, 0), min(centre + wide + 1, width)
        distance = np.abs(np.arange(a, b) - centre)[None, :].astype(np.float64)
        core = distance <= half[foot]
        region_owner, region_reach = owner[rows, a:b], reach[rows, a:b]
        take = core | (distance < region_reach)  # nearer people (sorted last) win their core
        region_owner[take] = index
        region_reach[take] = np.broadcast_to(np.where(core, -1.0, distance), take.shape)[take]
    # A neighbour's stray row (its foot row one off its rectangle) would stretch a part's box
    # sideways: a part keeps what is at least two rows thick.
    return [ndimage.binary_opening(blob & (owner == index), structure=_TWO_ROWS)
            for index in range(1, len(chosen) + 1)]



def split_columns(blob: np.ndarray, person_height: float, cfg: ClassicalConfig):
    """Cut a blob holding side-by-side people at the valleys of its column profile."""
    w = blob.shape[1]
    count = int(round(w / max(cfg.person_aspect * person_height, 1.0)))
    if count < 2:
        yield blob, 0
        return
    profile = blob.sum(axis=0)
    cuts = [0]
    for k in range(1, count):
        centre, reach = int(k * w / count), max(1, int(w / (2 * count)))
        lo, hi = max(centre - reach, cuts[-1] + 1), min(centre + reach, w - 1)
        cuts.append(lo + int(np.argmin(profile[lo:hi + 1])) if hi >= lo else centre)
    cuts.append(w)
    for a, b in zip(cuts[:-1], cuts[1:]):
        if b > a:
            yield blob[:, a:b], a


def join_stacked(blobs: list, perspective: Perspective, cfg: ClassicalConfig) -> list:
    """A head alone above a pair of legs, with nothing between them but the ground's colour, is one
    person in a coat the colour of the ground: each fragment is too short to be a person, together
    they are one standing there. Such a pair becomes one blob, the coat between them filled in."""
    boxes = [(t, y0, x0, y0 + b.shape[0], x0 + b.shape[1]) for t, y0, x0, b in blobs]
    in_frame: dict[int, list[int]] = defaultdict(list)
    for k, box in enumerate(boxes):
        in_frame[box[0]].append(k)
    joined: dict[int, int] = {}  # index of the legs -> index of the head
    used: set[int] = set()  # each fragment joins at most once, as legs or as a head
    for low, (t, top, left, bottom, right) in enumerate(boxes):
        tall = perspective.height(bottom)
        if (low in used or bottom - top >= cfg.min_relative_height * tall
                or right - left > cfg.person_aspect * tall * 1.5):
            continue
        heads = [(top - b[3], high) for high, b in ((k, boxes[k]) for k in in_frame[t]) if high not in used
                 and 0 <= top - b[3] <= 0.5 * tall and b[3] - b[1] <= 0.35 * tall
                 and left - 0.1 * tall <= (b[2] + b[4]) / 2 <= right + 0.1 * tall
                 and 0.75 * tall <= bottom - b[1] <= 1.2 * tall]
        if heads:
            joined[low] = min(heads)[1]
            used.update((low, joined[low]))
    out = [blob for k, blob in enumerate(blobs) if k not in used]
    for low, high in joined.items():
        (t, top, left, bottom, right), (_, head_top, head_left, head_bottom, head_right) = boxes[low], boxes[high]
        x0, x1 = min(left, head_left), max(right, head_right)
        person = np.zeros((bottom - head_top, x1 - x0), bool)
        person[head_bottom - head_top: top - head_top, left - x0: right - x0] = True  # the coat
        person[top - head_top:, left - x0: right - x0] |= blobs[low][3]
        person[: head_bottom - head_top, head_left - x0: head_right - x0] |= blobs[high][3]
        out.append((t, head_top, x0, person))
    return out
