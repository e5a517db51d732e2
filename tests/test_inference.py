"""Stage 4 fusion: per-view tracking, cross-view identities from identity embeddings, pooled referring."""

from __future__ import annotations

import numpy as np

from crmot.data import masks as rle
from crmot.inference.candidates import ViewCandidates
from crmot.inference.fusion import FusionConfig, fuse, track_view

SIZE = (64, 48)


def _view(objects: list[tuple[np.ndarray, np.ndarray, float]], frames: int = 6) -> ViewCandidates:
    """Candidates of one view: per object (start box xywh, identity vector, refer probability), moving right."""
    out = ViewCandidates()
    for f in range(1, frames + 1):
        for box, identity, refer in objects:
            out.frames.append(f)
            out.boxes.append(box + np.array([f, 0, 0, 0], float))
            out.objectness.append(0.9)
            out.refer.append(refer)
            out.identity.append(identity / np.linalg.norm(identity))
            out.masks.append(rle.encode(np.ones((8, 8), bool)))
    return out


A, B = np.array([1.0, 0.0, 0.1]), np.array([0.0, 1.0, 0.1])


def test_one_object_seen_in_two_views_gets_one_id_and_the_unreferred_one_is_left_out():
    views = {1: _view([(np.array([5, 5, 10, 20.0]), A, 0.9), (np.array([30, 5, 10, 20.0]), B, 0.1)]),
             2: _view([(np.array([20, 8, 12, 24.0]), A, 0.8), (np.array([2, 8, 12, 24.0]), B, 0.2)])}
    answers = fuse(views, {1: SIZE, 2: SIZE}, FusionConfig())
    for k in (1, 2):
        tracks = answers[k].tracks
        assert len(tracks) == 6 and set(tracks.ids.tolist()) == {1}
        assert len(answers[k].masks) == 6 and rle.decode(answers[k].masks[0]).shape == SIZE[::-1]
    assert np.allclose(answers[1].tracks.boxes[0], [6, 5, 10, 20])  # A's rows in view 1, not B's


def test_two_objects_of_one_view_at_one_instant_never_share_an_identity():
    views = {1: _view([(np.array([5, 5, 10, 20.0]), A, 0.9), (np.array([40, 5, 10, 20.0]), A, 0.9)])}
    answers = fuse(views, {1: SIZE}, FusionConfig())
    tracks = answers[1].tracks
    assert len(tracks) == 12 and len(set(tracks.ids.tolist())) == 2
    assert all(len(np.unique(tracks.ids[tracks.frames == f])) == 2 for f in range(1, 7))


def test_referring_evidence_is_pooled_over_views():
    """0.9 in one view and 0.3 in the other pool to 0.6: the object is answered in both views."""
    views = {1: _view([(np.array([5, 5, 10, 20.0]), A, 0.9)]), 2: _view([(np.array([20, 8, 12, 24.0]), A, 0.3)])}
    answers = fuse(views, {1: SIZE, 2: SIZE}, FusionConfig())
    assert len(answers[1].tracks) == len(answers[2].tracks) == 6
    assert np.allclose(answers[2].tracks.scores, 0.6)
    lonely = fuse({2: views[2]}, {2: SIZE}, FusionConfig(at_least_one=False))
    assert len(lonely[2].tracks) == 0  # on its own, view 2's evidence is too weak


def test_when_nothing_clears_the_threshold_the_most_referred_identity_answers():
    views = {1: _view([(np.array([5, 5, 10, 20.0]), A, 0.3), (np.array([30, 5, 10, 20.0]), B, 0.1)])}
    answers = fuse(views, {1: SIZE}, FusionConfig())
    assert len(answers[1].tracks) == 6 and np.allclose(answers[1].tracks.scores, 0.3)


def test_no_candidates_give_empty_answers_in_every_view():
    answers = fuse({1: ViewCandidates(), 2: ViewCandidates()}, {1: SIZE, 2: SIZE}, FusionConfig())
    assert all(len(a.tracks) == 0 and a.masks == [] for a in answers.values())


def test_view_tracks_follow_the_identity_embeddings_where_motion_alone_swaps_two_objects():
    """Two objects meet, pause side by side and walk back (the tracker test's case), with ViewSAM's
    identity embeddings as their appearance."""
    xs = [(0, 30), (4, 26), (8, 22), (12, 18), (14, 16), (14, 16), (14, 16), (12, 18), (8, 22), (4, 26), (0, 30)]
    frames = np.repeat(np.arange(1, len(xs) + 1), 2)
    boxes = np.array([[x, 0, 10, 30] for pair in xs for x in pair], float)
    identity = np.tile(np.stack([A, B]) / np.linalg.norm(A), (len(xs), 1)).astype(np.float32)
    tracklets = track_view({"frames": frames, "boxes": boxes, "identity": identity}, FusionConfig())
    assert len(tracklets) == 2
    assert sorted((rows % 2).tolist() for rows in tracklets) == [[0] * len(xs), [1] * len(xs)]
