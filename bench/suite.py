"""A suite: every (model, seed) planned, each run given a process of its own (`bench.worker`,
which runs `bench.one_run` there), retried at a smaller batch when out of memory, and its rows
written to the results store.

Every run has a stable id (a hash of everything that defines it), so a suite started again
skips what is already recorded and a rerun replaces rather than duplicates.
"""

from __future__ import annotations

import logging

import keras
import pandas as pd

from bench import environment, registry
from bench.data import load_dataset
from bench.data.dataset import Dataset
from bench.data.splits import split_indices
from bench.errors import BenchError
from bench.hashing import stable_hash
from bench.kept_weights import check_weights
from bench.model import input_size, is_transfer
from bench.one_run import Run, execute, split_arguments
from bench.protocol import phase_names
from bench.ray_executor import RaySuite
from bench.registry import ModelSpec
from bench.results import ResultsStore
from bench.settings import PHASES, Settings
from bench.shared_data import SharedDataset
from bench.tracking import Tracker
from bench.worker import Processes, run_in_process

log = logging.getLogger("bench")


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


def is_recorded(run: Run, recorded: dict[str, set[str]]) -> bool:
    """Every phase of the run has an ok row (`ResultsStore.recorded_phases`)."""
    return set(run.phases) <= recorded.get(run.run_id, set())


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


def run_suite(
    settings: Settings, reporter, force: bool = False, isolate: bool = True
) -> pd.DataFrame:
    """Run every planned run not yet recorded, each in its own process (a Ray task with
    executor=ray) unless `isolate` is False; return the suite's rows of runs.csv. Everything is
    checked before anything is written: a refused suite leaves the results folder as it was."""
    loaded = keras.backend.backend()
    if not isolate and settings.backend and settings.backend != loaded:
        raise BenchError(
            f"in one process the backend is the one Keras has loaded ({loaded}): drop "
            f"--in-process to run on {settings.backend}"
        )
    if not isolate and settings.executor == "ray":
        raise BenchError("--in-process runs everything here: drop it to run on Ray")
    models = chosen_models(settings)
    dataset = load_dataset(settings.dataset, settings)
    runs = plan(settings, models, dataset)
    store = ResultsStore(settings.out)
    store.remove_temporary_files()  # left by a suite killed while writing
    store.write_environment(environment.collect(), settings)
    tracker = Tracker(store) if settings.mlflow else None
    recorded = {} if force else store.recorded_phases()
    pending = [r for r in runs if not is_recorded(r, recorded)]
    reporter.start_suite(len(runs), planned_epochs(pending, settings))
    if settings.executor == "ray":
        run_on_ray(runs, pending, dataset, settings, reporter, store, tracker)
    else:
        run_here(runs, pending, dataset, settings, reporter, store, tracker, isolate)
    rows = store.read("runs")
    return rows[rows["run_id"].isin({r.run_id for r in runs})].reset_index(drop=True)


def run_here(runs, pending, dataset, settings, reporter, store, tracker, isolate: bool) -> None:
    """The local executor: one run at a time, each in a process of its own (or in this one)."""
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
                track(tracker, run.run_id)
            except KeyboardInterrupt:
                say_interrupted(reporter, store, runs, run)
                raise


def run_on_ray(runs, pending, dataset, settings, reporter, store, tracker) -> None:
    """Ray: every pending run submitted at once; each written here as its task finishes."""
    for run in runs:
        if run not in pending:
            reporter.say(f"{run.label}: already recorded: skipped (--force reruns it)")

    def record(run: Run, tables: dict) -> None:
        store.write_run(run.run_id, tables)
        reporter.say(f"  done {run.label}: {summarize(tables['runs'])}")
        track(tracker, run.run_id)

    suite = RaySuite(settings, dataset, reporter)
    store.write_environment(environment.collect() | {"ray": suite.cluster()}, settings)
    try:
        suite.run_all(pending, record)
    except KeyboardInterrupt:
        kept = len(set(store.read("runs")["run_id"]) & {r.run_id for r in runs})
        reporter.say(f"{kept} of this suite's {len(runs)} runs are kept in {store.folder}")
        raise


def planned_epochs(runs: list[Run], settings: Settings) -> int:
    """The epochs the runs would train if none stopped early."""
    return sum(getattr(settings, f"epochs_{phase}") for run in runs for phase in run.phases)


def track(tracker: Tracker | None, run_id: str) -> None:
    """Log a written run to MLflow. A tracking server that fails costs no result: the run is
    recorded, and `bench export mlflow` logs it later."""
    if tracker is None:
        return
    try:
        tracker.log_run(run_id)
    except Exception as err:  # noqa: BLE001 - the results files are the record
        log.warning(
            "run %s not logged to MLflow (bench export mlflow logs it later): %s", run_id, err
        )


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
