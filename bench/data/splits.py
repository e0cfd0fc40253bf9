"""Seeded, stratified splits: validation carved from train, and quick-trial subsets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from bench.errors import BenchError


def stratified_split(labels: np.ndarray, fraction: float, seed: int):
    """Indices (keep, held_out): held_out is `fraction` of each class, chosen by `seed`."""
    index = np.arange(len(labels))
    try:
        keep, held = train_test_split(index, test_size=fraction, stratify=labels, random_state=seed)
    except ValueError as err:
        raise BenchError(f"cannot split {len(labels)} images stratified by class: {err}") from None
    return np.sort(keep), np.sort(held)


def stratified_subset(labels: np.ndarray, size: int | None, seed: int) -> np.ndarray:
    """Indices of at most `size` examples with the class proportions of `labels`."""
    if size is None or size >= len(labels):
        return np.arange(len(labels))
    classes = len(np.unique(labels))
    if size < classes:
        raise BenchError(f"a limit of {size} images cannot hold all {classes} classes")
    keep, _ = stratified_split(labels, 1 - size / len(labels), seed)
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


def make_splits(
    dataset,
    val_fraction: float,
    seed: int,
    limit: int | None = None,
    test_limit: int | None = None,
    split_seed: int = 0,
) -> Splits:
    """Limit train (seeded by the run), carve validation from it, limit test (fixed seed)."""
    pool = stratified_subset(dataset.y_train, limit, seed)
    train, val = stratified_split(dataset.y_train[pool], val_fraction, seed)
    train, val = pool[train], pool[val]
    test = stratified_subset(dataset.y_test, test_limit, split_seed)
    return Splits(
        dataset.x_train[train],
        dataset.y_train[train],
        dataset.x_train[val],
        dataset.y_train[val],
        dataset.x_test[test],
        dataset.y_test[test],
    )
