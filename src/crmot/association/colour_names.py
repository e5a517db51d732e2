"""Reference shades for each colour word, from the XKCD colour-naming survey.

The survey (public domain) asked a large online audience to name colours; its 954 most common names
with their centroid RGB are widely republished (matplotlib ships them as ``xkcd:`` colours). Each
CRTrack colour word is mapped onto the survey names that an annotator would call by that word, so a
word covers dark, light and muted shades of itself. Nothing here is taken from crmot's synthetic
renderer.
"""

from __future__ import annotations

from crmot.constants import COLOUR_WORDS

#: CRTrack colour word -> {survey name: hex RGB centroid}.
SURVEY_SHADES: dict[str, dict[str, str]] = {
    "black": {"black": "#000000", "charcoal": "#343837"},
    "blue": {"blue": "#0343df", "navy blue": "#001146", "royal blue": "#0504aa", "light blue": "#95d0fc",
             "denim blue": "#3b5b92", "cobalt": "#1e488f"},
    "gray": {"grey": "#929591", "silver": "#c5c9c7", "medium grey": "#7d7f7c"},
    "white": {"white": "#ffffff", "off white": "#ffffe4", "eggshell": "#ffffd4"},
    "red": {"red": "#e50000", "dark red": "#840000", "scarlet": "#be0119", "brick red": "#8f1402",
            "tomato red": "#ec2d01"},
    "yellow": {"yellow": "#ffff14", "mustard": "#ceb301", "golden yellow": "#fec615", "sunflower": "#ffc512"},
    "green": {"green": "#15b01a", "dark green": "#033500", "forest green": "#06470c", "kelly green": "#02ab2e",
              "light green": "#96f97b", "olive green": "#677a04"},
    "pink": {"pink": "#ff81c0", "light pink": "#ffd1df", "hot pink": "#ff028d", "rose": "#cf6275",
             "baby pink": "#ffb7ce"},
    "purple": {"purple": "#7e1e9c", "violet": "#9a0eea", "lavender": "#c79fef", "dark purple": "#35063e",
               "plum": "#580f41"},
    "orange": {"orange": "#f97306", "burnt orange": "#c04e01", "light orange": "#fdaa48", "tangerine": "#ff9408",
               "pumpkin": "#e17701"},
}
assert tuple(SURVEY_SHADES) == COLOUR_WORDS


def reference_shades() -> tuple[list[tuple[int, int, int]], list[int]]:
    """Every reference shade as RGB, and the index into ``COLOUR_WORDS`` of the word it belongs to."""
    rgb, word_index = [], []
    for index, shades in enumerate(SURVEY_SHADES.values()):
        for value in shades.values():
            rgb.append(tuple(int(value[i:i + 2], 16) for i in (1, 3, 5)))
            word_index.append(index)
    return rgb, word_index
