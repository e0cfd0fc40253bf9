"""A data set as every run takes it: uint8 RGB images (arrays, or views of the decoded cache:
`bench.data.images`), integer labels, class names, and a fingerprint of the images (part of
every run id, so changed data is run again)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.data.images import Images

IMAGE_FIELDS = ("x_train", "x_val", "x_test")


@dataclass
class Dataset:
    name: str
    x_train: np.ndarray | Images  # uint8, (N, H, W, 3)
    y_train: np.ndarray  # int32, (N,)
    x_test: np.ndarray | Images
    y_test: np.ndarray
    class_names: list[str]
    x_val: np.ndarray | Images | None = None  # the data set's own validation split, if any
    y_val: np.ndarray | None = None
    fingerprint: str = ""  # changes when the images do: part of every run id

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def on_disk(self, folder: Path) -> Dataset:
        """The same data set with every image array in memory saved once under `folder`, so
        each image field is a view of a file (pickled as its path, not its pixels)."""
        saved: dict[int, Images] = {}  # by the array's identity: views of one base share it
        views = {}
        for name in IMAGE_FIELDS:
            x = getattr(self, name)
            if x is None:
                continue
            view = Images.of(x)
            if view.path is None:
                if id(view.base) not in saved:
                    path = folder / f"{name}.npy"
                    np.save(path, view.base)
                    saved[id(view.base)] = Images.mapped(path)
                view = Images(saved[id(view.base)].base, view.index, saved[id(view.base)].path)
            views[name] = view
        return dataclasses.replace(self, **views)

    def in_memory(self) -> Dataset:
        """The same data set with every image field read into memory (for a machine that does
        not have the decoded cache's files)."""
        arrays = {
            n: np.asarray(getattr(self, n)) for n in IMAGE_FIELDS if getattr(self, n) is not None
        }
        return dataclasses.replace(self, **arrays)


def as_dataset(
    name: str, x_train, y_train, x_test, y_test, class_names, *, fingerprint: str, val=None
) -> Dataset:
    """Normalise arrays from any loader to the one layout every run expects. `val`: an
    (images, labels) validation split of the data set's own."""

    def images(x) -> np.ndarray | Images:
        if isinstance(x, Images):  # the decoded cache's uint8 RGB already
            return x
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
