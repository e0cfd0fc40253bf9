"""Images as every run reads them: an array of images (in memory, or memory-mapped from the
decoded cache) and which of its images are taken. A split or a subset is a list of row numbers,
never a copy of pixels: pixels are read when a batch asks for them (`bench.training.batches`),
so memory does not grow with the data set.

Pickled (to a run's process, to a Ray worker on this machine), a view of a file is its path and
its rows: the receiver maps the same file instead of receiving the pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class Images:
    """Rows `index` (None: all) of the uint8 array `base` (N, H, W, 3); `path`: the .npy
    file `base` is mapped from, if any."""

    def __init__(self, base: np.ndarray, index=None, path: Path | None = None):
        self.base, self.path = base, path
        self.index = None if index is None else np.asarray(index, dtype=np.int64)

    @classmethod
    def of(cls, x) -> Images:
        return x if isinstance(x, Images) else cls(np.asarray(x))

    @classmethod
    def mapped(cls, path: Path, index=None) -> Images:
        """A view of the .npy file `path`, mapped read-only."""
        return cls(np.load(path, mmap_mode="r"), index, Path(path))

    def __len__(self) -> int:
        return len(self.base) if self.index is None else len(self.index)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self.base.shape[1:])

    @property
    def dtype(self) -> np.dtype:
        return self.base.dtype

    def take(self, rows) -> Images:
        """A view of some of these images, by position: no pixel is read."""
        rows = np.asarray(rows, dtype=np.int64)
        return Images(self.base, rows if self.index is None else self.index[rows], self.path)

    def __getitem__(self, key) -> np.ndarray:
        """Pixels of the chosen images (an int, a slice or positions), read now."""
        if self.index is None and not isinstance(key, np.ndarray | list):
            return np.array(self.base[key])
        rows = np.arange(len(self))[key] if self.index is None else self.index[key]
        return read_rows(self.base, np.atleast_1d(rows)).reshape(np.shape(rows) + self.shape[1:])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        pixels = self[:]
        return pixels if dtype is None else pixels.astype(dtype)

    def __reduce__(self):
        if self.path is None:  # in memory: the rows it takes, not the whole base
            return Images, (self[:],)
        return Images.mapped, (self.path, self.index)


def read_rows(base: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """base[rows], reading a memory map in file order (sequential reads are what a disk and the
    page cache serve fastest), the result in the order asked for."""
    if not isinstance(base, np.memmap) or len(rows) < 2:
        return base[rows]
    order = np.argsort(rows, kind="stable")
    out = np.empty((len(rows), *base.shape[1:]), base.dtype)
    out[order] = base[rows[order]]
    return out


def take(x, rows) -> Images:
    """Rows of an array or a view, as a view."""
    return Images.of(x).take(rows)
