"""Prediction in batches of a single shape.

A compiled backend (JAX, TensorFlow with XLA, torch.compile) compiles again for every new input
shape. A last batch smaller than the others would compile a second program inside every pass,
timed or not: the validation pass of each epoch, the test pass and the inference throughput
(on an H100 it made ResNet50's recorded inference 20x too slow). Here the last batch is padded
to the full batch size with copies of its last image, and the padded outputs are dropped
(`bench.training.batches`).
"""

from __future__ import annotations

import time

import keras
import numpy as np

from bench.training.batches import Batches


def predict(model: keras.Model, x, batch_size: int) -> np.ndarray:
    """model.predict(x) in batches of exactly `batch_size` images (float32 outputs), read from
    `x` (an array or a view of the decoded cache) as they are needed."""
    if len(x) == 0:
        return np.zeros((0, *model.outputs[0].shape[1:]), np.float32)
    outputs = model.predict(Batches(x, None, batch_size, pad_last=True), verbose=0)
    return outputs[: len(x)].astype(np.float32, copy=False)


def predict_timed(model: keras.Model, x: np.ndarray, batch_size: int):
    """Outputs of x, and images per second measured after a warm-up batch of the same shape
    (so tracing and compilation stay out of the timed region)."""
    predict(model, x[: min(len(x), batch_size)], batch_size)
    start = time.perf_counter()
    outputs = predict(model, x, batch_size)
    return outputs, len(x) / (time.perf_counter() - start)


def sparse_cross_entropy(labels: np.ndarray, logits: np.ndarray) -> float:
    """Mean sparse categorical cross-entropy of logits, as Keras computes it (float64 here)."""
    logits = logits.astype(np.float64)
    top = logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(logits - top).sum(axis=1)) + top[:, 0]
    return float(np.mean(log_norm - logits[np.arange(len(labels)), labels]))
