"""The suite's data set, shared with every run's process as memory-mapped .npy files."""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from pathlib import Path

import numpy as np
import psutil

from bench.common.paths import cache_root
from bench.data.dataset import Dataset

ARRAYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


class SharedDataset:
    """The suite's data set, saved once as .npy files that each run's process maps read-only,
    instead of being decoded again or pickled through a pipe for every run. The copy lives in
    bench's cache folder under the suite's process id, so a copy left by a killed suite is
    found and removed by the next one."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.folder: Path | None = None

    def __enter__(self) -> SharedDataset:
        root = copies_folder()
        root.mkdir(parents=True, exist_ok=True)
        remove_stale_copies()
        self.folder = Path(tempfile.mkdtemp(dir=root, prefix=f"{os.getpid()}-"))
        for name in ARRAYS:
            array = getattr(self.dataset, name)
            if array is not None:
                np.save(self.folder / f"{name}.npy", array)
        meta = {
            "name": self.dataset.name,
            "class_names": self.dataset.class_names,
            "fingerprint": self.dataset.fingerprint,
        }
        (self.folder / "meta.pkl").write_bytes(pickle.dumps(meta))
        return self

    def __exit__(self, *_) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def copies_folder() -> Path:
    return cache_root() / "suites"


def remove_stale_copies() -> None:
    """Remove the data copies of suites whose process is gone (killed with SIGKILL)."""
    root = copies_folder()
    if not root.is_dir():
        return
    for folder in root.iterdir():
        pid = folder.name.split("-", 1)[0]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def load_shared(folder: Path) -> Dataset:
    meta = pickle.loads((folder / "meta.pkl").read_bytes())
    optional = {"x_val", "y_val"}  # only a data set with a validation split of its own
    arrays = {
        name: np.load(folder / f"{name}.npy", mmap_mode="r")
        for name in ARRAYS
        if name not in optional or (folder / f"{name}.npy").exists()
    }
    return Dataset(
        meta["name"], **arrays, class_names=meta["class_names"], fingerprint=meta["fingerprint"]
    )
