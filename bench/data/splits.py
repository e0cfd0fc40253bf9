"""Seeded, stratified splits: validation carved from train, and quick-trial subsets."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bench.data.images import Images, take
from bench.errors import BenchError


def stratified_split(labels: np.ndarray, fraction: float, seed: int, what: str = "split"):
    """Indices (keep, held_out): held_out is `fraction` of each class, chosen by `seed`."""
    from sklearn.model_selection import train_test_split  # 1.5 s: not for `bench --help`

    index = np.arange(len(labels))
    classes, held = len(np.unique(labels)), math.ceil(fraction * len(labels))
    if min(held, len(labels) - held) < classes:
        raise BenchError(
            f"{what}: {fraction:g} of {len(labels)} images leaves {min(held, len(labels) - held)}"
            f" images on one side, fewer than the {classes} classes each side must hold"
        )
    try:
        keep, held = train_test_split(index, test_size=fraction, stratify=labels, random_state=seed)
    except ValueError as err:
        raise BenchError(f"{what}: cannot split {len(labels)} images by class: {err}") from None
    return np.sort(keep), np.sort(held)


def stratified_subset(
    labels: np.ndarray, size: int | None, seed: int, what: str = "limit"
) -> np.ndarray:
    """Indices of at most `size` examples with the class proportions of `labels`."""
    if size is None or size >= len(labels):
        return np.arange(len(labels))
    classes = len(np.unique(labels))
    if size < classes:
        raise BenchError(f"{what}={size}: {size} images cannot hold all {classes} classes")
    keep, _ = stratified_split(labels, 1 - size / len(labels), seed, what)
    return keep


def per_class_subset(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Indices of `per_class` examples of each class, nested: each class's examples are put in
    one order by `seed`, and a size takes the first `per_class` of it, so the 5-per-class set
    of a seed holds its 1-per-class set. A class with fewer examples is an error."""
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < per_class:
            raise BenchError(
                f"train_per_class={per_class}: class {label} has only {len(members)} training "
                "images (after the validation split); ask for fewer, or all"
            )
        chosen.append(rng.permutation(members)[:per_class])
    return np.sort(np.concatenate(chosen))


@dataclass
class Splits:
    """What one run trains, validates and tests on. Test is only for the final evaluations.
    Images are views (`bench.data.images`): a split holds row numbers, not pixels."""

    x_train: Images
    y_train: np.ndarray
    x_val: Images
    y_val: np.ndarray
    x_test: Images
    y_test: np.ndarray

    @property
    def sizes(self) -> dict[str, int]:
        return {
            "train_size": len(self.y_train),
            "val_size": len(self.y_val),
            "test_size": len(self.y_test),
        }


def split_indices(
    dataset,
    val_fraction: float,
    seed: int,
    limit: int | None = None,
    test_limit: int | None = None,
    split_seed: int = 0,
    per_class: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Indices of (train, validation, test): limit train (seeded by the run), carve validation
    from it unless the data set has its own (then None: all of it), keep `per_class` training
    images of each class (None: all), limit test (fixed seed). Validation is carved before
    the per-class subset, so every size of a seed has the same validation split, as large as
    with all images: early stopping still works at 1 image per class. Cheap, so every seed's
    splits are checked before any run starts."""
    pool = stratified_subset(dataset.y_train, limit, seed, "limit")
    if dataset.y_val is not None:
        train, val = pool, None
    else:
        train, val = stratified_split(
            dataset.y_train[pool], val_fraction, seed, "validation split (val_fraction)"
        )
        train, val = pool[train], pool[val]
    if per_class is not None:
        train = train[per_class_subset(dataset.y_train[train], per_class, seed)]
    test = stratified_subset(dataset.y_test, test_limit, split_seed, "test_limit")
    return train, val, test


def make_splits(dataset, *args, **kwargs) -> Splits:
    """The views of split_indices(dataset, ...)."""
    train, val, test = split_indices(dataset, *args, **kwargs)
    x_val, y_val = (
        (Images.of(dataset.x_val), dataset.y_val)
        if val is None
        else (take(dataset.x_train, val), dataset.y_train[val])
    )
    return Splits(
        take(dataset.x_train, train),
        dataset.y_train[train],
        x_val,
        y_val,
        take(dataset.x_test, test),
        dataset.y_test[test],
    )
