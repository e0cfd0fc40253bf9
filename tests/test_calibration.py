"""bench.measure.calibration: ECE, reliability rows, NLL, Brier, temperature scaling."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss
from sklearn.preprocessing import label_binarize

from bench.measure import calibration as cal

# Four images, three classes, given as log-probabilities so softmax returns these exactly.
# Top-1 confidences 0.75, 0.75, 0.5, 0.44; labels make images 0 and 2 correct (argmax is 0).
HAND_PROBS = np.array(
    [
        [0.75, 0.125, 0.125],
        [0.75, 0.125, 0.125],
        [0.5, 0.25, 0.25],
        [0.44, 0.36, 0.2],
    ]
)
HAND_LOGITS = np.log(HAND_PROBS)
HAND_LABELS = np.array([0, 1, 0, 2])


def _sample(n: int = 20000, k: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits z and labels drawn from softmax(z): calibrated by construction."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.0, (n, k))
    cdf = cal.softmax(z).cumsum(axis=1)
    labels = (cdf > rng.random((n, 1))).argmax(axis=1)
    return z, labels


def test_hand_made_ece_with_ten_bins():
    # 10 bins of width 0.1. Bin 7 (0.7, 0.8]: confidences 0.75, 0.75, one of two correct:
    #   weight 2/4, |0.5 - 0.75| = 0.25 -> 0.125.
    # Bin 4 (0.4, 0.5]: 0.5 (on the edge 0.5, so the lower bin) and 0.44, one of two correct:
    #   mean confidence 0.47, accuracy 0.5, weight 2/4, |0.5 - 0.47| = 0.03 -> 0.015.
    # ECE = 0.125 + 0.015 = 0.14. Had 0.5 gone to bin 5 it would be 0.125 + 0.11 + 0.125 = 0.36.
    assert cal.softmax(HAND_LOGITS)[2, 0] == 0.5  # exactly on the edge
    assert cal.expected_calibration_error(HAND_LOGITS, HAND_LABELS, bins=10) == pytest.approx(0.14)
    rows = cal.reliability(HAND_LOGITS, HAND_LABELS, bins=10)
    assert [(r["bin"], r["count"]) for r in rows] == [(4, 2), (7, 2)]
    assert rows[0]["lower"] == pytest.approx(0.4) and rows[0]["upper"] == 0.5
    assert rows[0]["confidence"] == pytest.approx(0.47)
    assert rows[0]["accuracy"] == 0.5 and rows[1]["accuracy"] == 0.5
    assert rows[1]["confidence"] == pytest.approx(0.75)


def test_hand_made_ece_with_default_fifteen_bins():
    # 15 bins of width 1/15: 0.75 (twice), 0.5 and 0.44 fall in bins 11, 7 and 6, so
    # ECE = 2/4 * |0.5 - 0.75| + 1/4 * |1 - 0.5| + 1/4 * |0 - 0.44| = 0.125 + 0.125 + 0.11 = 0.36
    # (the same as 0.5 in its own bin with 10 bins: here no edge is involved).
    assert cal.expected_calibration_error(HAND_LOGITS, HAND_LABELS) == pytest.approx(0.36)
    rows = cal.reliability(HAND_LOGITS, HAND_LABELS)
    assert [(r["bin"], r["count"]) for r in rows] == [(6, 1), (7, 1), (11, 2)]


def test_confidence_on_an_edge_goes_to_the_lower_bin_with_fifteen_bins():
    # Uniform logits over 15 classes: confidence 1/15, the upper edge of bin 0.
    rows = cal.reliability(np.zeros((3, 15)), np.array([0, 1, 2]))
    assert [(r["bin"], r["count"]) for r in rows] == [(0, 3)]
    assert rows[0]["confidence"] == rows[0]["upper"]


def test_ece_equals_the_weighted_gap_of_the_reliability_rows():
    z, labels = _sample(n=3000, seed=1)
    z = 4.0 * z  # over-confident, so the gaps are far from zero
    rows = cal.reliability(z, labels)
    assert sum(r["count"] for r in rows) == 3000
    gap = sum(r["count"] / 3000 * abs(r["accuracy"] - r["confidence"]) for r in rows)
    ece = cal.expected_calibration_error(z, labels)
    assert ece > 0.1
    assert ece == pytest.approx(gap, rel=1e-12)


def test_softmax_is_stable_for_huge_logits():
    p = cal.softmax(np.array([[1000.0, 0.0, -1000.0], [-5e4, -5e4, -5e4]]))
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p, [[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    assert p.dtype == np.float64


def test_nll_equals_sklearn_log_loss_and_brier_an_independent_computation():
    rng = np.random.default_rng(2)
    z = rng.normal(0.0, 2.0, (500, 7))
    labels = rng.integers(0, 7, 500)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)  # naive softmax: small logits
    expected_nll = log_loss(labels, p, labels=range(7))
    assert cal.negative_log_likelihood(z, labels) == pytest.approx(expected_nll, rel=1e-9)
    onehot = label_binarize(labels, classes=range(7))
    expected_brier = np.mean(np.sum((p - onehot) ** 2, axis=1))
    assert cal.brier_score(z, labels) == pytest.approx(expected_brier, rel=1e-12)


def test_brier_range_ends():
    certain = np.array([[50.0, 0.0, 0.0], [50.0, 0.0, 0.0]])
    assert cal.brier_score(certain, np.array([0, 0])) == pytest.approx(0.0, abs=1e-12)
    assert cal.brier_score(certain, np.array([1, 2])) == pytest.approx(2.0)


def test_ece_small_when_calibrated_and_large_when_over_confident():
    z, labels = _sample()
    assert cal.expected_calibration_error(z, labels) < 0.02
    assert cal.expected_calibration_error(5.0 * z, labels) > 0.25


def test_temperature_recovers_a_known_over_confidence_factor():
    z, labels = _sample(seed=3)
    logits = 3.0 * z
    t = cal.fit_temperature(logits, labels)
    assert t == pytest.approx(3.0, abs=0.1)
    scaled = logits / t
    # Dividing by T > 0 keeps every argmax, so accuracy is unchanged.
    np.testing.assert_array_equal(scaled.argmax(axis=1), logits.argmax(axis=1))
    before = cal.negative_log_likelihood(logits, labels)
    assert cal.negative_log_likelihood(scaled, labels) < before - 0.1


def test_temperature_near_one_on_calibrated_logits_and_never_raises_nll():
    z, labels = _sample(seed=4)
    t = cal.fit_temperature(z, labels)
    assert t == pytest.approx(1.0, abs=0.05)
    assert cal.negative_log_likelihood(z / t, labels) <= cal.negative_log_likelihood(z, labels)


def test_temperature_is_one_when_no_scaling_helps():
    # Two images, each ambiguous on a uniform guess: every T gives NLL ln 3, none is better.
    assert cal.fit_temperature(np.zeros((2, 3)), np.array([0, 1])) == 1.0


def test_calibration_metrics_keys_and_values():
    z, labels = _sample(n=8000, seed=5)
    val, test = slice(0, 4000), slice(4000, None)
    m = cal.calibration_metrics(3.0 * z[test], labels[test], 3.0 * z[val], labels[val])
    assert list(m) == [
        "test_ece",
        "test_nll",
        "test_brier",
        "temperature",
        "test_ece_scaled",
        "test_nll_scaled",
    ]
    assert all(isinstance(v, float) for v in m.values())
    assert m["temperature"] == pytest.approx(3.0, abs=0.2)
    assert m["test_ece_scaled"] < 0.03 < m["test_ece"]
    assert m["test_nll_scaled"] < m["test_nll"]
    assert m["test_nll"] == cal.negative_log_likelihood(3.0 * z[test], labels[test])


def test_empty_validation_gives_none():
    z, labels = _sample(n=200, seed=6)
    m = cal.calibration_metrics(z, labels, np.zeros((0, 10)), np.zeros((0,), dtype=int))
    assert m["temperature"] is None
    assert m["test_ece_scaled"] is None and m["test_nll_scaled"] is None
    assert m["test_ece"] == cal.expected_calibration_error(z, labels)


def test_float16_logits():
    z, labels = _sample(n=2000, seed=7)
    half = z.astype(np.float16)
    exact = half.astype(np.float64)  # the same values, already rounded
    m = cal.calibration_metrics(half, labels, half, labels)
    assert m["test_nll"] == pytest.approx(cal.negative_log_likelihood(exact, labels), rel=1e-12)
    assert m["test_ece"] == pytest.approx(cal.expected_calibration_error(exact, labels))
    assert m["temperature"] == pytest.approx(1.0, abs=0.1)


def test_bfloat16_logits():
    ml_dtypes = pytest.importorskip("ml_dtypes")  # NumPy's bfloat16, as JAX and TF return it
    z, labels = _sample(n=2000, seed=7)
    brain = z.astype(ml_dtypes.bfloat16)
    expected = cal.brier_score(brain.astype(np.float64), labels)
    assert cal.brier_score(brain, labels) == pytest.approx(expected, rel=1e-12)


def test_bad_inputs_fail_early():
    with pytest.raises(ValueError, match="labels must be integers"):
        cal.brier_score(np.zeros((3, 2)), np.array([0.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match="labels must lie"):
        cal.negative_log_likelihood(np.zeros((2, 2)), np.array([0, 2]))
    with pytest.raises(ValueError, match="logits must be"):
        cal.expected_calibration_error(np.zeros(4), np.array([0, 1, 0, 1]))
