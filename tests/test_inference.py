"""Stage 4 fusion: ViewSAM's reading of stage-1 tracklets -> cross-view identities -> answers."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from crmot.data import masks as rle
from crmot.data.tracks import Tracks
from crmot.inference.candidates import ViewRows
from crmot.inference.fusion import FusionConfig, answer, answer_scene, identities

SIZE = (64, 48)
A, B, C = np.eye(3)[0], np.eye(3)[1], np.eye(3)[2]
NO_GEOMETRY = FusionConfig(geometry_weight=0.0)


def _view(tracklets: list[dict], frames: int = 6) -> ViewRows:
    """One view's stage-1 rows: per tracklet a start box (xywh), an identity vector, referring
    probabilities (one per expression), optionally an objectness, its frame range and its motion
    (pixels per frame)."""
    columns: dict[str, list] = {"frames": [], "ids": [], "boxes": [], "objectness": [], "identity": [], "refer": []}
    for tid, t in enumerate(tracklets, start=1):
        for f in t.get("frames", range(1, frames + 1)):
            columns["frames"].append(f)
            columns["ids"].append(tid)
            columns["boxes"].append(np.asarray(t["box"], float) + [*(f * np.asarray(t.get("step", (1, 0)))), 0, 0])
            columns["objectness"].append(t.get("objectness", 0.9))
            identity = np.pad(t["identity"], (0, 128 - len(t["identity"])))
            columns["identity"].append(identity / np.linalg.norm(identity))
            columns["refer"].append(t["refer"])
    n = len(columns["frames"])
    tracks = Tracks(np.array(columns["frames"], np.int64), np.array(columns["ids"], np.int64),
                    np.array(columns["boxes"]).reshape(n, 4))
    masks = [rle.encode(np.ones((8, 8), bool))] * n
    return ViewRows(tracks, np.array(columns["objectness"]), np.array(columns["identity"], np.float32).reshape(n, 128),
                    np.array(columns["refer"], float).reshape(n, -1), masks)


def _answer(views: dict[int, ViewRows], config: FusionConfig, expression: int = 0):
    objects = identities(views, config)
    return objects, answer(views, objects, expression, {k: SIZE for k in views}, config)


def test_one_object_seen_in_two_views_gets_one_id_and_the_unreferred_one_is_left_out():
    views = {1: _view([{"box": [5, 5, 10, 20], "identity": A, "refer": [0.9]},
                       {"box": [30, 5, 10, 20], "identity": B, "refer": [0.1]}]),
             2: _view([{"box": [2, 8, 12, 24], "identity": B, "refer": [0.2]},
                       {"box": [20, 8, 12, 24], "identity": A, "refer": [0.8]}])}
    objects, answers = _answer(views, NO_GEOMETRY)
    assert len(objects) == 2 and all(sorted(o.rows) == [1, 2] for o in objects)
    for k in (1, 2):
        tracks = answers[k].tracks
        assert len(tracks) == 6 and set(tracks.ids.tolist()) == {1}
        assert len(answers[k].masks) == 6 and rle.decode(answers[k].masks[0]).shape == SIZE[::-1]
    assert np.allclose(answers[1].tracks.boxes[0], [6, 5, 10, 20])  # A's rows in view 1, not B's
    assert np.allclose(answers[2].tracks.boxes[0], [21, 8, 12, 24])


def test_two_tracklets_of_one_view_at_one_instant_never_share_an_identity():
    views = {1: _view([{"box": [5, 5, 10, 20], "identity": A, "refer": [0.9]},
                       {"box": [40, 5, 10, 20], "identity": A, "refer": [0.9]}])}
    objects, answers = _answer(views, NO_GEOMETRY)
    assert len(objects) == 2
    tracks = answers[1].tracks
    assert len(tracks) == 12 and len(set(tracks.ids.tolist())) == 2
    assert all(len(np.unique(tracks.ids[tracks.frames == f])) == 2 for f in range(1, 7))


def test_tracklets_of_one_object_split_in_time_join_one_identity():
    """A tracker hand-over: one person, two tracklets one after the other, alike in ViewSAM's eyes."""
    views = {1: _view([{"box": [5, 5, 10, 20], "identity": A, "refer": [0.9], "frames": range(1, 4)},
                       {"box": [5, 5, 10, 20], "identity": A, "refer": [0.9], "frames": range(4, 7)},
                       {"box": [40, 5, 10, 20], "identity": B, "refer": [0.1]}])}
    objects, answers = _answer(views, NO_GEOMETRY)
    assert len(objects) == 2
    assert len(answers[1].tracks) == 6 and set(answers[1].tracks.ids.tolist()) == {1}


def test_referring_evidence_is_pooled_over_views():
    """0.9 in one view and 0.3 in the other pool to 0.6, over the threshold: the object is answered in
    both views."""
    one = {"box": [5, 5, 10, 20], "identity": A, "refer": [0.9]}
    other = {"box": [20, 8, 12, 24], "identity": A, "refer": [0.3]}
    config = FusionConfig(geometry_weight=0.0, at_least_one=False, refer_threshold=0.5)
    _, answers = _answer({1: _view([one]), 2: _view([other])}, config)
    assert len(answers[1].tracks) == len(answers[2].tracks) == 6
    assert np.allclose(answers[2].tracks.scores, 0.6)
    _, lonely = _answer({2: _view([other])}, config)
    assert len(lonely[2].tracks) == 0  # on its own, view 2's evidence is too weak


def test_when_nothing_clears_the_threshold_the_most_referred_identity_answers():
    views = {1: _view([{"box": [5, 5, 10, 20], "identity": A, "refer": [0.3]},
                       {"box": [30, 5, 10, 20], "identity": B, "refer": [0.1]}])}
    _, answers = _answer(views, NO_GEOMETRY)
    assert len(answers[1].tracks) == 6 and np.allclose(answers[1].tracks.scores, 0.3)


def test_identities_close_to_the_best_answer_with_it():
    views = {1: _view([{"box": [5, 5, 10, 20], "identity": A, "refer": [0.40]},
                       {"box": [30, 5, 10, 20], "identity": B, "refer": [0.36]},
                       {"box": [50, 5, 10, 20], "identity": C, "refer": [0.10]}])}
    _, answers = _answer(views, FusionConfig(geometry_weight=0.0, relative_threshold=0.85))
    assert sorted(set(answers[1].tracks.ids.tolist())) == [1, 2] and len(answers[1].tracks) == 12
    _, best_only = _answer(views, FusionConfig(geometry_weight=0.0, relative_threshold=1.0))
    assert len(best_only[1].tracks) == 6


def test_every_expression_sees_the_same_identities():
    views = {1: _view([{"box": [5, 5, 10, 20], "identity": A, "refer": [0.9, 0.1]},
                       {"box": [30, 5, 10, 20], "identity": B, "refer": [0.1, 0.9]}])}
    objects = identities(views, NO_GEOMETRY)
    first = answer(views, objects, 0, {1: SIZE}, NO_GEOMETRY)[1].tracks
    second = answer(views, objects, 1, {1: SIZE}, NO_GEOMETRY)[1].tracks
    assert np.allclose(first.boxes[0], [6, 5, 10, 20]) and np.allclose(second.boxes[0], [31, 5, 10, 20])


def test_tracklets_viewsam_does_not_take_for_objects_are_dropped():
    views = {1: _view([{"box": [5, 5, 10, 20], "identity": A, "refer": [0.9], "objectness": 0.1},
                       {"box": [30, 5, 10, 20], "identity": B, "refer": [0.2]}])}
    objects, answers = _answer(views, NO_GEOMETRY)
    assert len(objects) == 1
    assert np.allclose(answers[1].tracks.boxes[0], [31, 5, 10, 20])


def test_no_rows_give_no_identities_and_empty_answers_in_every_view():
    empty = ViewRows(Tracks.empty(), np.zeros(0), np.zeros((0, 128), np.float32), np.zeros((0, 1)), [])
    views = {1: empty, 2: empty}
    objects, answers = _answer(views, FusionConfig())
    assert objects == [] and all(len(a.tracks) == 0 and a.masks == [] for a in answers.values())


def test_geometry_tells_apart_two_people_dressed_alike():
    """Two views of one scene, two people alike in ViewSAM's eyes who arrive and leave together:
    only where they stand tells them apart. Six other people (distinct) anchor the view-to-view
    mapping, which the fusion fits itself from its first clustering."""
    rng = np.random.default_rng(0)
    ground = rng.uniform(0, 400, (8, 2))
    steps = rng.uniform(-4, 4, (8, 2))
    shift = np.array([37.0, -12.0])  # view 2 sees the ground moved (a homography: a translation)
    looks = np.eye(8)
    looks[1] = looks[0]  # people 0 and 1 look alike
    refer = [[0.9]] + [[0.1]] * 7

    def seen(offset, order):
        return _view([{"box": [*(ground[i] + offset - [5, 40]), 10, 40], "identity": looks[i], "refer": refer[i],
                       "step": steps[i]} for i in order], frames=20)

    # listed in another order in view 2, so that looks alone pair person 0 with person 1
    views = {1: seen(np.zeros(2), range(8)), 2: seen(shift, [1, 0, *range(2, 8)])}
    config = FusionConfig(time_weight=0.0, identity_threshold=0.6)
    objects, answers = _answer(views, config)
    assert len(objects) == 8 and all(sorted(o.rows) == [1, 2] for o in objects)
    referred = answers[2].tracks
    assert set(referred.ids.tolist()) == {1}
    assert np.allclose(referred.boxes[0, :2], ground[0] + shift - [5, 40] + steps[0])
    _, looks_only = _answer(views, FusionConfig(time_weight=0.0, geometry_weight=0.0, identity_threshold=0.6))
    assert not np.allclose(looks_only[2].tracks.boxes[0, :2], ground[0] + shift - [5, 40] + steps[0])


def test_a_clause_narrows_a_sentence_box_by_box_or_identity_by_identity():
    """Columns: "X, carrying Y", then "X". Read whole, the clause carries the answer to B, whom "X"
    describes less well than A. Box by box, B keeps only its probability for "X"; by identity, the
    answer is chosen among those who answer "X" (A alone), at A's smaller probability."""
    def answered(rows: list[list[float]], clauses: str) -> list[float]:
        views = {1: _view([{"box": [5 + 25 * i, 5, 10, 20], "identity": np.eye(3)[i], "refer": r} for i, r in enumerate(rows)])}
        config = replace(NO_GEOMETRY, clauses=clauses)
        tracks = answer(views, identities(views, config), 0, {1: SIZE}, config, within=1)[1].tracks
        return sorted({float(x) for x in tracks.boxes[:, 0] - tracks.frames})  # where each answered tracklet starts

    loose = [[0.30, 0.90], [0.50, 0.20], [0.10, 0.80]]
    assert answered(loose, "whole") == [30] and answered(loose, "box") == [5] and answered(loose, "identity") == [5]
    ranked = [[0.30, 0.90], [0.50, 0.55], [0.10, 0.20]]  # B fits "X" too, less well
    assert answered(ranked, "box") == [30] and answered(ranked, "identity") == [5]


def _scene(sentences: list[str]) -> SimpleNamespace:
    """What answer_scene reads of a one-view scene: its name, expressions and frame size."""
    return SimpleNamespace(split="test", name="Yard", views=[SimpleNamespace(index=1, seqinfo=SimpleNamespace(
        width=SIZE[0], height=SIZE[1]))], expressions=[SimpleNamespace(sentence=s, name=f"Yard_{s}") for s in sentences])


def test_a_scene_is_answered_with_the_clause_free_sentences_it_was_read_with():
    scene = _scene(["A man in red, carrying a bag", "A man in blue"])  # read: these two, then "A man in red"
    views = {1: _view([{"box": [5, 5, 10, 20], "identity": A, "refer": [0.30, 0.1, 0.90]},
                       {"box": [30, 5, 10, 20], "identity": B, "refer": [0.50, 0.9, 0.20]}])}
    answers = answer_scene(views, scene, NO_GEOMETRY)
    assert np.allclose(answers["Yard_A man in red, carrying a bag"][1].tracks.boxes[0], [6, 5, 10, 20])
    assert np.allclose(answers["Yard_A man in blue"][1].tracks.boxes[0], [31, 5, 10, 20])
    whole = answer_scene(views, scene, replace(NO_GEOMETRY, clauses="whole"))
    assert np.allclose(whole["Yard_A man in red, carrying a bag"][1].tracks.boxes[0], [31, 5, 10, 20])
    expressions_only = {1: replace(views[1], refer=views[1].refer[:, :2])}
    with pytest.raises(ValueError, match="test/Yard: ViewSAM read \\[2\\] sentences per box; stage 4 needs 3"):
        answer_scene(expressions_only, scene, NO_GEOMETRY)
