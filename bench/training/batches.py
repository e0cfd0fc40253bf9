"""Batches read from a split's images as training and prediction ask for them, never a copy of
the split: a `keras.utils.PyDataset` over a view (`bench.data.images`), so every backend reads
the decoded cache's memory map the same way.

The next batches are read while the model computes on this one (`read_ahead_threads`). Training
order is a permutation drawn from the run's seed for each epoch, so the same seed on the same
backend reproduces a run exactly, whatever the number of threads (batches come back in order).
"""

from __future__ import annotations

import math
import os

import keras
import numpy as np

from bench.data.images import Images

QUEUE = 8  # batches read ahead at most: bounded memory, whatever the data set's size


def read_ahead_threads() -> int:
    """Threads reading the next batches (Keras's PyDataset workers). Measured on 2 cores with
    TensorFlow: CIFAR-10 at 32 px, a small CNN waited for data 34% of each epoch with tf.data's
    own read-ahead alone (one thread here), 0.2% with two threads, and trained 1.5x faster;
    images stored at 224 px trained 10% faster with two threads than with one or three. On JAX
    and PyTorch nothing else reads ahead; up to four threads there."""
    cores = os.cpu_count() or 1
    return min(2 if keras.backend.backend() == "tensorflow" else 4, max(cores, 2))


class Batches(keras.utils.PyDataset):
    """(images, labels) batches of `images` (labels None: images alone, for prediction).
    `seed`: shuffle, a new permutation each epoch drawn from (seed, epoch); None: in order.
    `pad_last`: the last batch padded to the full size with copies of its last image (one
    shape for a compiled backend: bench.training.prediction); `len(images)` rows are real."""

    def __init__(
        self,
        images,
        labels: np.ndarray | None,
        batch_size: int,
        *,
        seed: int | None = None,
        pad_last: bool = False,
        threads: int | None = None,
    ):
        threads = read_ahead_threads() if threads is None else threads
        super().__init__(workers=threads, use_multiprocessing=False, max_queue_size=QUEUE)
        self.images = Images.of(images)
        self.labels = None if labels is None else np.asarray(labels)
        self.batch_size, self.seed, self.pad_last = batch_size, seed, pad_last
        self.epoch = 0
        self.order = self._order()

    def _order(self) -> np.ndarray:
        if self.seed is None:
            return np.arange(len(self.images))
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.images))

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def __getitem__(self, index: int):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        x = self.images[rows]
        if self.pad_last and len(rows) < self.batch_size:
            x = np.concatenate([x, np.repeat(x[-1:], self.batch_size - len(rows), axis=0)])
        return (x,) if self.labels is None else (x, self.labels[rows])

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self.order = self._order()
