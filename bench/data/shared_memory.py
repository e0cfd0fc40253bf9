"""The suite's data set, shared with every run's process as memory-mapped .npy files."""

from __future__ import annotations

import os
import pickle
import shutil
import socket
import tempfile
from pathlib import Path

import psutil

from bench.common.paths import cache_root
from bench.data.dataset import Dataset


class SharedDataset:
    """The suite's data set as each run's process receives it: images already in the decoded
    cache are passed as views of its files (their paths and rows), and images held in memory
    (a built-in or downloaded data set) are saved once as .npy files that each run's process
    maps read-only, instead of being decoded again or pickled through a pipe for every run.
    The copy lives in bench's cache folder under the suite's process id, so a copy left by a
    killed suite is found and removed by the next one."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.folder: Path | None = None

    def __enter__(self) -> SharedDataset:
        root = copies_folder()
        root.mkdir(parents=True, exist_ok=True)
        remove_stale_copies()
        self.folder = Path(tempfile.mkdtemp(dir=root, prefix=f"{os.getpid()}-"))
        shared = self.dataset.on_disk(self.folder)
        (self.folder / "dataset.pkl").write_bytes(pickle.dumps(shared))
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
    """The suite's data set in a run's process: its images mapped, not copied."""
    return pickle.loads((folder / "dataset.pkl").read_bytes())


def for_hosts(dataset: Dataset, hosts: list[str]) -> Dataset:
    """The data set as processes on `hosts` can read it. On this machine alone, views of the
    decoded cache go as their paths and rows (the processes map the same files); with a host
    elsewhere, the pixels go (a Ray cluster's object store carries them)."""
    if all(host == socket.gethostname() for host in hosts):
        return dataset
    return dataset.in_memory()
