"""Calibration: how far a classifier's confidence is from its accuracy, from test-set logits.

Sources:
- Guo, Pleiss, Sun & Weinberger, "On Calibration of Modern Neural Networks", ICML 2017: the
  expected calibration error (ECE) over 15 equal-width confidence bins, reliability diagrams,
  and temperature scaling (one T > 0 fitted by NLL on a validation split).
- Brier, "Verification of forecasts expressed in terms of probability", Monthly Weather
  Review 78(1), 1950: the multiclass Brier score.

Every function takes logits (N, K) of any float dtype (float16 or bfloat16 from mixed precision
become float64 first) and integer labels (N,). Pure NumPy and SciPy: no backend needed.
"""

from __future__ import annotations

import numpy as np

BINS = 15  # Guo et al. 2017
# Bounds of the temperature search (over log T): beyond any network's miscalibration, and
# beyond a linear probe's at 1 image a class, whose fitted T reached 20 on CIFAR-10.
T_MIN, T_MAX = 0.01, 100.0


def _inputs(logits, labels) -> tuple[np.ndarray, np.ndarray]:
    """float64 logits (N, K) and int labels (N,), checked: a wrong shape fails here, not later."""
    z = np.asarray(logits).astype(np.float64)  # astype: bfloat16 (ml_dtypes) converts too
    y = np.asarray(labels)
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] == 0:
        raise ValueError(f"logits must be (N, K) with N, K > 0, not {z.shape}")
    if y.shape != (z.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integers of shape ({z.shape[0]},), not {y.shape}")
    if y.min() < 0 or y.max() >= z.shape[1]:
        raise ValueError(f"labels must lie in [0, {z.shape[1]}), not [{y.min()}, {y.max()}]")
    return z, y.astype(np.int64)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    # Log-sum-exp after subtracting the row maximum: no overflow, no log(0) for tiny p.
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits) -> np.ndarray:
    """Row-wise softmax in float64, stable for logits of any magnitude."""
    return np.exp(_log_softmax(np.asarray(logits).astype(np.float64)))


def _binned(logits, labels, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Edges, and per bin: count, sum of top-1 confidence, number correct."""
    z, y = _inputs(logits, labels)
    p = softmax(z)
    confidence, correct = p.max(axis=1), (p.argmax(axis=1) == y)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # side="left": a confidence equal to an edge falls in the bin below, (lower, upper];
    # confidence 0 (impossible for a softmax, kept for completeness) goes to the first bin.
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    count = np.bincount(index, minlength=bins)
    conf_sum = np.bincount(index, weights=confidence, minlength=bins)
    correct_sum = np.bincount(index, weights=correct.astype(np.float64), minlength=bins)
    return edges, count, conf_sum, correct_sum


def reliability(logits, labels, bins: int = BINS) -> list[dict]:
    """The data of a reliability diagram: one row per non-empty bin, in bin order."""
    edges, count, conf_sum, correct_sum = _binned(logits, labels, bins)
    return [
        {
            "bin": int(b),
            "lower": float(edges[b]),
            "upper": float(edges[b + 1]),
            "count": int(count[b]),
            "confidence": float(conf_sum[b] / count[b]),
            "accuracy": float(correct_sum[b] / count[b]),
        }
        for b in np.flatnonzero(count)
    ]


def expected_calibration_error(logits, labels, bins: int = BINS) -> float:
    """ECE of Guo et al. 2017: sum over bins of (n_b / n) * |accuracy_b - confidence_b|.

    Top-1 confidence (the largest softmax probability) in `bins` equal-width bins over [0, 1],
    right-closed (lower, upper]; a confidence of exactly 0 goes to the first bin.
    """
    _, count, conf_sum, correct_sum = _binned(logits, labels, bins)
    # n_b / n * |acc_b - conf_b| = |correct_b - conf_sum_b| / n: empty bins add 0, no 0/0.
    return float(np.abs(correct_sum - conf_sum).sum() / count.sum())


def negative_log_likelihood(logits, labels) -> float:
    """Mean of -log softmax(logits)[true class], in nats (the cross-entropy of the test set)."""
    z, y = _inputs(logits, labels)
    return float(-_log_softmax(z)[np.arange(len(y)), y].mean())


def brier_score(logits, labels) -> float:
    """Multiclass Brier score (Brier 1950): mean over images of sum_k (p_k - onehot_k)^2.

    Ranges over [0, 2]: 0 for certainty on the true class, 2 for certainty on a wrong one.
    """
    z, y = _inputs(logits, labels)
    p = softmax(z)
    p[np.arange(len(y)), y] -= 1.0  # p - onehot, in place on our own copy
    return float((p**2).sum(axis=1).mean())


def fit_temperature(logits, labels) -> float:
    """Temperature scaling (Guo et al. 2017): the T > 0 minimising the NLL of logits / T.

    Fitted on a validation split, searched over log T in [T_MIN, T_MAX] (log: symmetric in
    over- and under-confidence). Returns 1.0 when the optimum does not lower the NLL at T = 1,
    so scaling never raises the validation NLL.
    """
    from scipy.optimize import minimize_scalar  # scipy.optimize is slow to import

    z, y = _inputs(logits, labels)

    def nll(log_t: float) -> float:
        return negative_log_likelihood(z / np.exp(log_t), y)

    found = minimize_scalar(nll, bounds=(np.log(T_MIN), np.log(T_MAX)), method="bounded")
    return float(np.exp(found.x)) if found.fun < nll(0.0) else 1.0


def calibration_metrics(test_logits, test_labels, val_logits, val_labels) -> dict:
    """Test-set ECE, NLL and Brier, and ECE and NLL after temperature scaling fitted on the
    validation split. No validation images (size 0 or None): temperature and scaled values None.
    """
    metrics = {
        "test_ece": expected_calibration_error(test_logits, test_labels),
        "test_nll": negative_log_likelihood(test_logits, test_labels),
        "test_brier": brier_score(test_logits, test_labels),
        "temperature": None,
        "test_ece_scaled": None,
        "test_nll_scaled": None,
    }
    if val_logits is None or np.size(val_logits) == 0:
        return metrics
    t = fit_temperature(val_logits, val_labels)
    scaled = np.asarray(test_logits).astype(np.float64) / t
    metrics["temperature"] = t
    metrics["test_ece_scaled"] = expected_calibration_error(scaled, test_labels)
    metrics["test_nll_scaled"] = negative_log_likelihood(scaled, test_labels)
    return metrics
