"""Shared fixtures: real data, tiny settings."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("BENCH_OFFLINE", "1")  # tests never try to download
# Decoded folder images go to a cache of this test session, never to the user's ~/.cache.
os.environ.setdefault("BENCH_CACHE", tempfile.mkdtemp(prefix="bench-test-cache-"))

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("BENCH_SHARED", ROOT.parent / "shared"))
CIFAR_JPEG = SHARED / "datasets" / "cifar10-jpeg.tar.gz"


@pytest.fixture(scope="session")
def cifar_slice(tmp_path_factory) -> Path:
    """A small real slice of the shared CIFAR-10 JPEG copy: 20 train and 10 test images/class."""
    if not CIFAR_JPEG.is_file():
        pytest.skip(f"shared CIFAR-10 JPEG archive not found at {CIFAR_JPEG}")
    root = tmp_path_factory.mktemp("cifar10-slice")
    wanted = {"train": 20, "test": 10}
    taken: Counter = Counter()
    with tarfile.open(CIFAR_JPEG) as tar:
        for member in tar:
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) < 3 or ".." in parts:
                continue
            split, cls = parts[-3], parts[-2]
            if split in wanted and taken[split, cls] < wanted[split]:
                taken[split, cls] += 1
                target = root / split / cls / parts[-1]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(tar.extractfile(member).read())
    assert len({c for _, c in taken}) == 10, "the slice should hold all ten classes"
    return root


def random_weights(model: str, folder: Path, seed: int = 0) -> Path:
    """A file of random backbone weights at 32x32: what a user offline passes as --weights
    instead of imagenet (the protocol treats any weights file as pretrained)."""
    import keras

    keras.utils.set_random_seed(seed)
    path = folder / f"{model.lower()}.weights.h5"
    constructor = getattr(keras.applications, model)
    constructor(include_top=False, weights=None, input_shape=(32, 32, 3)).save_weights(path)
    return path


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None):
    """`python -m bench ARGS` in a fresh process, as a user would run it."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=cwd or ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=900,
    )
