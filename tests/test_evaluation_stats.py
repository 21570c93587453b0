"""scoring.evaluation: every figure on constructed inputs whose answer is known by hand."""

from __future__ import annotations

import math

import pytest

from scoring import evaluation as ev


def test_kappa_perfect_and_hand_computed():
    gold = ["ship"] * 6 + ["skip"] * 4
    assert ev.cohen_kappa(gold, gold) == 1.0
    # Predicted flips 2 of the 6 ships to skip: p_o = 0.8; p_e = 0.6*0.4 + 0.4*0.6 = 0.48
    pred = ["skip", "skip"] + ["ship"] * 4 + ["skip"] * 4
    assert ev.cohen_kappa(gold, pred) == pytest.approx((0.8 - 0.48) / (1 - 0.48))
    assert ev.accuracy(gold, pred) == pytest.approx(0.8)
    # Always the opposite: κ = -1 for a balanced set
    assert ev.cohen_kappa(["ship", "skip"] * 3, ["skip", "ship"] * 3) == pytest.approx(-1.0)


def test_kappa_counts_incomplete_as_disagreement_without_chance_credit():
    gold = ["ship", "ship", "skip", "skip"]
    pred = ["ship", "incomplete", "skip", "skip"]
    # p_o = 0.75; p_e = 0.5*0.25 (ship) + 0.5*0.5 (skip) + 0*0.25 (incomplete) = 0.375
    assert ev.cohen_kappa(gold, pred) == pytest.approx((0.75 - 0.375) / 0.625)
    assert ev.cohen_kappa(["ship"] * 3, ["ship"] * 3) is None  # chance agreement is already 1


def test_spearman_uses_average_ranks_for_ties():
    assert ev.ranks([10, 20, 20, 30]) == [1, 2.5, 2.5, 4]
    assert ev.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert ev.spearman([1, 2, 3, 4], [40, 30, 20, 10]) == pytest.approx(-1.0)
    # With ties: ranks a = [1, 2.5, 2.5, 4], b = [1, 2, 3, 4] → Pearson of those ranks
    r = ev.spearman([1, 2, 2, 3], [1, 2, 3, 4])
    assert r == pytest.approx(4.5 / math.sqrt(4.5 * 5))
    assert ev.spearman([1, 2], [1, 2]) is None
    assert ev.spearman([5, 5, 5], [1, 2, 3]) is None


def test_mae_precision_recall_stdev():
    assert ev.mae([80, 70, 50], [85, 60, 50]) == pytest.approx(5.0)
    # abstain: gold says abstain on items 0, 1; panel abstained on 1, 2
    assert ev.precision_recall([True, True, False, False], [False, True, True, False]) == (0.5, 0.5)
    assert ev.precision_recall([False, False], [False, False]) == (None, None)
    assert ev.stdev([70, 72, 74]) == pytest.approx(2.0)
    assert ev.stdev([70]) is None


def test_repeatability_and_flip_rate():
    # item 1: three repeats agree (3 agreeing pairs); item 2: ship, skip, ship → 1 of 3 pairs agree
    assert ev.pairwise_agreement([["ship"] * 3, ["ship", "skip", "ship"]]) == pytest.approx(4 / 6)
    assert ev.pairwise_agreement([["ship"]]) is None
    assert ev.flip_rate([("ship", "ship"), ("ship", "skip"), ("skip", "skip"), ("skip", "incomplete")]) == 0.5


def test_effective_votes_known_matrices():
    k = 5
    identical = [[1.0] * k for _ in range(k)]
    independent = [[1.0 if i == j else 0.0 for j in range(k)] for i in range(k)]
    assert ev.effective_votes(identical) == pytest.approx(1.0)
    assert ev.effective_votes(independent) == pytest.approx(5.0)
    # Equicorrelated ρ = 0.5: k² / (k + k(k-1)ρ²) = 25 / (5 + 20*0.25) = 2.5
    equi = [[1.0 if i == j else 0.5 for j in range(k)] for i in range(k)]
    assert ev.effective_votes(equi) == pytest.approx(2.5)
    # Two blocks of identical voters (3 + 2), blocks independent: 25 / (9 + 4) ≈ 1.923
    blocks = [[1.0 if (i < 3) == (j < 3) else 0.0 for j in range(k)] for i in range(k)]
    assert ev.effective_votes(blocks) == pytest.approx(25 / 13)


def test_correlation_matrix_from_scores():
    items = range(6)
    base = {i: float(40 + 10 * i) for i in items}
    cols = {"a": base, "b": dict(base), "c": {i: 100 - v for i, v in base.items()}, "flat": {i: 50.0 for i in items}}
    names, m = ev.correlation_matrix(cols)
    assert names == ["a", "b", "c"]  # 'flat' has no variance: its correlation is undefined
    assert m[0][1] == pytest.approx(1.0) and m[0][2] == pytest.approx(-1.0)
    assert ev.effective_votes(m) == pytest.approx(1.0)  # perfectly (anti)correlated: one vote


def test_calibration_buckets():
    pairs = [(85, True), (90, True), (81, False), (30, False), (35, True), (100, True)]
    out = ev.calibration(pairs)
    assert out == [{"bucket": "20-39", "takes": 2, "gold_ship_share": 0.5},
                   {"bucket": "80-100", "takes": 4, "gold_ship_share": 0.75}]


def test_variance_shares_persona_vs_model():
    # Balanced 2 personas × 2 models: persona adds ±10, model adds ±5 → SS ratio 100:25
    rows = [{"persona": p, "model": m, "score": 50 + (10 if p == "a" else -10) + (5 if m == "x" else -5)}
            for p in "ab" for m in "xy"]
    shares = ev.variance_shares(rows, ["persona", "model"])
    assert shares["persona"] == pytest.approx(0.8) and shares["model"] == pytest.approx(0.2)
    one_model = [dict(r, model="x") for r in rows]
    assert ev.variance_shares(one_model, ["model"])["model"] == 0.0


def test_grounded_share():
    assert ev.grounded_share([(None, []), (None, [])]) is None  # takes carry no evidence
    takes = [(["runs on your phone"], []), (["Apache 2.0"], []), (["fastest ever"], ["ungrounded"]), ([], [])]
    assert ev.grounded_share(takes) == 0.5
