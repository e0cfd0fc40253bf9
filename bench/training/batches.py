"""Batches read from a split's images as training and prediction ask for them, never a copy of
the split: a `keras.utils.PyDataset` over a view (`bench.data.images`), so every backend reads
the decoded cache's memory map the same way.

Threads prepare the next batches while the model computes on this one (reading a memory map
and copying rows release the GIL where the backend's kernels do not need it). Training order
is a permutation drawn from the run's seed for each epoch, so the same seed on the same
backend reproduces a run exactly, whatever the number of threads (batches come back in order).
"""

from __future__ import annotations

import math
import os

import keras
import numpy as np

from bench.data.images import Images

THREADS = min(4, os.cpu_count() or 1)  # reading ahead; more only copies faster than it is used
QUEUE = 8  # batches read ahead at most: bounded memory, whatever the data set's size


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
        threads: int = THREADS,
    ):
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
