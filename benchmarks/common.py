"""What the benchmark scripts share: the harness's synthetic data, and the record each saves
with its figures (the command, its settings, the device and the versions)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import keras
from timm_side import synthetic  # the same images timm's side gets

from bench.data.splits import Splits
from bench.execution.one_run import precision_policy
from bench.execution.progress import SilentReporter
from bench.measure import provenance
from bench.models.classifier import Classifier
from bench.settings import Settings
from bench.training.phases import PhaseResult, run_phase

PACKAGES = ("keras", "jax", "torch", "timm", "tensorflow")


def train_synthetic(build: Callable[[], Classifier], args, augment: bool) -> PhaseResult:
    """The scratch phase of `build()` through the harness (`run_phase`, as `bench run` measures
    it), fresh and seeded, on `args.steps` full batches of synthetic CIFAR-sized images (one
    batch to validate on); args: batch_size, steps, epochs, precision, image_size, jit."""
    keras.backend.clear_session()
    keras.config.set_dtype_policy(precision_policy(args.precision))
    keras.utils.set_random_seed(0)
    count = args.batch_size * args.steps
    splits = Splits(
        *synthetic(count), *synthetic(args.batch_size, seed=1), *synthetic(count, seed=2)
    )
    settings = Settings(
        batch_size=args.batch_size,
        epochs_scratch=args.epochs,
        patience=args.epochs,
        precision=args.precision,
        jit=getattr(args, "jit", None),
        image_size=args.image_size,
        augment=augment,
    )
    return run_phase(build(), "scratch", splits, settings, SilentReporter())


def save(path: str | None, script: str, argv: list[str] | None, args, **figures) -> None:
    """Write the figures with their provenance as JSON to `path` (nothing when None)."""
    if not path:
        return
    record = {
        "command": f"python benchmarks/{Path(script).name} " + " ".join(argv or sys.argv[1:]),
        "settings": vars(args),
        "environment": provenance.describe(),
        "packages": {p: provenance.version(p) for p in PACKAGES},
        **figures,
    }
    Path(path).write_text(json.dumps(record, indent=2, default=str) + "\n")
