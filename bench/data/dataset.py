"""A data set as every run takes it: uint8 RGB images, integer labels, class names, and a
fingerprint of the images (part of every run id, so changed data is run again)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Dataset:
    name: str
    x_train: np.ndarray  # uint8, (N, H, W, 3)
    y_train: np.ndarray  # int32, (N,)
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    x_val: np.ndarray | None = None  # a validation split of the data set's own, if it has one
    y_val: np.ndarray | None = None
    fingerprint: str = ""  # changes when the images do: part of every run id

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def as_dataset(
    name: str, x_train, y_train, x_test, y_test, class_names, *, fingerprint: str, val=None
) -> Dataset:
    """Normalise arrays from any loader to the one layout every run expects. `val`: an
    (images, labels) validation split of the data set's own."""

    def images(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim == 3:
            x = x[..., None]
        if x.shape[-1] == 1:
            x = np.repeat(x, 3, axis=-1)
        return np.ascontiguousarray(x, dtype=np.uint8)

    def labels(y) -> np.ndarray:
        return np.asarray(y, dtype=np.int32).reshape(-1)

    return Dataset(
        name,
        images(x_train),
        labels(y_train),
        images(x_test),
        labels(y_test),
        list(class_names),
        x_val=None if val is None else images(val[0]),
        y_val=None if val is None else labels(val[1]),
        fingerprint=fingerprint,
    )
