"""What a phase measures beyond accuracy, from a trained model's predictions: calibration on
the test split (`bench.measure.calibration`, the temperature fitted on validation) and, where
`corruptions` are asked for, accuracy on the test images under each corruption at severities
1 to 5 (`bench.data.corruptions`, Hendrycks & Dietterich, ICLR 2019).

Every model of a suite sees the same corrupted images: their noise is seeded by `split_seed`
(which fixes the test split too), the corruption and the severity, never by the run's seed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from bench.common.hashing import stable_hash
from bench.measure.calibration import calibration_metrics, reliability

Predict = Callable[[np.ndarray], np.ndarray]  # images -> logits


def calibrate(result, y_val: np.ndarray, y_test: np.ndarray) -> None:
    """The calibration figures of the result's test logits into `result.test` (temperature
    fitted on its validation logits), and the reliability diagram's bins before and after
    temperature scaling into `result.reliability`."""
    logits = result.test_logits
    figures = calibration_metrics(logits, y_test, result.val_logits, y_val)
    result.test |= figures
    result.reliability = [{**b, "scaled": False} for b in reliability(logits, y_test)]
    if figures["temperature"] is not None:
        scaled = reliability(logits / figures["temperature"], y_test)
        result.reliability += [{**b, "scaled": True} for b in scaled]


def corruption_seed(split_seed: int, name: str, severity: int) -> int:
    identity = {"split_seed": split_seed, "corruption": name, "severity": severity}
    return int(stable_hash(identity), 16)


def robustness(result, predict: Predict, x_test, y_test, names: list[str], split_seed: int):
    """Test accuracy under each corruption and severity (`result.corruption_rows`), their mean
    (`corruption_accuracy`), its ratio to the clean accuracy (`relative_robustness`) and the
    time it all took (`corruption_time_s`)."""
    from bench.data.corruptions import SEVERITIES, corrupt

    start = time.perf_counter()
    rows = []
    for name in names:
        for severity in SEVERITIES:
            seed = corruption_seed(split_seed, name, severity)
            images = corrupt(x_test, name, severity, seed)
            accuracy = float(np.mean(predict(images).argmax(axis=1) == y_test))
            rows.append({"corruption": name, "severity": severity, "test_accuracy": accuracy})
    result.corruption_rows = rows
    result.corruption_accuracy = float(np.mean([r["test_accuracy"] for r in rows]))
    clean = result.test["test_accuracy"]
    result.relative_robustness = result.corruption_accuracy / clean if clean > 0 else None
    result.corruption_time_s = time.perf_counter() - start
