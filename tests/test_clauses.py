"""A trailing clause narrows a sentence: what stage 4 asks ViewSAM for each expression."""

from __future__ import annotations

import pytest

from crmot.inference.clauses import Questions, clause_free, questions


@pytest.mark.parametrize("sentence, core", [
    ("A man wearing a yellow coat and black trousers, carrying a white plastic bag",
     "A man wearing a yellow coat and black trousers"),
    ("A man in a blue helmet, white coat, blue trousers and red shoes, riding a bicycle",
     "A man in a blue helmet, white coat, blue trousers and red shoes"),
    ("a woman in a red coat, walking a dog.", "a woman in a red coat"),
    ("The man in grey, With a backpack", "The man in grey"),
    ("A man in a black cap, yellow coat, pink trousers and green shoes", None),  # a list of garments
    ("A man carrying a bag", None),  # no comma: nothing to split
    # a noun ending in -ing reads as a clause; what is left is still implied by the sentence
    ("A man in a red coat, sling bag", "A man in a red coat"),
    (", carrying a bag", None),  # nothing left without the clause
])
def test_the_clause_free_sentence(sentence, core):
    assert clause_free(sentence) == core


def test_each_clause_free_sentence_is_asked_once_and_an_expression_that_is_one_is_reused():
    sentences = ["A man in red, carrying a bag", "A man in red", "A man in blue, riding a bicycle",
                 "A man in blue, holding a dog", "A man in green"]
    asked = questions(sentences)
    assert asked.sentences == [*sentences, "A man in blue"]
    assert asked.narrowed == [(0, 1), (2, 5), (3, 5)]
    assert questions(["A man in green"]) == Questions(["A man in green"], [])
