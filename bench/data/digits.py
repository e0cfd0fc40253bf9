"""scikit-learn's bundled 8x8 digits as 32x32 RGB: the embedded default that needs no download."""

from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image

from bench.common.hashing import stable_hash
from bench.data.dataset import Dataset, as_dataset
from bench.data.splits import stratified_split
from bench.settings import Settings

SIZE = 32


def load(*, argument: str | None, settings: Settings) -> Dataset:
    from sklearn.datasets import load_digits

    digits = load_digits()
    gray = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)  # 0..16 -> 0..255
    big = np.stack(
        [np.asarray(Image.fromarray(g).resize((SIZE, SIZE), Image.BILINEAR)) for g in gray]
    )
    labels = digits.target.astype(np.int32)
    test_fraction, split_seed = settings.test_fraction, settings.split_seed
    train, test = stratified_split(labels, test_fraction, split_seed)
    classes = [str(d) for d in range(10)]
    # The images come with scikit-learn, so their hash is taken, not a file's.
    fingerprint = hashlib.sha256(big.tobytes() + labels.tobytes()).hexdigest()[:16]
    fingerprint = stable_hash({"images": fingerprint, "test": test_fraction, "split": split_seed})
    return as_dataset(
        "digits",
        big[train],
        labels[train],
        big[test],
        labels[test],
        classes,
        fingerprint=fingerprint,
    )
