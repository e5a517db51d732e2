"""Counterfactual sentences: one colour word changed, labelled only against the source's referents."""

from __future__ import annotations

import numpy as np
import torch

from crmot.constants import COLOUR_WORDS
from crmot.models.viewsam.grounding import refer_loss
from crmot.training.clips import ClipDataset
from crmot.training.counterfactuals import colour_words_in, counterfactuals, swap_one_colour


def test_a_swap_changes_one_colour_word_into_one_the_sentence_does_not_name():
    rng = np.random.default_rng(0)
    sentence = "a man wearing a red and pink coat and black trousers"
    for _ in range(50):
        changed = swap_one_colour(sentence, list(COLOUR_WORDS), rng)
        before, after = sentence.split(), changed.split()
        differ = [(a, b) for a, b in zip(before, after) if a != b and {a, b} != {"a", "an"}]
        assert len(before) == len(after) and len(differ) == 1
        old, new = differ[0]
        assert old in ("red", "pink", "black") and new in COLOUR_WORDS and new not in before
    for _ in range(20):  # the article agrees with the new colour
        changed = swap_one_colour("An orange coat", ["orange", "red", "blue"], rng)
        assert changed in ("A red coat", "A blue coat")
        assert swap_one_colour("a man in a red coat", ["red", "orange"], rng) == "a man in an orange coat"
    assert swap_one_colour("a man riding a bicycle", list(COLOUR_WORDS), rng) is None
    assert swap_one_colour("a red coat", ["red"], rng) is None  # no colour left to bring in
    assert swap_one_colour("a man in a Reddish coat", list(COLOUR_WORDS), rng) is None  # whole words only


def test_only_colours_of_the_training_sentences_are_brought_in_and_known_sentences_are_not_made():
    assert colour_words_in(["a Blue coat", "red trousers and blue shoes"]) == ["blue", "red"]
    rng = np.random.default_rng(1)
    made = counterfactuals(["a blue coat", "a red coat", "a man"], [(1,), (2,), (3,)], 3, ["blue", "red"],
                           {"a blue coat", "a red coat", "a man"}, rng)
    assert made == []  # each swap gives the other sentence, whose referents are known otherwise
    made = counterfactuals(["a blue coat", "a man"], [(2, 5), (3,)], 2, ["blue", "green"], {"a blue coat"}, rng)
    assert [(c.sentence, c.denied_ids) for c in made] == [("a green coat", (2, 5))]  # "a man" names no colour


def test_a_clip_labels_a_counterfactual_only_against_its_source_referents(tiny_root):
    plain = ClipDataset(tiny_root, tiny_root, "train", frames=2, stride=100, image_size=128, expressions=3)
    dataset = ClipDataset(tiny_root, tiny_root, "train", frames=2, stride=100, image_size=128, expressions=3,
                          counterfactuals=2)
    index = len(dataset) - 1
    clip, base = dataset[(0, index)], plain[(0, index)]
    _, labels = dataset.scenes[dataset.refs[index].scene]
    by_sentence = {e.sentence: e for e in labels.expressions}
    real = [s for s in clip["sentences"] if s in by_sentence]
    made = clip["sentences"][len(real):]
    assert len(made) >= 1 and not set(made) & set(by_sentence)
    assert clip["sentences"][: len(real)] == base["sentences"]  # the expressions are the clip's own
    for sentence in made:
        assert any(_one_colour_apart(s, sentence) for s in real), sentence
    for target in clip["targets"]:
        count = len(real)
        assert target["known"][:count].all() and not target["referred"][count:].any()
        for e, sentence in enumerate(made, start=count):
            sources = [by_sentence[s].ids for s in real if _one_colour_apart(s, sentence)]
            denied = [any(int(i) in ids for ids in sources) for i in target["ids"]]
            assert target["known"][e].tolist() == denied


def _one_colour_apart(a: str, b: str) -> bool:
    """``b`` is ``a`` with one colour word changed (and its article made to agree)."""
    pairs = list(zip(a.lower().split(), b.lower().split()))
    differ = [(x, y) for x, y in pairs if x != y and {x, y} != {"a", "an"}]
    return len(a.split()) == len(b.split()) and len(differ) == 1 and set(differ[0]) <= set(COLOUR_WORDS)


def test_an_unknown_pair_adds_nothing_to_the_referring_loss():
    log_p = torch.log(torch.tensor([[0.9, 0.2], [0.3, 0.6]]))
    referred = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    known = torch.tensor([[True, True], [True, False]])
    moved = log_p.clone()
    moved[1, 1] = torch.log(torch.tensor(0.01))
    assert torch.equal(refer_loss(log_p, referred, known), refer_loss(moved, referred, known))
    assert torch.equal(refer_loss(log_p, referred, torch.ones_like(known)), refer_loss(log_p, referred))
    assert refer_loss(log_p, referred, known) < refer_loss(log_p, referred)
