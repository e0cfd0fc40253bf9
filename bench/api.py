"""`bench.run(...)`: the same run as `bench run`, from Python, returning a DataFrame."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys

import pandas as pd

from bench.common.native_logs import filtered_stderr
from bench.errors import BenchError
from bench.execution.progress import make_reporter
from bench.settings import Settings
from bench.settings.loading import load_config, resolve


def run(
    models: str | list[str] | None = None,
    *,
    suite: str | None = None,
    config: str | None = None,
    force: bool = False,
    quiet: bool = False,
    **settings,
) -> pd.DataFrame:
    """Run models under the protocol and return their rows of runs.csv.

    `models` and `suite` choose what runs; any other keyword is a setting (see
    `bench.settings.Settings`), e.g. `bench.run("simple_cnn", dataset="digits", epochs_scratch=5)`.
    Each run has a process of its own; `executor="in-process"` runs them all in this one.
    """
    resolved = _resolve(models, suite, config, settings)
    # JAX otherwise reserves 75% of the GPU up front, and its memory figures mean nothing.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    if resolved.backend and "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = resolved.backend  # this process too: TF may be absent
    # The runs have processes of their own, but this one imports Keras (and so its backend)
    # to choose and check the models: its native log lines are filtered from the import on.
    with filtered_stderr(_debugging()):
        from bench.execution.suite import run_suite
        from bench.reports.tracking import RunLogger

        reporter = make_reporter(quiet)
        try:
            on_recorded = RunLogger(resolved.out) if resolved.mlflow else None
            frame = run_suite(resolved, reporter, force=force, on_recorded=on_recorded)
        finally:
            reporter.close()
        if not frame.empty:
            write_report(resolved, quiet)
            if resolved.mlflow:
                track_suite(resolved)
    return frame


def dry_run(
    models: str | list[str] | None = None,
    *,
    suite: str | None = None,
    config: str | None = None,
    force: bool = False,
    **settings,
) -> tuple[pd.DataFrame, str]:
    """What `run` with the same arguments would do, without doing it: a row per planned run
    (model, seed, phases, run_id, action, estimate_s) and a description of the data set and
    of the time it may take. Nothing is written."""
    resolved = _resolve(models, suite, config, settings)
    with filtered_stderr(_debugging()):
        from bench.execution.dry_run import describe, plan_frame

        frame, dataset = plan_frame(resolved, force)
    return frame, describe(frame, dataset, resolved)


def _debugging() -> bool:
    """The caller asked for bench's debug log: keep the native lines too (as --debug does)."""
    return logging.getLogger("bench").getEffectiveLevel() <= logging.DEBUG


def _resolve(models, suite: str | None, config: str | None, settings: dict) -> Settings:
    """The settings of a call: the settings file, its suite, then the keywords given."""
    if isinstance(models, str):
        models = [m.strip() for m in models.split(",")]
    resolved = resolve(load_config(config), suite, {"models": models, **settings})
    if resolved.corruptions:
        from bench.data import corruption_names

        names = corruption_names(resolved.corruptions)
        resolved = dataclasses.replace(resolved, corruptions=names)
    return resolved


def track_suite(settings: Settings) -> None:
    """The suite's report and figures, as one MLflow run (its runs are logged as they end)."""
    from bench.reports.tracking import Tracker, log_report
    from bench.results import ResultsStore

    try:
        tracker = Tracker(ResultsStore(settings.out, create=False))
        log_report(tracker, settings.suite or "adhoc", settings.settings_hash())
    except Exception as err:  # noqa: BLE001 - the results are written; export logs it later
        logging.getLogger("bench").warning("suite not logged to MLflow: %s", err)


def write_report(settings: Settings, quiet: bool) -> None:
    """The suite's ranked table (bench report) and report.html in its results folder, and the
    table on the terminal."""
    from bench.reports import html, tables

    try:
        page = html.make(settings.out, settings=settings.settings_hash())
        made, _, paths = tables.make(settings.out, settings=settings.settings_hash())
        paths.append(page)
    except BenchError as err:  # the runs are recorded; a report can be made later
        logging.getLogger("bench").warning("no report written: %s", err)
        return
    if not quiet:
        print()
        tables.show(made)
        print(f"written: {', '.join(str(p) for p in paths)} (bench plot draws the figures)")
