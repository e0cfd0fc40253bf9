"""One run: a model and a seed, trained and measured through its phases in this process, its
rows returned (never written here: the suite alone writes results). A failure becomes a
`failed` row, and out of memory is told apart so the suite can retry at a smaller batch.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
from dataclasses import dataclass, field

import keras

from bench.data.dataset import Dataset
from bench.data.splits import make_splits
from bench.measure import cost, provenance
from bench.measure.gpu import gpu_name
from bench.models.classifier import build_classifier
from bench.models.spec import ModelSpec
from bench.models.weights import save_phase_weights, weights_source
from bench.results import schema
from bench.results.rows import add_phase_rows, base_row, failed_row
from bench.settings import Settings
from bench.training import compile_cache
from bench.training.features import Features
from bench.training.phases import phases_for, run_phase

log = logging.getLogger("bench")


@dataclass(frozen=True)
class Run:
    spec: ModelSpec
    seed: int
    run_id: str
    phases: tuple[str, ...]  # what it trains, in order; recorded once each has an ok row
    per_class: int | None = None  # training images of each class (train_per_class); None: all

    @property
    def label(self) -> str:
        size = "" if self.per_class is None else f" {self.per_class}/class"
        return f"{self.spec.name} seed={self.seed}{size}"


@dataclass
class Outcome:
    """What one attempt at a run produced: its rows, and whether it ran out of memory."""

    tables: dict[str, list[dict]] = field(default_factory=dict)
    out_of_memory: bool = False


def split_arguments(settings: Settings, seed: int, per_class: int | None = None) -> tuple:
    return (
        settings.val_fraction,
        seed,
        settings.limit,
        settings.test_limit,
        settings.split_seed,
        per_class,
    )


def execute(
    run: Run, dataset: Dataset, settings: Settings, reporter, batch_size: int | None = None
) -> Outcome:
    """One run, seeded end to end, at `batch_size` (default: the settings'). A failure becomes
    a `failed` row; the suite goes on."""
    batch_size = batch_size or settings.batch_size
    compile_cache.enable_persistent_cache()
    keras.backend.clear_session()
    keras.config.set_dtype_policy(precision_policy(settings.precision))
    keras.utils.set_random_seed(run.seed)
    splits = make_splits(dataset, *split_arguments(settings, run.seed, run.per_class))
    base = base_row(run.run_id, run.spec, run.seed, dataset, settings, batch_size)
    base["train_per_class"] = run.per_class
    base.update(splits.sizes)
    base.update(provenance.describe(), precision=keras.config.dtype_policy().name)
    used = dataclasses.replace(settings, batch_size=batch_size)  # the protocol hash stays
    tables: dict[str, list[dict]] = {table: [] for table in schema.FILES}
    phase = "setup"
    try:
        simulate_out_of_memory(batch_size)
        classifier = build_classifier(
            run.spec,
            dataset.x_train.shape[1:],
            dataset.num_classes,
            image_size=settings.image_size,
            weights=weights_source(run.spec, settings.weights),
            augment=settings.augment,
            augment_shift=settings.augment_shift,
            dropout=settings.dropout,
            seed=run.seed,
        )
        base["gmacs"] = cost.gmacs(classifier.model)
        features = Features(classifier.model, batch_size)  # the probe's and frozen's, once
        for phase in phases_for(classifier, settings):
            result = run_phase(classifier, phase, splits, used, reporter, features=features)
            if settings.save_weights:
                result.weights_files = save_phase_weights(
                    classifier, settings.out, run.run_id, phase
                )
            add_phase_rows(tables, base, result, settings, dataset.class_names)
    except Exception as err:  # noqa: BLE001 - any failure of one run is recorded, not fatal
        log.debug("run %s failed", run.label, exc_info=True)
        tables["runs"].append(failed_row(base, phase, err))
        return Outcome(tables, out_of_memory=is_out_of_memory(err))
    return Outcome(tables)


def precision_policy(precision: str) -> str:
    """float32, or mixed: float16 compute on a GPU (tensor cores), bfloat16 elsewhere (float16
    is slow or unsupported on CPUs). Variables, logits and the loss stay float32."""
    if precision == "float32":
        return "float32"
    return "mixed_float16" if gpu_name() else "mixed_bfloat16"


def is_out_of_memory(err: Exception) -> bool:
    """Out of GPU or host memory, as each backend says it."""
    if isinstance(err, MemoryError):
        return True
    text = str(err)
    return (
        type(err).__name__ in ("ResourceExhaustedError", "OutOfMemoryError")  # TF, torch
        or "RESOURCE_EXHAUSTED" in text  # JAX / XLA
        or "out of memory" in text.lower()
    )


def simulate_out_of_memory(batch_size: int) -> None:
    """A test aid: BENCH_SIMULATE_OOM_ABOVE=N makes runs at a batch size above N run out of
    memory, so the retry path can be tested on a machine with plenty of it."""
    limit = os.environ.get("BENCH_SIMULATE_OOM_ABOVE")
    if limit and batch_size > int(limit):
        raise MemoryError(f"simulated: batch size {batch_size} > BENCH_SIMULATE_OOM_ABOVE={limit}")


def crashed(
    run: Run,
    dataset: Dataset,
    settings: Settings,
    batch_size: int,
    phase: str,
    exitcode: int | None,
    why: str | None = None,
) -> Outcome:
    """The outcome of a run whose process ended without its rows: `why`, when the process
    said it, else how it ended. SIGKILL is what the system's out-of-memory killer sends, so it
    counts as out of memory (host)."""
    if why:
        pass
    elif exitcode is None:
        why = "WorkerStuck: the run's process did not exit after its last message: killed"
    elif exitcode < 0:
        name = signal.Signals(-exitcode).name
        why = f"WorkerKilled: the run's process was killed by {name}"
        if -exitcode == signal.SIGKILL:
            why += " (most likely by the system's out-of-memory killer)"
    else:
        why = f"WorkerCrashed: the run's process exited with code {exitcode} and no result"
    base = base_row(run.run_id, run.spec, run.seed, dataset, settings, batch_size)
    row = failed_row(base, phase, why)
    return Outcome({"runs": [row]}, out_of_memory=exitcode == -signal.SIGKILL)
