"""The one place for constants shared by stages, metrics and the dataset layer."""

from __future__ import annotations

from pathlib import Path

#: Folder holding the YAML configs shipped with the package (``conf/`` at the repo top links here).
CONF_DIR = Path(__file__).resolve().parent / "conf"

#: CRTrack splits.
SPLITS = ("train", "test")

#: Views are folders ``<Scene>_View<K>``, ordered by K.
VIEW_PREFIX = "View"

#: Separator between an expression's name and its ids in ``tackled_text`` (the LAST one counts).
EXPRESSION_ID_SEPARATOR = ".:"

#: Scoring protocols: ``crtrack`` reproduces the official tool, ``strict`` keeps full precision.
PROTOCOLS = ("crtrack", "strict")

#: IoU a predicted box needs with a ground-truth box to count as a match (CLEAR MOT and IDF1).
IOU_THRESHOLD = 0.5

#: The only object category of CRTrack; stage 1 prompts foundation models with it.
CATEGORY = "person"

#: Columns written after the box in ground-truth rows (conf, class, visibility), as CRTrack does.
GT_TAIL = (1, 1, 1)

#: Columns written after the score in prediction rows, as the official tool expects.
PRED_TAIL = (-1, -1, -1)

#: Colour words of CRTrack expressions (the vocabulary of expressions, parsers and namers).
COLOUR_WORDS = ("black", "blue", "gray", "white", "red", "yellow", "green", "pink", "purple", "orange")

#: Synthetic worlds (the demo preset drawn with these seeds) on which every setting is chosen: the
#: validation worlds. No figure reported anywhere comes from them.
VALIDATION_SEEDS = (0, 1, 2, 3, 4)
#: Worlds that only report (the benchmark of record); the demo world is the first of them.
REPORT_SEEDS = (100, 101, 102, 103, 104)
DEMO_SEED = REPORT_SEEDS[0]
