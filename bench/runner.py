"""Runs a suite: settings -> data -> model -> phases -> measurements -> results.

Every (model, seed) is one run with a stable id (a hash of everything that defines it), so a
suite started again skips what is already recorded and a rerun replaces rather than duplicates.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
from dataclasses import dataclass
from datetime import datetime, timezone

import keras
import numpy as np
import pandas as pd

from bench import compilation, cost, environment, registry
from bench.data import load_dataset
from bench.data.dataset import Dataset
from bench.data.splits import make_splits, split_indices
from bench.errors import BenchError, describe_error
from bench.gpu import gpu_name
from bench.hashing import stable_hash
from bench.metrics import efficiency
from bench.model import build_classifier, check_weights_file, input_size, is_transfer
from bench.protocol import PhaseResult, phase_names, phases_for, run_phase
from bench.registry import ModelSpec
from bench.results import ResultsStore
from bench.settings import PHASES, Settings
from bench.shared_data import SharedDataset
from bench.worker import Outcome, Processes, run_in_process

log = logging.getLogger("bench")


@dataclass(frozen=True)
class Run:
    spec: ModelSpec
    seed: int
    run_id: str
    phases: tuple[str, ...]  # what it trains, in order; recorded once each has an ok row

    @property
    def label(self) -> str:
        return f"{self.spec.name} seed={self.seed}"


def chosen_models(settings: Settings) -> dict[str, tuple[ModelSpec, list[str]]]:
    """The models to run and their phases, every input about them checked before any data
    loads; a model with no phase to run (its epochs are 0) is left out, and a suite with
    nothing to run is refused."""
    if settings.weights not in ("imagenet", "none"):
        check_weights_file(settings.weights)
    chosen, idle = {}, []
    for spec in registry.select(settings.models):
        input_size(spec, settings.image_size)
        phases = phase_names(is_transfer(spec, settings.weights), settings)
        if phases:
            chosen[spec.name] = (spec, phases)
        else:
            idle.append(spec.name)
    epochs = ", ".join(f"epochs_{p}={getattr(settings, f'epochs_{p}')}" for p in PHASES)
    if not chosen:
        raise BenchError(f"nothing to run: every chosen model's phases have 0 epochs ({epochs})")
    if idle:
        log.warning("left out, no phase with epochs to run (%s): %s", epochs, ", ".join(idle))
    return chosen


def plan(settings: Settings, models: dict, dataset: Dataset) -> list[Run]:
    """The runs of a suite: one per model and seed, each seed's splits checked now (a run's
    process would only find out later). A run id is a hash of everything that defines the
    run, the data set's images included."""
    for seed in settings.seeds:
        split_indices(dataset, *split_arguments(settings, seed))
    backend = settings.backend or keras.backend.backend()
    return [
        Run(spec, seed, run_id(spec.name, seed, backend, settings, dataset), tuple(phases))
        for spec, phases in models.values()
        for seed in settings.seeds
    ]


def run_id(model: str, seed: int, backend: str, settings: Settings, dataset: Dataset) -> str:
    return stable_hash(
        {
            "model": model,
            "seed": seed,
            "backend": backend,
            "protocol": settings.protocol(),
            "data": dataset.fingerprint,
        }
    )


def split_arguments(settings: Settings, seed: int) -> tuple:
    return (
        settings.val_fraction,
        seed,
        settings.limit,
        settings.test_limit,
        settings.split_seed,
    )


def run_suite(
    settings: Settings, reporter, force: bool = False, isolate: bool = True
) -> pd.DataFrame:
    """Run every planned run not yet recorded, each in its own process unless `isolate` is
    False; return the suite's rows of runs.csv. Everything is checked before anything is
    written: a refused suite leaves the results folder as it was."""
    loaded = keras.backend.backend()
    if not isolate and settings.backend and settings.backend != loaded:
        raise BenchError(
            f"in one process the backend is the one Keras has loaded ({loaded}): drop "
            f"--in-process to run on {settings.backend}"
        )
    models = chosen_models(settings)
    dataset = load_dataset(settings.dataset, settings)
    runs = plan(settings, models, dataset)
    store = ResultsStore(settings.out)
    store.remove_temporary_files()  # left by a suite killed while writing
    store.write_environment(environment.collect(), settings)
    recorded = {} if force else store.recorded_phases()
    pending = [r for r in runs if not set(r.phases) <= recorded.get(r.run_id, set())]
    reporter.start_suite(len(runs))
    with SharedDataset(dataset) as shared, Processes(settings.backend) as started:
        processes = started if isolate else None  # None: every run in this process
        for index, run in enumerate(runs, 1):
            try:
                reporter.start_run(index, len(runs), run.label)
                if run not in pending:
                    reporter.end_run("already recorded: skipped (--force reruns it)")
                    continue
                follows = run is not pending[-1]  # then the next run's process starts meanwhile
                tables = attempt(run, shared, settings, reporter, processes, follows)
                store.write_run(run.run_id, tables)
                reporter.end_run(summarize(tables["runs"]))
            except KeyboardInterrupt:
                say_interrupted(reporter, store, runs, run)
                raise
    rows = store.read("runs")
    return rows[rows["run_id"].isin({r.run_id for r in runs})].reset_index(drop=True)


def say_interrupted(reporter, store: ResultsStore, runs: list[Run], run: Run) -> None:
    """What Ctrl-C left: whether the run in progress was recorded, and how many are kept."""
    recorded = set(store.read("runs")["run_id"])
    kept = len(recorded & {r.run_id for r in runs})
    state = "was recorded" if run.run_id in recorded else "was not recorded"
    reporter.say(
        f"interrupted: {run.label} {state}; {kept} of this suite's {len(runs)} runs are kept "
        f"in {store.folder}; the same command resumes"
    )


def attempt(
    run: Run,
    shared: SharedDataset,
    settings: Settings,
    reporter,
    processes: Processes | None,
    another_follows: bool = False,
):
    """The run's rows, from a process of its own (from this one when `processes` is None);
    out of memory, it is tried again at half the batch size, down to
    settings.min_batch_size, and the rows record the batch size that was used."""
    batch = settings.batch_size
    while True:
        if processes is None:
            outcome = execute(run, shared.dataset, settings, reporter, batch)
        else:
            outcome = run_in_process(
                run, shared, settings, batch, reporter, processes, another_follows
            )
        if not outcome.out_of_memory or batch // 2 < settings.min_batch_size:
            return outcome.tables
        reporter.say(f"  out of memory at batch size {batch}: trying again at {batch // 2}")
        batch //= 2


def base_row(run: Run, dataset: Dataset, settings: Settings, batch_size: int) -> dict:
    """The fields every row of a run shares."""
    return {
        "run_id": run.run_id,
        "suite": settings.suite or "adhoc",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": run.spec.name,
        "family": run.spec.family,
        "dataset": dataset.name,
        "data_fingerprint": dataset.fingerprint,
        "num_classes": dataset.num_classes,
        "val_source": "carved" if dataset.y_val is None else "folder",
        "weights": settings.weights if run.spec.pretrained else "none",
        "seed": run.seed,
        "image_size": input_size(run.spec, settings.image_size),
        "batch_size": batch_size,
        "augment": settings.augment,
        "augment_shift": settings.augment_shift if settings.augment else None,
        "jit": {None: "auto", True: "on", False: "off"}[settings.jit],
        "settings_hash": settings.protocol_hash(),
    }


def execute(
    run: Run, dataset: Dataset, settings: Settings, reporter, batch_size: int | None = None
) -> Outcome:
    """One run, seeded end to end, at `batch_size` (default: the settings'). A failure becomes
    a `failed` row; the suite goes on."""
    batch_size = batch_size or settings.batch_size
    compilation.enable_persistent_cache()
    keras.backend.clear_session()
    keras.config.set_dtype_policy(precision_policy(settings.precision))
    keras.utils.set_random_seed(run.seed)
    splits = make_splits(dataset, *split_arguments(settings, run.seed))
    base = {**base_row(run, dataset, settings, batch_size), **splits.sizes}
    base.update(environment.describe(), precision=keras.config.dtype_policy().name)
    used = dataclasses.replace(settings, batch_size=batch_size)  # the protocol hash stays
    tables: dict[str, list[dict]] = {"runs": [], "epochs": [], "classes": [], "confusion": []}
    phase = "setup"
    try:
        simulate_out_of_memory(batch_size)
        classifier = build_classifier(
            run.spec,
            dataset.x_train.shape[1:],
            dataset.num_classes,
            image_size=settings.image_size,
            weights=settings.weights,
            augment=settings.augment,
            augment_shift=settings.augment_shift,
            dropout=settings.dropout,
            seed=run.seed,
        )
        base["gmacs"] = cost.gmacs(classifier.model)
        for phase in phases_for(classifier, settings):
            result = run_phase(classifier, phase, splits, used, reporter)
            record_phase(tables, base, result, settings, dataset.class_names)
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


def failed_row(base: dict, phase: str, err: Exception | str) -> dict:
    if isinstance(err, Exception):
        err = describe_error(err)
    return {**base, "phase": phase, "status": "failed", "error": err}


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
    row = failed_row(base_row(run, dataset, settings, batch_size), phase, why)
    return Outcome({"runs": [row]}, out_of_memory=exitcode == -signal.SIGKILL)


def record_phase(
    tables: dict, base: dict, result: PhaseResult, settings: Settings, class_names: list[str]
) -> None:
    run_id, test = base["run_id"], result.test
    train_acc, val_acc = result.at_best("accuracy"), result.at_best("val_accuracy")
    per_epoch = result.time_per_epoch_s
    tables["runs"].append(
        {
            **base,
            "status": "ok",
            "phase": result.phase,
            "epochs_run": len(result.epochs),
            "best_epoch": result.best_epoch,
            "learning_rate": result.learning_rate,
            "unfreeze": settings.unfreeze if result.phase == "finetune" else None,
            "bn_mode": "train" if result.phase == "scratch" else "frozen",
            "params_total": result.params_total,
            "params_trainable": result.params_trainable,
            "gmacs": base.get("gmacs"),
            "train_accuracy": train_acc,
            "val_accuracy": val_acc,
            "test_accuracy": test["test_accuracy"],
            "test_top5_accuracy": test["test_top5_accuracy"],
            "test_macro_f1": test["test_macro_f1"],
            "overfit_gap": train_acc - val_acc,
            "efficiency": efficiency(test["test_accuracy"], result.params_total),
            "time_per_epoch_s": per_epoch,
            "first_epoch_s": result.epoch_seconds[0],
            "compile_s": result.compile_s,
            "compile_cache_hits": result.compile_cache_hits,
            "train_time_s": result.train_time_s,
            "features_time_s": result.features_time_s,
            "frozen_mode": settings.frozen_mode if result.phase == "frozen" else "end-to-end",
            "train_images_per_s": base["train_size"] / per_epoch if per_epoch else None,
            "infer_images_per_s": result.infer_images_per_s,
            "infer_batch_size": result.infer_batch_size,
            "data_wait_share": result.data_wait_share,
            "peak_gpu_mem_mb": result.peak_gpu_mem_mb,
            "peak_gpu_mem_nvml_mb": result.peak_gpu_mem_nvml_mb,
            "peak_host_rss_mb": result.peak_host_rss_mb,
        }
    )
    tables["epochs"] += [{"run_id": run_id, "phase": result.phase, **e} for e in result.epochs]
    support = test["confusion"].sum(axis=1)
    tables["classes"] += [
        {
            "run_id": run_id,
            "phase": result.phase,
            "class_index": i,
            "class_name": name,
            "test_accuracy": test["per_class_accuracy"][i],
            "support": int(support[i]),
        }
        for i, name in enumerate(class_names)
    ]
    # Non-zero cells only: a good classifier's matrix is mostly empty off the diagonal.
    tables["confusion"] += [
        {
            "run_id": run_id,
            "phase": result.phase,
            "true_index": int(t),
            "predicted_index": int(p),
            "count": int(test["confusion"][t, p]),
        }
        for t, p in np.argwhere(test["confusion"])
    ]


def summarize(rows: list[dict]) -> str:
    parts = []
    for row in rows:
        if row["status"] == "ok":
            figures = [f"{row['phase']} test accuracy {row['test_accuracy']:.4f}"]
            if row["time_per_epoch_s"]:
                figures.append(f"{row['time_per_epoch_s']:.2f} s/epoch")
            if row.get("data_wait_share") is not None:
                figures.append(f"data wait {100 * row['data_wait_share']:.0f}%")
            if row["peak_gpu_mem_mb"] is not None:
                figures.append(f"GPU peak {row['peak_gpu_mem_mb']:.0f} MiB")
            parts.append(", ".join(figures))
        else:
            parts.append(f"{row['phase']} FAILED ({row['error']})")
    return "; ".join(parts) or "no phase to run (all epochs are 0)"
