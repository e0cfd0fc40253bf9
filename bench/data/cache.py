"""Decoded images on disk, so a folder data set is decoded once, not once per run or suite.

An entry is keyed by what the images are made from: every file's path, size and modification
time, the class order and the storage size. A file added, removed or changed gives a new key,
and the old entry is simply no longer used. Entries are folders of .npy files, read back
memory-mapped; they are written to a temporary folder and renamed, so a killed run leaves no
half entry. The cache lives in $BENCH_CACHE, else $XDG_CACHE_HOME/bench, else ~/.cache/bench.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.common.hashing import stable_hash
from bench.common.paths import cache_root

log = logging.getLogger("bench")
VERSION = 1  # bump when the decoding changes, so old entries are not reused


def key_of(paths: list[Path], classes: list[str], size: int | None) -> str:
    stats = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in paths]
    return stable_hash({"version": VERSION, "files": stats, "classes": classes, "size": size}, 24)


def cached_arrays(
    key: str, decode: Callable[[], tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of the entry `key`, decoding and storing them first if needed."""
    entry = cache_root() / "decoded" / key
    if (entry / "done.json").is_file():
        log.debug("decoded images from the cache: %s", entry)
        return np.load(entry / "images.npy", mmap_mode="r"), np.load(entry / "labels.npy")
    images, labels = decode()
    try:
        _store(entry, images, labels)
    except OSError as err:  # a full or read-only disk costs speed, never the run
        log.warning("could not cache decoded images in %s: %s", entry.parent, err.strerror)
    return images, labels


def _store(entry: Path, images: np.ndarray, labels: np.ndarray) -> None:
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=entry.parent, prefix=f".{entry.name}."))
    try:
        np.save(staging / "images.npy", images)
        np.save(staging / "labels.npy", labels)
        (staging / "done.json").write_text(json.dumps({"count": len(labels)}))
        if not entry.exists():  # another process may have stored the same entry meanwhile
            os.replace(staging, entry)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
