"""What the benchmark scripts share: the harness's synthetic data, and the record each saves
with its figures (the command, its settings, the device and the versions)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from timm_side import synthetic  # the same images timm's side gets

from bench import environment
from bench.data.splits import Splits

PACKAGES = ("keras", "jax", "torch", "timm", "tensorflow")


def synthetic_splits(batch_size: int, steps: int) -> Splits:
    """`steps` full batches to train and test on, one batch to validate on."""
    count = batch_size * steps
    return Splits(*synthetic(count), *synthetic(batch_size, seed=1), *synthetic(count, seed=2))


def save(path: str | None, script: str, argv: list[str] | None, args, **figures) -> None:
    """Write the figures with their provenance as JSON to `path` (nothing when None)."""
    if not path:
        return
    record = {
        "command": f"python benchmarks/{Path(script).name} " + " ".join(argv or sys.argv[1:]),
        "settings": vars(args),
        "environment": environment.describe(),
        "packages": {p: environment.version(p) for p in PACKAGES},
        **figures,
    }
    Path(path).write_text(json.dumps(record, indent=2, default=str) + "\n")
