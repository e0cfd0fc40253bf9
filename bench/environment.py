"""Provenance: which Keras, backend, device and project commit produced a result."""

from __future__ import annotations

import os
import platform
import subprocess
from functools import cache
from pathlib import Path

import keras


def keras_home() -> Path:
    """Keras's cache folder (datasets/, models/): $KERAS_HOME, else ~/.keras."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_name() -> str | None:
    """The first accelerator's name, asked of the running backend; None on a CPU."""
    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            gpus = [d for d in jax.devices() if d.platform != "cpu"]
            return gpus[0].device_kind if gpus else None
        if backend == "torch":
            import torch

            return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                details = tf.config.experimental.get_device_details(gpus[0])
                return details.get("device_name", gpus[0].name)
    except Exception:  # provenance must never fail a run
        return None
    return None


def git_commit() -> str | None:
    """The project's commit, with '-dirty' when the working tree has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:

        def git(*args: str) -> str:
            return subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()

        commit = git("rev-parse", "--short=12", "HEAD")
        return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        return None


@cache
def describe() -> dict[str, str | None]:
    return {
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "device": gpu_name() or cpu_name(),
        "git_commit": git_commit(),
    }
