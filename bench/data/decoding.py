"""Image files decoded to uint8 RGB at one size by worker processes on every core, each
writing its chunk straight into the rows of the decoded cache's memory-mapped file: no pixel is
sent between processes and no process holds the data set. Pillow reads any format it knows;
grayscale, palette and RGBA become RGB.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

log = logging.getLogger("bench")

FALLBACK_SIZE = 224  # images of differing sizes are stored at this size unless one is set
CHUNK = 256  # images a worker decodes per task: its start-up cost is noise beside them
UNREADABLE = (
    UnidentifiedImageError,
    Image.DecompressionBombError,
    OSError,
    ValueError,
    SyntaxError,
)


Size = tuple[int, int]  # (width, height), as Pillow gives it


def decode_one(path: Path, size: Size) -> np.ndarray | None:
    """The image at `path` as (height, width, 3) uint8, or None when it cannot be read."""
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            if image.size != size:
                image = image.resize(size, Image.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except UNREADABLE:
        return None  # counted and reported by the caller


def decode_rows(paths: list[Path], size: Size, target: Path, first: int) -> np.ndarray:
    """One task: decode `paths` into rows `first`... of the .npy file `target` (opened here, so
    no pixel crosses between processes); which of them could be read."""
    out = np.load(target, mmap_mode="r+")
    kept = np.zeros(len(paths), bool)
    for i, path in enumerate(paths):
        image = decode_one(path, size)
        if image is not None:
            out[first + i], kept[i] = image, True
    out.flush()
    return kept


def common_size(paths: list[Path]) -> Size:
    """The size to store native-size images at: theirs when every readable file has one size,
    else FALLBACK_SIZE square (with a warning). Reads headers only."""

    def size_of(path: Path):
        try:
            with Image.open(path) as image:
                return image.size
        except UNREADABLE:
            return None

    with ThreadPoolExecutor() as pool:
        sizes = {s for s in pool.map(size_of, paths) if s is not None}
    if len(sizes) == 1:
        return sizes.pop()
    if sizes:
        log.warning(
            "images differ in size: storing them at %dx%d (set storage_size)", *(FALLBACK_SIZE,) * 2
        )
    return FALLBACK_SIZE, FALLBACK_SIZE


@contextmanager
def workers() -> Iterator[Executor]:
    """Processes on every core where the platform can fork (a fork starts at once and imports
    nothing, so a user's script is never run again in a child); else threads (Pillow decodes
    without the GIL, so they still share the cores, less well)."""
    count = os.cpu_count() or 1
    if count < 2 or "fork" not in multiprocessing.get_all_start_methods():
        with ThreadPoolExecutor(count) as pool:
            yield pool
        return
    with warnings.catch_warnings():  # 3.12+ warns on fork in a threaded process; ours only decode
        warnings.simplefilter("ignore", DeprecationWarning)
        with ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("fork")) as pool:
            yield pool


def decode_into(paths: list[Path], size: Size, target: Path, label: str) -> np.ndarray:
    """Decode `paths` into the rows of the .npy file `target` (as many rows as paths), in
    chunks on every core, showing a bar with the count and the time left (for folders of 2,000
    images or more); which rows could be read."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    start = time.perf_counter()
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    kept = []
    with workers() as pool, Progress(*columns, transient=True, disable=len(paths) < 2000) as bar:
        task = bar.add_task(label, total=len(paths))
        firsts = range(0, len(paths), CHUNK)
        tasks = [pool.submit(decode_rows, paths[f : f + CHUNK], size, target, f) for f in firsts]
        for done in tasks:  # in order; each result is a small mask
            kept.append(done.result())
            bar.advance(task, len(kept[-1]))
    seconds = time.perf_counter() - start
    log.info("%s: %d files in %.1f s (%.0f a second)", label, len(paths), seconds,
             len(paths) / max(seconds, 1e-9))  # fmt: skip
    return np.concatenate(kept) if kept else np.zeros(0, bool)
