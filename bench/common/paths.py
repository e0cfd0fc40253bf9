"""Where bench reads and writes outside the results folder: its cache and Keras's."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # bench/common/paths.py


def cache_root() -> Path:
    """bench's cache (decoded images, compiled programs, a suite's shared data):
    $BENCH_CACHE, else $XDG_CACHE_HOME/bench, else ~/.cache/bench."""
    if os.environ.get("BENCH_CACHE"):
        return Path(os.environ["BENCH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bench"


def keras_home() -> Path:
    """Keras's cache folder (datasets/, models/): $KERAS_HOME, else ~/.keras."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
