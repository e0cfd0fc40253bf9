"""Seeded, stratified splits: validation carved from train, and quick-trial subsets."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

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


@dataclass
class Splits:
    """What one run trains, validates and tests on. Test is only for the final evaluations."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
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
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Indices of (train, validation, test): limit train (seeded by the run), carve validation
    from it unless the data set has its own (then None: all of it), limit test (fixed seed).
    Cheap, so every seed's splits are checked before any run starts."""
    pool = stratified_subset(dataset.y_train, limit, seed, "limit")
    if dataset.y_val is not None:
        train, val = pool, None
    else:
        train, val = stratified_split(
            dataset.y_train[pool], val_fraction, seed, "validation split (val_fraction)"
        )
        train, val = pool[train], pool[val]
    test = stratified_subset(dataset.y_test, test_limit, split_seed, "test_limit")
    return train, val, test


def make_splits(dataset, *args, **kwargs) -> Splits:
    """The arrays of split_indices(dataset, ...)."""
    train, val, test = split_indices(dataset, *args, **kwargs)
    x_val, y_val = (
        (dataset.x_val, dataset.y_val)
        if val is None
        else (dataset.x_train[val], dataset.y_train[val])
    )
    return Splits(
        dataset.x_train[train],
        dataset.y_train[train],
        x_val,
        y_val,
        dataset.x_test[test],
        dataset.y_test[test],
    )
