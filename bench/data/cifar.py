"""CIFAR-10 and CIFAR-100 from the official python archives.

Looked for, in order: `--data-dir`, then the Keras cache (`$KERAS_HOME` or ~/.keras, in every
layout Keras has used), then downloaded through `keras.datasets` when online. Batches are
pickles, so they are read through an unpickler that admits only the plain types the format
uses (a crafted file cannot run code), and archives are read in memory, never extracted.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
import socket
import tarfile
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from bench.common.paths import keras_home
from bench.data.dataset import Dataset, as_dataset
from bench.errors import BenchError
from bench.settings import Settings

FORMATS = {
    "cifar10": {
        "title": "CIFAR-10",
        "archive": "cifar-10-python.tar.gz",
        "url": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "inner": "cifar-10-batches-py",
        "train": [f"data_batch_{i}" for i in range(1, 6)],
        "test": ["test_batch"],
        "meta": ("batches.meta", b"label_names"),
        "labels": b"labels",
    },
    "cifar100": {
        "title": "CIFAR-100",
        "archive": "cifar-100-python.tar.gz",
        "url": "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "inner": "cifar-100-python",
        "train": ["train"],
        "test": ["test"],
        "meta": ("meta", b"fine_label_names"),
        "labels": b"fine_labels",
    },
}

# The only globals a CIFAR batch needs: numpy's array reconstruction, and bytes decoding.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused to load {module}.{name}")


def safe_unpickle(data: bytes, where: str) -> dict:
    try:
        obj = _SafeUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as err:
        raise BenchError(f"{where} is not a valid CIFAR batch: {err}") from None
    if not isinstance(obj, dict):
        raise BenchError(f"{where} is not a valid CIFAR batch: not a dict")
    return obj


def keras_cache() -> Path:
    return keras_home() / "datasets"


def _candidates(fmt: dict, folder: Path) -> list[Path]:
    """Archives or extracted folders, in the layouts of the official file and of Keras 2/3."""
    stem = fmt["inner"]
    return [
        folder / fmt["archive"],
        folder / f"{stem}.tar.gz",
        folder / f"{stem}-target_archive",
        folder / stem,
        folder / f"{stem}-target" / stem,
    ]


def locate(name: str, data_dir: str | None) -> Path | None:
    fmt = FORMATS[name]
    folders = [Path(data_dir)] if data_dir else [keras_cache()]
    for folder in folders:
        for path in _candidates(fmt, folder):
            if path.is_file() or (path / fmt["test"][0]).is_file():
                return path
    return None


def _read_members(path: Path, inner: str, names: list[str]) -> dict[str, bytes]:
    """The named batch files, from an extracted folder or from a tar archive in memory."""
    if path.is_dir():
        return {n: (path / n).read_bytes() for n in names}
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(path) as tar:
            for member in tar:
                parts = Path(member.name).parts
                if member.name.startswith("/") or ".." in parts:
                    raise BenchError(f"{path}: unsafe archive member '{member.name}'")
                if member.isfile() and len(parts) == 2 and parts[0] == inner and parts[1] in names:
                    found[parts[1]] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise BenchError(f"{path} is not a readable CIFAR archive: {err}") from None
    missing = sorted(set(names) - set(found))
    if missing:
        raise BenchError(f"{path} lacks {inner}/{missing[0]}: not the official archive?")
    return found


def _images(batch: dict, where: str) -> np.ndarray:
    data = np.asarray(batch.get(b"data"))
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise BenchError(f"{where}: expected rows of 3072 pixels, got shape {data.shape}")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype(np.uint8)


def read(name: str, path: Path) -> Dataset:
    fmt = FORMATS[name]
    meta_file, meta_key = fmt["meta"]
    files = _read_members(path, fmt["inner"], fmt["train"] + fmt["test"] + [meta_file])
    batches = {n: safe_unpickle(b, f"{path}:{n}") for n, b in files.items()}

    def split(names: list[str]):
        xs = [_images(batches[n], f"{path}:{n}") for n in names]
        ys = [np.asarray(batches[n][fmt["labels"]]) for n in names]
        return np.concatenate(xs), np.concatenate(ys)

    x_train, y_train = split(fmt["train"])
    x_test, y_test = split(fmt["test"])
    classes = [c.decode() if isinstance(c, bytes) else str(c) for c in batches[meta_file][meta_key]]
    return as_dataset(
        name, x_train, y_train, x_test, y_test, classes, fingerprint=fingerprint(files)
    )


def fingerprint(files: dict[str, bytes]) -> str:
    """A hash of the batch files' bytes: the same for the archive and for its extracted
    folder, different for anything else."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()[:16]


def _download(name: str) -> None:
    """Fetch the official archive into the Keras cache through keras.datasets (hash-checked)."""
    import keras

    getattr(keras.datasets, name).load_data()


def reachable(url: str, timeout: float = 3.0) -> bool:
    """Whether the archive's server answers at all: offline, the clear error comes at once,
    without Keras's "Downloading data from ..." line before it."""
    try:
        where = urlparse(url)
        socket.create_connection((where.hostname, where.port or 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def load(name: str, *, argument: str | None, settings: Settings) -> Dataset:
    data_dir = settings.data_dir
    path = locate(name, data_dir)
    online = not os.environ.get("BENCH_OFFLINE") and reachable(FORMATS[name]["url"])
    if path is None and not data_dir and online:
        # A failed download raises a bare Exception("URL fetch failure ..."): say what to do.
        with contextlib.suppress(Exception):
            _download(name)
        path = locate(name, data_dir)
    if path is None:
        fmt = FORMATS[name]
        where = data_dir or keras_cache()
        raise BenchError(
            f"{fmt['title']} is not available offline: put {fmt['archive']}"
            f" ({fmt['url']}) in {where}/ or pass --data-dir DIR"
        )
    return read(name, path)
