"""The frozen backbone's pooled features of a run's splits, each computed once: the linear
probe and the frozen phase in `features` mode read the same arrays where they run together."""

from __future__ import annotations

import functools
import time

import keras
import numpy as np

from bench.training import prediction


class Features:
    """Pooled features (the classifier's `pool` layer, inference mode: no augmentation, the
    pretrained BatchNormalization statistics) by split name, and the seconds each took."""

    def __init__(self, model: keras.Model, batch_size: int):
        self.model, self.batch_size = model, batch_size
        self.arrays: dict[str, np.ndarray] = {}
        self.seconds: dict[str, float] = {}

    @functools.cached_property
    def extractor(self) -> keras.Model:
        """Built when first needed: a baseline trained from scratch has no `pool` layer."""
        return keras.Model(self.model.inputs, self.model.get_layer("pool").output)

    def of(self, split: str, images: np.ndarray) -> np.ndarray:
        if split not in self.arrays:
            start = time.perf_counter()
            self.arrays[split] = prediction.predict(self.extractor, images, self.batch_size)
            self.seconds[split] = time.perf_counter() - start
        return self.arrays[split]

    def timed(self, split: str, images: np.ndarray) -> tuple[np.ndarray, float]:
        """Features of `images` and images per second, timed after a warm-up batch: the
        inference throughput of a backbone whose head is linear (the head's cost is noise)."""
        self.arrays[split], rate = prediction.predict_timed(self.extractor, images, self.batch_size)
        self.seconds[split] = len(images) / rate
        return self.arrays[split], rate

    def time_of(self, *splits: str) -> float:
        """Seconds the splits' features took to compute, whichever phase computed them."""
        return sum(self.seconds[s] for s in splits)
