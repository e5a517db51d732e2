"""Cross-view metrics: reference numbers, the official tool's quirks, a devkit cross-check."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import devkit_reference
import numpy as np
import pytest
from conftest import tracks

from crmot.data.tracks import Tracks
from crmot.metrics import CVRIDF1, CVRMA, clear_counts, identity_counts, prepare, score_sequence, score_sequences
from crmot.metrics.protocol import dlmwrite_hundredths, fixed2, hundredths, round_significant


def _gt_view(view: int) -> Tracks:
    """2 objects (ids 1, 2) over 6 frames; boxes far apart and a little different per view."""
    rows = []
    for f in range(1, 7):
        rows.append([f, 1, 10 + 5 * f + view, 20, 50, 100])
        rows.append([f, 2, 300 + 3 * f, 40 + view, 60, 120])
    return tracks(rows)


GT = {1: _gt_view(1), 2: _gt_view(2)}


def _relabel(t: Tracks, mapping: dict[int, int], drop=(), extra=()) -> Tracks:
    rows = [[f, mapping[i], *b] for f, i, b in zip(t.frames, t.ids, t.boxes) if (f, i) not in drop]
    return tracks(rows + list(extra))


@pytest.mark.parametrize(
    ("name", "pred", "cvrma", "cvridf1"),
    [
        ("perfect", {k: _relabel(v, {1: 7, 2: 9}) for k, v in GT.items()}, 100.0, 100.0),
        ("View2 ids swapped", {1: _relabel(GT[1], {1: 7, 2: 9}), 2: _relabel(GT[2], {1: 9, 2: 7})}, 8.333333, 50.0),
        ("3 boxes missing", {1: _relabel(GT[1], {1: 7, 2: 9}, drop={(1, 1), (2, 1)}),
                             2: _relabel(GT[2], {1: 7, 2: 9}, drop={(3, 2)})}, 87.5, 93.333333),
        ("3 extra false boxes", {1: _relabel(GT[1], {1: 7, 2: 9}, extra=[[1, 11, 500, 500, 20, 20], [2, 11, 500, 500, 20, 20]]),
                                 2: _relabel(GT[2], {1: 7, 2: 9}, extra=[[4, 12, 600, 500, 20, 20]])}, 87.5, 94.117647),
    ],
)
@pytest.mark.parametrize("protocol", ["crtrack", "strict"])
def test_design_reference_numbers(name, pred, cvrma, cvridf1, protocol):
    score = score_sequence(GT, pred, protocol)
    assert score.CVRMA == pytest.approx(cvrma, abs=1e-6), name
    assert score.CVRIDF1 == pytest.approx(cvridf1, abs=1e-6), name


def test_swapped_view_counts_by_hand():
    """View2 swapped: every virtual frame after the first switches both objects: 22 IDSW of 24 GT."""
    pred = {1: _relabel(GT[1], {1: 7, 2: 9}), 2: _relabel(GT[2], {1: 9, 2: 7})}
    score = score_sequence(GT, pred)
    assert (score.clear.IDSW, score.clear.TP, score.clear.num_gt) == (22, 24, 24)
    assert (score.identity.IDTP, score.identity.IDFP, score.identity.IDFN) == (12, 12, 12)
    # Per view nothing is wrong: the error is purely cross-view.
    assert all(v.MOTA == 100.0 and v.IDF1 == 100.0 for v in score.per_view.values())


def test_cvrma_is_clipped_at_zero_per_expression():
    junk = [[f, 50 + j, 900 + 20 * j, 900, 10, 10] for f in range(1, 7) for j in range(5)]
    score = score_sequence(GT, {1: _relabel(GT[1], {1: 7, 2: 9}, extra=junk), 2: tracks(junk)})
    assert score.clear.MOTA < 0 and score.CVRMA == 0.0


# --------------------------------------------------------------------------- official-tool quirks
def test_concatenation_gap_is_last_gt_or_prediction_frame_plus_one():
    gt = {1: tracks([[1, 1, 0, 0, 10, 10], [6, 1, 0, 0, 10, 10]]), 2: tracks([[1, 1, 0, 0, 10, 10], [2, 1, 0, 0, 10, 10]])}
    pred = {1: tracks([[1, 5, 0, 0, 10, 10], [9, 5, 0, 0, 10, 10]])}
    concatenated, interleaved = prepare(gt, pred, "crtrack")
    assert concatenated.gt.frames.tolist() == [1, 6, 11, 12]  # view 2 shifted by 9 + 1
    assert interleaved.gt.frames.tolist() == [2, 12, 3, 5]  # frame t of view m -> t * V + m


def test_single_row_view_files_are_ignored_only_by_the_official_protocol():
    gt = {1: GT[1], 2: tracks([[3, 1, 20, 22, 50, 100]])}
    pred = {1: _relabel(GT[1], {1: 7, 2: 9}), 2: tracks([[3, 7, 20, 22, 50, 100]])}
    official, strict = score_sequence(gt, pred, "crtrack"), score_sequence(gt, pred, "strict")
    assert official.identity.num_gt == 12 and official.identity.num_pred == 12
    assert strict.identity.num_gt == 13 and strict.identity.num_pred == 13
    assert official.CVRIDF1 == strict.CVRIDF1 == 100.0


def test_predictions_after_the_last_gt_frame_are_dropped_only_by_the_official_protocol():
    pred = {1: _relabel(GT[1], {1: 7, 2: 9}), 2: _relabel(GT[2], {1: 7, 2: 9}, extra=[[9, 7, 0, 0, 5, 5]])}
    assert score_sequence(GT, pred, "crtrack").CVRIDF1 == 100.0
    strict = score_sequence(GT, pred, "strict")
    assert strict.identity.IDFP == 1 and strict.clear.FP == 1


def test_values_are_rounded_like_the_official_tool():
    assert fixed2(np.array([1.005, 2.675, 0.125, 1817.749, -0.001])).tolist() == [1.0, 2.67, 0.12, 1817.75, -0.0]
    assert hundredths(np.array([0.125, 0.375])).tolist() == [12, 38]  # exact binary ties go to even
    # '%.2f' then '%.5g' rounds twice: 1817.749 -> 1817.75 -> 1817.8, as the official tool does.
    assert (round_significant(hundredths(np.array([1817.75, 1817.749, 1817.74, 99999.5, 12.345]))) / 100).tolist() == [
        1817.8, 1817.8, 1817.7, 100000.0, 12.35]
    assert round_significant(np.array([123456, 123455, -123455, 123454, 99999, 7])).tolist() == [
        123460, 123460, -123460, 123450, 99999, 7]


def test_five_digit_rounding_is_printf_on_the_double_and_exact_binary_ties_go_away_from_zero():
    # 1297.85 is read as 1297.8499999999999: '%.5g' prints 1297.8; 1817.75 and 1597.25 are exact ties
    values = np.array([1297.85, -1297.85, 1297.95, 1817.75, 1597.25, -1597.25, 99999.5, 100005.0])
    assert (dlmwrite_hundredths(hundredths(values)) / 100).tolist() == [
        1297.8, -1297.8, 1298.0, 1817.8, 1597.3, -1597.3, 100000.0, 100010.0]


def _significant(value: float, rounding: str) -> int:
    """The double's exact value rounded to 5 significant digits, in hundredths."""
    exact = Decimal(value)  # every binary digit of the double
    return int(exact.quantize(Decimal(1).scaleb(exact.adjusted() - 4), rounding=rounding) * 100)


def test_five_digit_rounding_matches_printf_on_the_double_and_ties_away_from_zero():
    rng = np.random.default_rng(0)
    cents = np.concatenate([rng.integers(-10**8, 10**8, 20000), rng.integers(99000, 1000000, 20000),
                            rng.integers(10000, 100000, 5000) * 10 + 5])  # many decimal ties at 1000-9999.99
    cents = cents[cents != 0]
    values = (cents / 100).tolist()
    ours = dlmwrite_hundredths(cents).tolist()
    assert ours == [_significant(v, ROUND_HALF_UP) for v in values]
    no_tie = [i for i, v in enumerate(values) if _significant(v, ROUND_HALF_UP) == _significant(v, ROUND_HALF_EVEN)]
    assert len(no_tie) > 0.9 * len(values)
    assert all(ours[i] == round(float("%.5g" % values[i]) * 100) for i in no_tie)  # noqa: UP031 (C printf)


def test_a_pair_the_official_rounding_matches_is_matched():
    """GT 1277,910,69,154 (xywh); prediction 1297.85,910.00,1373.31,1064.00 (xyxy): IoU 0.5007 after
    the official rounding (x -> 1297.8), 0.4992 had 1297.85 been rounded as a decimal tie (1297.9)."""
    gt = {1: tracks([[f, 1, 1277, 910, 69, 154] for f in range(1, 4)])}
    x1, x2 = 1297.85, 1373.31
    pred = {1: tracks([[f, 3, x1, 910.0, x2 - x1, 1064.0 - 910.0] for f in range(1, 4)])}
    official = score_sequence(gt, pred, "crtrack")
    assert official.CVRIDF1 == 100.0 and official.identity.IDTP == 3


def test_two_decimal_rounding_can_turn_a_near_miss_into_a_match():
    gt = {1: tracks([[f, 1, 0, 0, 10, 10] for f in range(1, 4)])}
    pred = {1: tracks([[f, 4, 0, 0, 4.996, 10] for f in range(1, 4)])}  # IoU 0.4996 -> 0.5 after '%.2f'
    assert score_sequence(gt, pred, "crtrack").CVRIDF1 == 100.0
    assert score_sequence(gt, pred, "strict").CVRIDF1 == 0.0


def test_large_ids_merge_after_five_digit_rounding():
    gt = {1: tracks([[f, 1, 0, 0, 10, 10] for f in range(1, 7)]), 2: tracks([[f, 1, 0, 0, 10, 10] for f in range(1, 7)])}
    pred_view = tracks([[f, 100001 if f <= 3 else 100004, 0, 0, 10, 10] for f in range(1, 7)])
    pred = {1: pred_view, 2: pred_view}
    assert score_sequence(gt, pred, "crtrack").CVRIDF1 == 100.0  # both ids become 100000
    assert score_sequence(gt, pred, "strict").CVRIDF1 == 50.0


def test_id_switch_needs_the_object_in_the_previous_frame():
    gt = tracks([[f, 1, 0, 0, 10, 10] for f in (1, 2, 3, 5, 6)])
    gap = tracks([[f, 7 if f < 4 else 8, 0, 0, 10, 10] for f in (1, 2, 3, 5, 6)])
    assert clear_counts(gt, gap).IDSW == 0
    gt_present = tracks([[f, 1, 0, 0, 10, 10] for f in range(1, 7)])
    assert clear_counts(gt_present, gap).IDSW == 1  # frame 4 unmatched, frame 5 switched


def test_continuity_keeps_the_previous_match_over_a_better_one():
    gt = tracks([[1, 1, 0, 0, 10, 10], [2, 1, 0, 0, 10, 10]])
    pred = tracks([[1, 7, 0, 0, 10, 10], [2, 7, 3, 0, 10, 10], [2, 8, 0, 0, 10, 10]])  # 8 fits better at frame 2
    counts = clear_counts(gt, pred)
    assert (counts.TP, counts.FP, counts.IDSW) == (2, 1, 0)


# --------------------------------------------------------------------------- against the devkit loops
def _noisy(seed: int):
    rng = np.random.default_rng(seed)
    gt_rows, pred_rows = [], []
    for obj in range(1, 7):
        start, stop = sorted(rng.integers(1, 40, size=2))
        x, y = rng.uniform(0, 200, size=2)
        for f in range(start, stop + 1):
            box = [x + 2 * f, y, 30, 60]
            gt_rows.append([f, obj, *box])
            if rng.random() < 0.85:
                ident = obj + 10 * int(rng.random() < 0.1)
                pred_rows.append([f, ident, *(np.array(box) + rng.normal(0, 6, 4))])
            if rng.random() < 0.15:  # a second box near the object makes frames ambiguous
                pred_rows.append([f, 100 + obj, *(np.array(box) + rng.normal(0, 4, 4))])
    pred_rows += [[int(rng.integers(1, 40)), 200 + i, *rng.uniform(0, 200, 2), 30, 60] for i in range(15)]
    pred = tracks(pred_rows)
    keep = np.unique(np.stack([pred.frames, pred.ids], 1), axis=0, return_index=True)[1]
    return tracks(gt_rows), pred.select(np.sort(keep))


@pytest.mark.parametrize("seed", range(12))
def test_vectorized_counts_equal_the_devkit_loops(seed):
    gt, pred = _noisy(seed)
    clear = clear_counts(gt, pred)
    assert {k: getattr(clear, k) for k in ("TP", "FP", "FN", "IDSW")} == devkit_reference.clear_mot(gt, pred)
    ident = identity_counts(gt, pred)
    assert {"IDTP": ident.IDTP, "IDFP": ident.IDFP, "IDFN": ident.IDFN} == devkit_reference.id_measures(gt, pred)


# --------------------------------------------------------------------------- torchmetrics
def test_metric_states_are_sums_that_merge_like_ddp_ranks():
    perfect = {k: _relabel(v, {1: 7, 2: 9}) for k, v in GT.items()}
    swapped = {1: _relabel(GT[1], {1: 7, 2: 9}), 2: _relabel(GT[2], {1: 9, 2: 7})}
    rank0, rank1 = CVRIDF1(), CVRIDF1()
    rank0.update(GT, perfect)
    rank1.update(GT, swapped)
    rank0.merge_state(rank1)
    assert float(rank0.compute()) == pytest.approx(75.0)
    mota = CVRMA()
    mota.update(GT, perfect)
    mota.update(GT, swapped)
    assert float(mota.compute()) == pytest.approx((100 + 8.333333333) / 2)
    assert int(mota.IDSW) == 22


@pytest.mark.parametrize("protocol", ["crtrack", "strict"])
def test_scoring_a_batch_equals_scoring_each_sequence_alone(protocol):
    items = [(GT, {1: _relabel(GT[1], {1: 7, 2: 9}), 2: _relabel(GT[2], {1: 9, 2: 7})}), (GT, {})]
    for seed in range(6):
        gt, pred = _noisy(seed)
        items.append(({1: gt, 2: gt.select(gt.frames > 5)}, {1: pred, 2: pred.select(pred.frames < 30)}))
    batched = score_sequences(items, protocol)
    for item, together in zip(items, batched):
        alone = score_sequence(*item, protocol)
        assert together == alone
