"""Image class folders: `PATH/<class>/`, split into train and test here, or a split layout:
`PATH/train/<class>/` with `PATH/val/<class>/` (or `valid/`, `validation/`) and/or
`PATH/test/<class>/`. A validation folder replaces the validation split carved from train.

Any format Pillow reads; grayscale, palette and RGBA images become RGB. Images are stored at
one size (`storage_size`; 0 keeps the native size when all images share one, else 224) so they
stack into one uint8 array; the model resizes to its own input size on the device. Files are
decoded by worker processes straight into the decoded cache on disk (bench.data.decoding,
bench.data.cache), and every split is a view of it: later runs decode no JPEG at all, and no
process holds the whole data set in memory.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from bench.common.hashing import stable_hash
from bench.data.cache import cached_images, key_of
from bench.data.dataset import Dataset, as_dataset
from bench.data.decoding import common_size, decode_into
from bench.data.images import take
from bench.data.splits import stratified_split
from bench.errors import BenchError
from bench.settings import Settings

log = logging.getLogger("bench")

VALIDATION_NAMES = ("val", "valid", "validation")
SPLIT_NAMES = ("train", "test", *VALIDATION_NAMES)
EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm"}


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def class_folders(root: Path) -> dict[str, list[Path]]:
    """Image files per class folder, hidden entries and non-image files left out."""
    classes = sorted(p for p in root.iterdir() if p.is_dir() and _visible(p))
    files = {}
    for folder in classes:
        entries = sorted(p for p in folder.rglob("*") if p.is_file() and _visible(p))
        images = [p for p in entries if p.suffix.lower() in EXTENSIONS]
        if len(entries) > len(images):
            log.warning("%s: skipped %d non-image files", folder, len(entries) - len(images))
        if not images:
            raise BenchError(f"class folder {folder} holds no images")
        files[folder.name] = images
    if len(files) < 2:
        raise BenchError(f"{root} needs at least two class folders, found {len(files)}")
    return files


def _load_split(files: dict[str, list[Path]], classes: list[str], size: int | None):
    """(images view, labels, cache key) of one split's class folders, decoded into the cache
    by `bench.data.decoding` the first time."""
    paths = [p for c in classes for p in files[c]]
    of_file = np.array([i for i, c in enumerate(classes) for _ in files[c]], dtype=np.int32)

    def make():
        stored = (size, size) if size else common_size(paths)
        return len(paths), (stored[1], stored[0], 3), lambda target: fill(stored, target)

    def fill(stored, target: Path):
        kept = decode_into(paths, stored, target, f"decoding {paths[0].parent.parent}")
        if not kept.all():
            log.warning("skipped %d unreadable image files", int((~kept).sum()))
        return of_file[kept], kept

    key = key_of(paths, classes, size)
    images, labels = cached_images(key, make)
    empty = [c for i, c in enumerate(classes) if not np.any(labels == i)]
    if empty:
        raise BenchError(f"class '{empty[0]}' has no readable images")
    return images, labels, key


def split_folders(root: Path) -> dict[str, Path] | None:
    """The split folders of a split layout (`train/` with `val/`, `valid/` or `validation/`,
    and/or `test/`), or None for a folder of class folders. Folders named like splits that
    form no such layout are an error, not classes called "train" and "val"."""
    tops = {p.name: p for p in root.iterdir() if p.is_dir() and _visible(p)}
    named = {name.lower(): path for name, path in tops.items() if name.lower() in SPLIT_NAMES}
    if not named:
        return None
    vals = [n for n in named if n in VALIDATION_NAMES]
    if len(named) < len(tops) or "train" not in named or len(vals) > 1 or len(named) < 2:
        raise BenchError(
            f"{root}: folders {', '.join(sorted(tops))} look like splits but form no layout; "
            "expected train/ with val/ (or valid/, validation/) and/or test/, each holding the "
            "same class folders"
        )
    splits = {"train": named["train"], "test": named.get("test")}
    splits["val"] = named[vals[0]] if vals else None
    return splits


def check(*, argument: str | None, settings: Settings) -> None:
    if not Path(str(argument)).expanduser().is_dir():
        raise BenchError(f"data folder not found: {Path(str(argument)).expanduser()}")


def load(*, argument: str | None, settings: Settings) -> Dataset:
    """Images in class folders under the path `argument`, stored at `settings.storage_size`."""
    check(argument=argument, settings=settings)
    root = Path(argument).expanduser()
    storage_size = settings.storage_size
    test_fraction, split_seed = settings.test_fraction, settings.split_seed
    size = storage_size or None
    name = f"folder:{root.name}"
    splits = split_folders(root)
    if splits is None:  # one set of class folders, split into train and test here
        files = class_folders(root)
        classes = sorted(files)
        images, labels, key = _load_split(files, classes, size)
        train, test = stratified_split(labels, test_fraction, split_seed)
        fingerprint = stable_hash({"all": key, "test": test_fraction, "split": split_seed})
        return as_dataset(
            name,
            take(images, train),
            labels[train],
            take(images, test),
            labels[test],
            classes,
            fingerprint=fingerprint,
        )
    files = {split: class_folders(folder) for split, folder in splits.items() if folder}
    classes = sorted(files["train"])
    for split, found in files.items():
        if set(found) != set(classes):
            diff = sorted(set(found) ^ set(classes))
            raise BenchError(f"{root}: train and {split} class folders differ (e.g. '{diff[0]}')")
    loaded = {split: _load_split(found, classes, size) for split, found in files.items()}
    shapes = {images.shape[1:] for images, _, _ in loaded.values()}
    if len(shapes) > 1:
        raise BenchError(f"{root}: the splits' images differ in size; set storage_size")
    keys = {split: key for split, (_, _, key) in loaded.items()}
    x_train, y_train, _ = loaded["train"]
    val = loaded["val"][:2] if "val" in loaded else None
    if "test" in loaded:
        x_test, y_test, _ = loaded["test"]
    else:  # train/ and val/ only: the test split is carved from train/, never taken from val/
        keep, test = stratified_split(y_train, test_fraction, split_seed)
        x_train, y_train, x_test, y_test = (
            take(x_train, keep),
            y_train[keep],
            take(x_train, test),
            y_train[test],
        )
        keys |= {"test_fraction": test_fraction, "split_seed": split_seed}
    return as_dataset(
        name, x_train, y_train, x_test, y_test, classes, val=val, fingerprint=stable_hash(keys)
    )
