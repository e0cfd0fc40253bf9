"""Prediction in batches of a single shape.

A compiled backend (JAX, TensorFlow with XLA, torch.compile) compiles again for every new input
shape. A last batch smaller than the others would compile a second program inside every pass,
timed or not: the validation pass of each epoch, the test pass and the inference throughput
(on an H100 it made ResNet50's recorded inference 20x too slow). Here the last batch is padded
to the full batch size with copies of its last image, and the padded outputs are dropped.
"""

from __future__ import annotations

import time

import keras
import numpy as np


def padded_tail(x: np.ndarray, batch_size: int) -> tuple[int, np.ndarray | None]:
    """Where the full batches of x end, and its remaining images padded to one full batch
    (None when nothing remains)."""
    full = len(x) // batch_size * batch_size
    if full == len(x):
        return full, None
    tail = np.asarray(x[full:])
    padding = np.repeat(tail[-1:], batch_size - len(tail), axis=0)
    return full, np.concatenate([tail, padding])


def predict(model: keras.Model, x: np.ndarray, batch_size: int) -> np.ndarray:
    """model.predict(x) in batches of exactly `batch_size` images (float32 outputs)."""
    full, tail = padded_tail(x, batch_size)
    parts = []
    if full:
        parts.append(model.predict(x[:full], batch_size=batch_size, verbose=0))
    if tail is not None:
        parts.append(model.predict(tail, batch_size=batch_size, verbose=0)[: len(x) - full])
    return np.concatenate(parts).astype(np.float32, copy=False)


def predict_timed(model: keras.Model, x: np.ndarray, batch_size: int):
    """Outputs of x, and images per second measured after a warm-up batch of the same shape
    (so tracing and compilation stay out of the timed region)."""
    warm_up = x[:batch_size] if len(x) >= batch_size else padded_tail(x, batch_size)[1]
    predict(model, warm_up, batch_size)
    start = time.perf_counter()
    outputs = predict(model, x, batch_size)
    return outputs, len(x) / (time.perf_counter() - start)


def sparse_cross_entropy(labels: np.ndarray, logits: np.ndarray) -> float:
    """Mean sparse categorical cross-entropy of logits, as Keras computes it (float64 here)."""
    logits = logits.astype(np.float64)
    top = logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(logits - top).sum(axis=1)) + top[:, 0]
    return float(np.mean(log_norm - logits[np.arange(len(labels)), labels]))
