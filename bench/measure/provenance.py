"""Provenance: which Keras, backend, device and project commit produced a result.

`describe()` is the short form every results row carries; `collect()` is the full environment
that `results/env.json` keeps and `bench env` prints.
"""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone
from functools import cache
from importlib import metadata
from pathlib import Path

import keras
import psutil

from bench.common.paths import PROJECT_ROOT
from bench.measure.gpu import gpu_name, nvml_gpus

# The backend's own distribution, whose version each row records.
BACKEND_PACKAGES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy"}
# Packages whose versions env.json records when they are installed.
PACKAGES = [
    "keras",
    "tensorflow",
    "jax",
    "jaxlib",
    "torch",
    "numpy",
    "pandas",
    "scikit-learn",
    "nvidia-ml-py",
]
# Environment variables that change what a run does or where it runs.
VARIABLES = [
    "KERAS_BACKEND",
    "KERAS_HOME",
    "CUDA_VISIBLE_DEVICES",
    "XLA_PYTHON_CLIENT_PREALLOCATE",
    "XLA_FLAGS",
    "TF_GPU_ALLOCATOR",
    "TF_ENABLE_ONEDNN_OPTS",
    "OMP_NUM_THREADS",
]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    """The project's commit, with '-dirty' when the working tree has uncommitted changes."""
    root = PROJECT_ROOT
    try:

        def git(*args: str) -> str:
            return subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()

        commit = git("rev-parse", "--short=12", "HEAD")
        return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        return None


def version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


@cache
def describe() -> dict[str, str | None]:
    """The provenance fields of every results row."""
    backend = keras.backend.backend()
    return {
        "backend": backend,
        "backend_version": version(BACKEND_PACKAGES.get(backend, backend)),
        "keras_version": keras.__version__,
        "device": gpu_name() or cpu_name(),
        "node": platform.node(),
        "gpu_ids": os.environ.get("CUDA_VISIBLE_DEVICES") or ("0" if gpu_name() else None),
        "git_commit": git_commit(),
    }


def collect() -> dict:
    """The full environment: what env.json keeps and `bench env` prints."""
    memory = psutil.virtual_memory().total
    return {
        "collected": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **describe(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "cpu_cores": psutil.cpu_count(logical=False),
        "cpu_threads": psutil.cpu_count(logical=True),
        "host_memory_gb": round(memory / 2**30, 1),
        "gpu": gpu_name(),
        "gpus": nvml_gpus(),
        "packages": {name: v for name in PACKAGES if (v := version(name))},
        "variables": {name: os.environ[name] for name in VARIABLES if name in os.environ},
    }
