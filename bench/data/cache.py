"""Decoded images on disk, so a folder data set is decoded once, not once per run or suite.

An entry is keyed by what the images are made from: every file's path, size and modification
time, the class order and the storage size. A file added, removed or changed gives a new key,
and the old entry is simply no longer used. Entries are folders of .npy files, read back
memory-mapped (`bench.data.images`); a new entry is written chunk by chunk into a memory map
in a temporary folder, which is renamed when complete, so a killed run leaves no half entry and
no process ever holds all of its images. The cache lives in $BENCH_CACHE, else
$XDG_CACHE_HOME/bench, else ~/.cache/bench.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from bench.common.hashing import stable_hash
from bench.common.paths import cache_root
from bench.data.images import Images
from bench.errors import BenchError

log = logging.getLogger("bench")
VERSION = 1  # bump when the decoding changes, so old entries are not reused

Chunks = Iterable[tuple[np.ndarray, np.ndarray]]  # (images, labels), in order
# Fills the .npy file it is given (rows of zeros, `count` of them): (labels of the rows kept,
# which rows are kept). A filler may write the file itself from other processes.
Fill = Callable[[Path], tuple[np.ndarray, np.ndarray]]
Made = tuple[int, tuple[int, int, int], Fill]  # at most how many images, their shape, a filler


def key_of(paths: list[Path], classes: list[str], size: int | None) -> str:
    stats = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in paths]
    return stable_hash({"version": VERSION, "files": stats, "classes": classes, "size": size}, 24)


def cached_images(key: str, make: Callable[[], Made]) -> tuple[Images, np.ndarray]:
    """(images, labels) of the entry `key`: a view of its memory-mapped images and its labels.
    A missing entry is made first by `make()`'s filler: at most `count` images of `shape`."""
    entry = cache_root() / "decoded" / key
    if not (entry / "done.json").is_file():
        try:
            _store(entry, *make())
        except OSError as err:
            raise BenchError(
                f"cannot write decoded images to {entry.parent}: {err.strerror}; set "
                "BENCH_CACHE to a folder with room for them (storage_size² x 3 bytes an image)"
            ) from None
    else:
        log.debug("decoded images from the cache: %s", entry)
    return Images.mapped(entry / "images.npy"), np.load(entry / "labels.npy")


def _store(entry: Path, count: int, shape: tuple[int, int, int], fill: Fill) -> None:
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=entry.parent, prefix=f".{entry.name}."))
    try:
        images = staging / "images.npy"
        np.lib.format.open_memmap(images, "w+", np.uint8, (count, *shape)).flush()
        labels, kept = fill(images)
        if not kept.all():  # unreadable files were skipped: keep the rows decoded
            _keep_rows(images, kept)
        np.save(staging / "labels.npy", np.asarray(labels, np.int32))
        (staging / "done.json").write_text(json.dumps({"count": int(kept.sum())}))
        if not entry.exists():  # another process may have stored the same entry meanwhile
            os.replace(staging, entry)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _keep_rows(path: Path, kept: np.ndarray, chunk: int = 1024) -> None:
    """Keep the rows `kept` of the .npy file at `path`, copying chunk by chunk."""
    old, rows = np.load(path, mmap_mode="r"), np.flatnonzero(kept)
    smaller = path.with_name("kept.npy")
    new = np.lib.format.open_memmap(smaller, "w+", old.dtype, (len(rows), *old.shape[1:]))
    for first in range(0, len(rows), chunk):
        new[first : first + chunk] = old[rows[first : first + chunk]]
    new.flush()
    del new, old
    os.replace(smaller, path)


def filler_of(chunks: Callable[[], Chunks]) -> Fill:
    """A filler writing `chunks()` in order into the file, in this process."""

    def fill(path: Path) -> tuple[np.ndarray, np.ndarray]:
        out = np.load(path, mmap_mode="r+")
        written, labels = 0, []
        for images, chunk_labels in chunks():
            out[written : written + len(images)] = images
            written += len(images)
            labels.append(np.asarray(chunk_labels, np.int32))
        out.flush()
        kept = np.arange(len(out)) < written
        return np.concatenate(labels or [np.zeros(0, np.int32)]), kept

    return fill
