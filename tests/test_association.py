"""Stage 2 parts: constrained clustering, re-prompting, language, matcher, geometry, embedders."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from crmot.association import attributes as attrs
from crmot.association.affinity import Affinity
from crmot.association.appearance import ColourEmbedder
from crmot.association.clustering import cluster, violations
from crmot.association.colour import COLOUR_NAMES, garment_names, name_probabilities, srgb_to_lab
from crmot.association.colour_names import reference_shades
from crmot.association.config import AssociationConfig
from crmot.association.context import SceneContext, tracklet_prototypes
from crmot.association.describe import AttributeDescriber, Description
from crmot.association.geometry import apply_homography, fit_homography
from crmot.association.labels import colour_agreement, pseudo_expressions
from crmot.association.matcher import ExpressionMatcher
from crmot.association.records import Tracklet
from crmot.association.reprompt import Holder, _bridge_gaps, _give_up_pixels, _tracklet_from_rows
from crmot.association.scene import associate_scene
from crmot.crops import Crop
from crmot.data import masks as rle
from crmot.data.boxes import iou_matrix
from crmot.data.crtrack import CRTrackFormatError, load_split
from crmot.data.synthetic import generate
from crmot.data.synthetic.config import WorldConfig
from crmot.data.synthetic.palette import ANCHORS
from crmot.metrics.clear import match_boxes
from crmot.tracklets.backends.classical import ClassicalBackend
from crmot.tracklets.types import Tracklets


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Three calibrated views, 30 frames: big enough for people to be seen in several views."""
    root = tmp_path_factory.mktemp("assoc") / "root"
    config = WorldConfig(train_scenes=1, test_scenes=0, views=(3, 3), frames=30, people=(4, 4),
                         image_size=(256, 160), expressions_per_scene=4, occluders=0)
    generate(root, config, seed=5, workers=1)
    return load_split(root, "train")[0]


def gt_as_stage1(scene) -> dict[int, Tracklets]:
    """The world's own boxes and masks as perfect per-view tracklets."""
    return {v.index: Tracklets(v.gt, rle.read_jsonl(v.masks_path, len(v.gt))) for v in scene.views}


# --------------------------------------------------------------------------- clustering
@pytest.mark.parametrize("seed", range(6))
def test_clustering_never_puts_two_overlapping_tracklets_of_one_view_together(seed):
    rng = np.random.default_rng(seed)
    n = 40
    score = rng.uniform(0.3, 1.0, (n, n))
    score = (score + score.T) / 2
    forbidden = rng.random((n, n)) < 0.15
    forbidden = forbidden | forbidden.T
    np.fill_diagonal(forbidden, False)
    labels = cluster(Affinity(score, np.ones((n, n), bool), forbidden), threshold=0.5)
    assert violations(labels, forbidden) == 0
    assert len(np.unique(labels)) < n  # it did merge
    grown = cluster(Affinity(score, np.ones((n, n), bool), forbidden), threshold=0.5, initial=labels)
    assert violations(grown, forbidden) == 0


def test_pipeline_identities_respect_views_and_find_the_people(world):
    result = associate_scene(world, gt_as_stage1(world), ColourEmbedder(), None, AttributeDescriber(),
                             AssociationConfig(reprompt_rounds=0))
    for label in np.unique(result.labels):
        members = [t for t, lab in zip(result.tracklets, result.labels) if lab == label]
        for a in members:
            for b in members:
                if a is not b and a.view == b.view:
                    assert len(np.intersect1d(a.frames, b.frames)) <= 1
    # perfect tracklets: every identity should be one person
    owners = {}
    for t, label in zip(result.tracklets, result.labels.tolist()):
        owners.setdefault(label, set()).add(t.tid)
    pure = sum(len(v) == 1 for v in owners.values()) / len(owners)
    assert pure >= 0.75, owners


# --------------------------------------------------------------------------- re-prompting
def test_reprompting_recovers_a_view_where_stage1_missed_a_person(world):
    stage1 = gt_as_stage1(world)
    counts = {(v, pid): int((stage1[v].tracks.ids == pid).sum()) for v in stage1 for pid in np.unique(stage1[v].tracks.ids)}
    # the person seen longest in every view; stage 1 "misses" them in the last view
    target_view = max(stage1)
    pid = max((p for (v, p) in counts if v == target_view and all((k, p) in counts for k in stage1)),
              key=lambda p: counts[(target_view, p)])
    t = stage1[target_view]
    keep = np.flatnonzero(t.tracks.ids != pid)
    missing = t.tracks.select(t.tracks.ids == pid)
    stage1[target_view] = Tracklets(t.tracks.select(keep), [t.masks[i] for i in keep])

    def recovered(rounds: int) -> int:
        result = associate_scene(world, stage1, ColourEmbedder(), ClassicalBackend(), AttributeDescriber(),
                                 AssociationConfig(reprompt_rounds=rounds))
        others = [lab for tr, lab in zip(result.tracklets, result.labels) if tr.tid == pid and tr.view != target_view]
        found = [tr for tr, lab in zip(result.tracklets, result.labels)
                 if tr.view == target_view and tr.source == "reprompt" and lab in others]
        if not found:
            return 0
        from crmot.data.tracks import Tracks
        rows = Tracks(np.concatenate([f.frames for f in found]), np.ones(sum(len(f) for f in found), np.int64),
                      np.vstack([f.boxes for f in found]), np.ones((sum(len(f) for f in found), 1)))
        return len(match_boxes(missing, rows)[0])

    assert recovered(0) == 0
    assert recovered(2) >= 0.5 * len(missing)


def test_a_short_gap_in_a_view_is_bridged_by_reprompting(world):
    """Two frames lost in one view (shorter than ``min_span``): the view's own rows either side say
    where to look, without calibration, and the person is found there."""
    stage1 = gt_as_stage1(world)
    t = stage1[1]
    pid = np.bincount(t.tracks.ids).argmax()
    rows = np.flatnonzero(t.tracks.ids == pid)
    lost = rows[len(rows) // 2:len(rows) // 2 + 2]
    keep = np.setdiff1d(np.arange(len(t.tracks)), lost)
    stage1[1] = Tracklets(t.tracks.select(keep), [t.masks[i] for i in keep])
    result = associate_scene(world, stage1, ColourEmbedder(), ClassicalBackend(), AttributeDescriber(),
                             AssociationConfig(reprompt_rounds=1, use_calibration=False))
    label = next(lab for tr, lab in zip(result.tracklets, result.labels) if tr.view == 1 and tr.tid == pid)
    found = [tr for tr, lab in zip(result.tracklets, result.labels)
             if tr.view == 1 and tr.source == "reprompt" and lab == label]
    frames = np.concatenate([tr.frames for tr in found]) if found else np.zeros(0, np.int64)
    boxes = np.vstack([tr.boxes for tr in found]) if found else np.zeros((0, 4))
    truth = t.tracks.select(np.isin(np.arange(len(t.tracks)), lost))
    for frame, box in zip(truth.frames.tolist(), truth.boxes):
        assert frame in frames.tolist(), f"frame {frame} not recovered"
        iou = iou_matrix(boxes[frames == frame], box[None]).max()
        assert iou >= 0.5, (frame, iou)


def test_gaps_are_bridged_linearly_and_only_between_rows():
    own = Tracklet(1, 1, np.array([10, 13, 30]), np.array([[0, 0, 10, 30], [30, 0, 10, 30], [0, 0, 9, 9]], float),
                   np.ones(3), [{}] * 3)
    boxes = _bridge_gaps([own], [5, 11, 12, 20, 31], max_gap=3)
    assert sorted(boxes) == [11, 12]  # 5 and 31 have a row on one side only; 20 is in a gap of 16
    np.testing.assert_allclose(boxes[11], [10, 0, 10, 30])
    np.testing.assert_allclose(boxes[12], [20, 0, 10, 30])


# --------------------------------------------------------------------------- inputs stage 2 cannot use
def test_scene_without_detections_gets_no_identities_and_a_warning(world, caplog):
    empty = {v.index: Tracklets.empty() for v in world.views}
    with caplog.at_level(logging.WARNING):
        result = associate_scene(world, empty, ColourEmbedder(), None, AttributeDescriber(), AssociationConfig())
    assert result.descriptions == {} and "found nobody" in caplog.text


def test_missing_view_or_rows_past_the_video_are_clear_errors(world):
    stage1 = gt_as_stage1(world)
    partial = {k: v for k, v in stage1.items() if k != 2}
    with pytest.raises(CRTrackFormatError, match="no stage-1 tracklets for \\['View2'\\]"):
        associate_scene(world, partial, ColourEmbedder(), None, AttributeDescriber(), AssociationConfig())
    t = stage1[1]
    late = Tracklets(type(t.tracks)(t.tracks.frames + world.num_frames, t.tracks.ids, t.tracks.boxes, t.tracks.tail),
                     t.masks)
    with pytest.raises(CRTrackFormatError, match="reach frame"):
        associate_scene(world, {**stage1, 1: late}, ColourEmbedder(), None, AttributeDescriber(), AssociationConfig())


def test_one_view_scene_links_within_the_view_and_says_so(world, caplog):
    single = type(world)(world.root, world.split, world.name, world.views[:1], world.expressions, world.descriptions,
                         None)
    with caplog.at_level(logging.WARNING):
        result = associate_scene(single, {1: gt_as_stage1(world)[1]}, ColourEmbedder(), None, AttributeDescriber(),
                                 AssociationConfig())
    assert "has one view" in caplog.text and len(result.descriptions) >= 1


# --------------------------------------------------------------------------- language
def test_every_reference_shade_is_named_its_own_word():
    rgb, word = reference_shades()
    assert (name_probabilities(srgb_to_lab(np.array(rgb, np.float32))).argmax(1) == np.array(word)).all()


def test_the_namer_agrees_with_the_renderer_it_never_reads():
    """Two independent sources (the survey table, the renderer's paint) agree on each word's centre."""
    lab = srgb_to_lab(np.array([ANCHORS[n] for n in COLOUR_NAMES], np.float32))
    assert [COLOUR_NAMES[i] for i in name_probabilities(lab).argmax(1)] == list(COLOUR_NAMES)


def test_garments_are_named_for_their_surface_colour_not_their_filmed_lightness():
    """A camera exposed for mid-tones films white cloth light gray and yellow cloth olive; the garment
    namer names the cloth, and the exposure compensation does not lift gray or black out of their words."""
    filmed = {"white": (185, 185, 182), "yellow": (150, 140, 20), "gray": (110, 110, 110), "black": (30, 30, 32)}
    as_filmed = name_probabilities(srgb_to_lab(np.array(list(filmed.values()), np.float32))).argmax(1)
    assert [COLOUR_NAMES[i] for i in as_filmed] == ["gray", "green", "gray", "black"]
    named = [COLOUR_NAMES[int(np.argmax(garment_names(np.array([rgb] * 4, np.float32))))] for rgb in filmed.values()]
    assert named == list(filmed)


def test_parser_reads_crtrack_sentences_and_paraphrases():
    c = attrs.parse("A man in a black cap, purple coat, black trousers and blue shoes, carrying a white plastic bag")
    assert c.colours == {"headwear": {"black"}, "coat": {"purple"}, "trousers": {"black"}, "shoes": {"blue"},
                         "carried": {"white"}}
    assert attrs.parse("A man wearing a red and white coat").colours == {"coat": {"red", "white"}}
    assert attrs.parse("a guy in a grey jacket and dark pants").colours == {"coat": {"gray"}, "trousers": {"black"}}


def _description(coat: str, trousers: str) -> Description:
    p = {part: np.eye(len(COLOUR_NAMES))[COLOUR_NAMES.index(c)] * 0.8 + 0.02
         for part, c in (("coat", coat), ("trousers", trousers))}
    return Description(attrs.sentence((coat,), trousers), {"coat": frozenset([coat]), "trousers": frozenset([trousers])}, p)


def test_pseudo_expressions_refer_only_to_identities_they_fit():
    descriptions = {1: _description("red", "black"), 2: _description("red", "blue"), 3: _description("green", "black")}
    expressions = {e.sentence: set(e.ids) for e in pseudo_expressions("S", descriptions)}
    assert expressions["A man wearing a red coat"] == {1, 2}
    assert expressions["A man wearing black trousers"] == {1, 3}
    assert expressions["A man wearing a red coat and black trousers"] == {1}
    assert all(ids <= set(descriptions) for ids in expressions.values())


def test_colour_agreement_counts_each_garment_of_each_mapped_identity_once():
    """Pseudo id 1 is GT person 10 with the coat named wrong, pseudo 2 is GT 20 named right, pseudo 3
    maps to nobody: it is not counted."""
    truth = {10: attrs.parse("A man in a red cap, red coat, black trousers and white shoes").colours,
             20: attrs.parse("A man wearing a green coat and blue trousers").colours}
    named = {1: attrs.parse("A man in a red cap, pink coat, black trousers and white shoes").colours,
             2: attrs.parse("A man wearing a green coat and blue trousers").colours,
             3: attrs.parse("A man wearing a black coat").colours}
    counts = colour_agreement(named, truth, {1: 10, 2: 20})
    assert set(counts) == set(attrs.OBSERVED)
    assert counts["coat"] == [1, 2] and counts["trousers"] == [2, 2]
    assert counts["shoes"] == [2, 2] and counts["headwear"] == [2, 2]  # GT 20's none named as none
    assert colour_agreement(truth, truth, {10: 10, 20: 20})["coat"] == [2, 2]


def test_an_identity_described_by_nothing_gives_no_expression_for_everyone():
    """A person too small or too cut to name a colour is "A man": that sentence fits everyone."""
    unnamed = AttributeDescriber().describe([])
    assert unnamed.sentence == "A man"
    descriptions = {1: _description("red", "black"), 2: unnamed}
    expressions = {e.sentence: set(e.ids) for e in pseudo_expressions("S", descriptions)}
    assert "A man" not in expressions and all("None" not in s for s in expressions)
    assert expressions["A man wearing a red coat"] == {1}


def test_matcher_takes_paraphrases_with_and_without_the_sentence_encoder():
    from crmot.models.text import SentenceEncoder

    descriptions = {1: _description("red", "blue"), 2: _description("black", "blue"), 3: _description("red", "white")}
    for matcher in (ExpressionMatcher(None), ExpressionMatcher(SentenceEncoder())):
        assert matcher.select("A man in a red jacket and blue pants", descriptions) == [1]
        assert sorted(matcher.select("A man wearing a red coat", descriptions)) == [1, 3]


def test_describer_names_clothes_of_a_painted_person():
    image = np.zeros((100, 40, 3), np.float32)
    image[:19] = (224, 182, 150)  # face
    image[19:53] = ANCHORS["red"]
    image[53:94] = ANCHORS["blue"]
    image[94:] = ANCHORS["black"]
    crop = Crop(0, 1, image, np.ones((100, 40), bool), 1.0)
    d = AttributeDescriber().describe([crop])
    assert d.sentence == "A man wearing a red coat and blue trousers"


# --------------------------------------------------------------------------- geometry and embedders
def _mask_row(frame: int, x0: int, x1: int, y0: int = 10, y1: int = 40, size=(60, 80)) -> tuple[int, float, dict]:
    mask = np.zeros(size, bool)
    mask[y0:y1, x0:x1] = True
    return frame, 1.0, rle.encode(mask)


def _holding(rows: list[tuple[int, float, dict]], label: int = 2) -> tuple[list[Tracklet], dict[int, list[Holder]]]:
    """One neighbour tracklet (identity ``label``) made of ``rows``, and its rows as holders per frame."""
    masks = [m for _, _, m in rows]
    neighbour = Tracklet(1, 1, np.array([f for f, _, _ in rows]), rle.to_boxes(masks), np.ones(len(rows)), masks)
    return [neighbour], {f: [Holder(label, neighbour.boxes[i], 0, i)] for i, (f, _, _) in enumerate(rows)}


def test_a_recovered_person_who_is_a_neighbour_found_again_is_dropped():
    """Re-prompting found a neighbour (identity 2 already owns that mask in frames 1-3), then the
    person asked for (frames 4-6): only the frames where it found someone new survive."""
    rows = [_mask_row(f, 20, 30) for f in (1, 2, 3)] + [_mask_row(f, 24, 34) for f in (4, 5, 6)]
    regions = {f: np.array([22.0, 10.0, 10.0, 30.0]) for f in range(1, 7)}
    tracklets, holders = _holding([_mask_row(f, 20, 30) for f in (1, 2, 3)])
    others = {f: holders.get(f, []) for f in range(1, 7)}
    found = _tracklet_from_rows(1, 9, rows, regions, others, tracklets)
    assert found.frames.tolist() == [4, 5, 6]
    nobody = {f: [] for f in range(1, 7)}
    assert _tracklet_from_rows(1, 9, rows, regions, nobody, tracklets).frames.tolist() == [1, 2, 3, 4, 5, 6]


def test_a_looser_outline_of_a_neighbour_is_dropped_too():
    """The neighbour again, outlined 17 px wide around their 10 px (box IoU 0.45): it would leave
    them nothing, so it is them."""
    rows = [_mask_row(f, 152, 169, 72, 104, (120, 200)) for f in (1, 2, 3)]
    regions = {f: np.array([150.0, 70.0, 17.0, 34.0]) for f in (1, 2, 3)}
    tracklets, others = _holding([_mask_row(f, 152, 162, 72, 102, (120, 200)) for f in (1, 2, 3)], label=5)
    assert _tracklet_from_rows(1, 9, rows, regions, others, tracklets) is None


def test_a_neighbour_merged_with_a_recovered_person_gives_up_their_pixels():
    """Stage 1 saw two people side by side as one (identity 2's mask spans both): the recovered
    person takes the left part, and identity 2 keeps the right part, mask and box."""
    tracklets, holders = _holding([_mask_row(f, 20, 40) for f in (1, 2, 3)])
    rows = [_mask_row(f, 20, 29) for f in (1, 2, 3)]
    regions = {f: np.array([20.0, 10.0, 9.0, 30.0]) for f in (1, 2, 3)}
    recovered = _tracklet_from_rows(1, 9, rows, regions, holders, tracklets)
    assert recovered.frames.tolist() == [1, 2, 3]  # the neighbour keeps 55% of its pixels: a split
    _give_up_pixels(recovered, [h for f in (1, 2, 3) for h in holders[f]], tracklets)
    assert tracklets[0].boxes.tolist() == [[29.0, 10.0, 11.0, 30.0]] * 3
    assert rle.area(tracklets[0].masks).tolist() == [330.0] * 3


def test_tracklets_without_a_crop_get_zero_prototypes_of_the_embedders_width(world):
    """Masks too small to embed (re-prompting can propose such): zero vectors that compare with the
    identities' prototypes (similarity 0), not vectors of another width."""
    view = world.views[0]
    size = (view.seqinfo.height, view.seqinfo.width)
    masks = [_mask_row(f, 20, 23, 10, 15, size)[2] for f in (1, 2)]  # 15 pixels, under MIN_CROP_PIXELS
    tiny = Tracklet(view.index, 1, np.array([1, 2]), rle.to_boxes(masks), np.ones(2), masks)
    embedder = ColourEmbedder()
    prototypes = tracklet_prototypes([tiny], SceneContext(world, gain_frames=2), embedder, per_tracklet=2)
    assert prototypes.shape == (1, embedder.dim) and not prototypes.any()


def test_homography_fit_recovers_a_known_mapping_despite_outliers():
    rng = np.random.default_rng(0)
    H = np.array([[1.1, 0.05, 12.0], [-0.02, 0.9, 30.0], [1e-4, 2e-4, 1.0]])
    src = rng.uniform(0, 300, (60, 2))
    dst = apply_homography(H, src)
    dst[:10] += rng.uniform(-80, 80, (10, 2))
    fitted = fit_homography(src, dst)
    assert np.abs(apply_homography(fitted, src[10:]) - dst[10:]).max() < 0.5


@pytest.mark.parametrize("kind", ["osnet", "clip"])
def test_learned_embedders_build_offline_and_need_a_checkpoint(kind):
    from crmot.models.reid import CLIPEmbedder, OSNetEmbedder

    cls = OSNetEmbedder if kind == "osnet" else CLIPEmbedder
    with pytest.raises(FileNotFoundError, match="allow_random_init"):
        cls(checkpoint="missing.pt").setup("cpu")
    embedder = cls(**({"variant": "osnet_x0_25"} if kind == "osnet" else {}), allow_random_init=True)
    assert embedder.name == f"{kind}-random-init"
    crops = [Crop(0, 1, np.random.default_rng(i).uniform(0, 255, (64, 24, 3)).astype(np.float32),
                  np.ones((64, 24), bool), 1.0) for i in range(3)]
    vectors = embedder.embed(crops)
    assert vectors.shape == (3, embedder.dim) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert embedder.embed([]).shape == (0, embedder.dim)  # no crops: still the width prototypes compare at
