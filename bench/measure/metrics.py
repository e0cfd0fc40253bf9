"""Test-set figures from one pass of predictions (docs/protocol.md, "What is measured")."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score


def classification_metrics(y_true: np.ndarray, logits: np.ndarray) -> dict:
    """Top-1, top-5 (only where there are more than 5 classes), macro F1, per-class accuracy."""
    num_classes = logits.shape[-1]
    predicted = logits.argmax(axis=-1)
    labels = np.arange(num_classes)
    top5 = None
    if num_classes > 5:
        best5 = np.argsort(logits, axis=-1)[:, -5:]
        top5 = float(np.mean(np.any(best5 == y_true[:, None], axis=-1)))
    confusion = confusion_matrix(y_true, predicted, labels=labels)
    support = confusion.sum(axis=1)
    per_class = np.divide(
        np.diag(confusion), support, out=np.full(num_classes, np.nan), where=support > 0
    )
    return {
        "test_accuracy": float(np.mean(predicted == y_true)),
        "test_top5_accuracy": top5,
        "test_macro_f1": float(
            f1_score(y_true, predicted, labels=labels, average="macro", zero_division=0)
        ),
        "per_class_accuracy": per_class,
        "confusion": confusion,
    }


def efficiency(accuracy: float, params_total: int) -> float:
    """The seeds' definition: test accuracy in percent per million parameters."""
    return 100.0 * accuracy / (params_total / 1e6)


def median_after_first(seconds: list[float]) -> float | None:
    """Median epoch time without the first (tracing, compilation); None if only one epoch."""
    return float(np.median(seconds[1:])) if len(seconds) > 1 else None
