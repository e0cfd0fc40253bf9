"""A suite: every (model, seed) planned and checked, what is already recorded skipped, the
rest run by the chosen executor (`bench.execution.executors`), and each finished run written
to the results store, exactly once, by this process alone.

Every run has a stable id (a hash of everything that defines it), so a suite started again
skips what is already recorded and a rerun replaces rather than duplicates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import keras
import pandas as pd

from bench.common.hashing import stable_hash
from bench.data import check_dataset, load_dataset
from bench.data.dataset import Dataset
from bench.data.shared_memory import remove_stale_copies
from bench.data.splits import split_indices
from bench.errors import BenchError
from bench.execution.estimates import Estimator
from bench.execution.executors import EXECUTORS, Claim
from bench.execution.one_run import Run, split_arguments
from bench.measure import health, provenance
from bench.models import registry
from bench.models.classifier import input_size, is_transfer
from bench.models.spec import ModelSpec
from bench.models.weights import check_weights
from bench.results import ResultsStore
from bench.results.claims import Claims
from bench.settings import TRAINED_PHASES, Settings
from bench.training.phases import phase_names

log = logging.getLogger("bench")
OnRecorded = Callable[[str], None]  # told each run id once its rows are written


def chosen_models(settings: Settings) -> dict[str, tuple[ModelSpec, list[str]]]:
    """The models to run and their phases, every input about them checked before any data
    loads; a model with no phase to run (its epochs are 0) is left out, and a suite with
    nothing to run is refused."""
    check_weights(settings.weights)
    chosen, idle = {}, []
    for spec in registry.select(settings.models):
        input_size(spec, settings.image_size)
        phases = phase_names(is_transfer(spec, settings.weights), settings)
        if phases:
            chosen[spec.name] = (spec, phases)
        else:
            idle.append(spec.name)
    epochs = ", ".join(f"epochs_{p}={getattr(settings, f'epochs_{p}')}" for p in TRAINED_PHASES)
    if not chosen:
        raise BenchError(f"nothing to run: every chosen model's phases have 0 epochs ({epochs})")
    if idle:
        log.warning("left out, no phase with epochs to run (%s): %s", epochs, ", ".join(idle))
    return chosen


def dataset_passes(settings: Settings) -> list[Settings]:
    """The settings of each data set named, in order, every name checked before any data
    loads or anything is written: each pass is a suite of its own, with its own comparison."""
    passes = [settings.on_dataset(name) for name in settings.datasets()]
    for each in passes:
        check_dataset(each.dataset, each)
    return passes


def plan(settings: Settings, models: dict, dataset: Dataset) -> list[Run]:
    """The runs of a suite: one per model and seed, each seed's splits checked now (a run's
    process would only find out later). A run id is a hash of everything that defines the
    run, the data set's images included."""
    sizes = [None if s == "all" else s for s in settings.train_per_class]
    for seed in settings.seeds:
        for size in sizes:
            split_indices(dataset, *split_arguments(settings, seed, size))
    backend = settings.backend or keras.backend.backend()
    return [
        Run(spec, seed, run_id(spec, seed, backend, settings, dataset, size), tuple(phases), size)
        for spec, phases in models.values()
        for size in sizes
        for seed in settings.seeds
    ]


def is_recorded(run: Run, recorded: dict[str, set[str]]) -> bool:
    """Every phase of the run has an ok row (`ResultsStore.recorded_phases`)."""
    return set(run.phases) <= recorded.get(run.run_id, set())


# Sources whose models are fixed by their name; any other source (a user's file, a KerasHub
# preset) is part of the run id, with the hash of its contents that it carries.
NAMED_SOURCES = ("keras.applications", "baseline")


def run_id(
    spec: ModelSpec,
    seed: int,
    backend: str,
    settings: Settings,
    dataset: Dataset,
    per_class: int | None = None,
) -> str:
    identity = {
        "model": spec.name,
        "seed": seed,
        "backend": backend,
        "protocol": settings.hashed(),
        "data": dataset.fingerprint,
    }
    if spec.source not in NAMED_SOURCES:  # the ids of the others stay as they were recorded
        identity["source"] = spec.source
    if per_class is not None:  # all images: the id runs had before the setting existed
        identity["per_class"] = per_class
    return stable_hash(identity)


def run_suite(
    settings: Settings, reporter, force: bool = False, on_recorded: OnRecorded | None = None
) -> pd.DataFrame:
    """Run every planned run not yet recorded on the executor `settings.executor` names, write
    each as it finishes and call `on_recorded(run_id)` after; return the suite's rows of
    runs.csv. Everything is checked before anything is written: a refused suite leaves the
    results folder as it was."""
    executor_class = EXECUTORS[settings.executor]
    executor_class.check(settings)
    models = chosen_models(settings)
    dataset = load_dataset(settings.dataset, settings)
    runs = plan(settings, models, dataset)
    store = ResultsStore(settings.out)
    store.remove_temporary_files()  # left by a suite killed while writing
    remove_stale_copies()  # the data copies of killed suites, whatever the executor now
    recorded = {} if force else store.recorded_phases()
    pending = [r for r in runs if not is_recorded(r, recorded)]
    for run in runs:
        if run not in pending:
            reporter.say(f"{run.label}: already recorded: skipped (--force reruns it)")

    claims = Claims(store.folder)

    def record(run: Run, tables: dict) -> None:
        store.write_run(run.run_id, tables)
        claims.release(run.run_id)
        warn_flagged(tables["runs"])
        if on_recorded is not None:
            on_recorded(run.run_id)

    claim = claimer(claims, store, reporter, force)
    with claims, executor_class(settings, dataset, reporter) as executor:
        store.write_environment(provenance.collect() | executor.environment(), settings)
        reporter.start_suite(
            len(pending), Estimator.for_runs(pending, settings, store.read("runs"))
        )
        try:
            executor.run_all(pending, record, claim)
        except KeyboardInterrupt:
            say_interrupted(reporter, store, runs)
            raise
    rows = store.read("runs")
    return rows[rows["run_id"].isin({r.run_id for r in runs})].reset_index(drop=True)


def claimer(claims: Claims, store: ResultsStore, reporter, force: bool) -> Claim:
    """The executors' `claim`: a run starts only if no other suite writing into this folder is
    running it (its claim is held) or has recorded it since this suite planned (two identical
    commands then share the work; `--force` reruns what is recorded, never what is running)."""

    def claim(run: Run) -> bool:
        if not claims.take(run.run_id):
            holder = claims.holder(run.run_id)
            reporter.say(f"{run.label}: being run by another suite ({holder}): skipped")
            return False
        if not force and is_recorded(run, store.recorded_phases()):
            claims.release(run.run_id)
            reporter.say(f"{run.label}: recorded by another suite meanwhile: skipped")
            return False
        return True

    return claim


def warn_flagged(rows: list[dict]) -> None:
    """A warning line for each phase of a run that learned nothing (bench.measure.health)."""
    for row in rows:
        if row["status"] == "ok" and row["flag"]:
            log.warning("%s", health.advice(row))


def say_interrupted(reporter, store: ResultsStore, runs: list[Run]) -> None:
    """What Ctrl-C left: how many of the suite's runs are kept (the executor has said what
    was in flight)."""
    kept = len(set(store.read("runs")["run_id"]) & {r.run_id for r in runs})
    reporter.say(
        f"interrupted: {kept} of this suite's {len(runs)} runs are kept in {store.folder}; "
        "the same command resumes"
    )
