"""Data sets, all as uint8 RGB images with integer labels and class names.

`load_dataset("cifar10" | "cifar100" | "digits" | "folder:PATH", ...)` returns a `Dataset`;
`bench.data.splits` carves the validation split from its training images, unless the data set
brings a validation split of its own (a folder's `val/`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.errors import BenchError

NAMES = ("cifar10", "cifar100", "digits", "folder:PATH")


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


def load_dataset(
    name: str,
    data_dir: str | None = None,
    storage_size: int = 0,
    test_fraction: float = 0.2,
    split_seed: int = 0,
) -> Dataset:
    """Load a data set by name. Raises BenchError with what to do when it is not available."""
    from bench.data import cifar, digits, folder

    if name in ("cifar10", "cifar100"):
        return cifar.load(name, data_dir)
    if name == "digits":
        return digits.load(test_fraction, split_seed)
    if name.startswith("folder:"):
        return folder.load(name.split(":", 1)[1], storage_size, test_fraction, split_seed)
    raise BenchError(f"unknown data set '{name}' (choose from: {', '.join(NAMES)})")


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
