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
    Several data sets (`dataset=["digits", "folder:PATH"]`) run one after another, each a
    comparison of its own; the folder's across-datasets report is written after them.
    """
    resolved = _resolve(models, suite, config, settings)
    # JAX otherwise reserves 75% of the GPU up front, and its memory figures mean nothing.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    if resolved.backend and "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = resolved.backend  # this process too: TF may be absent
    # The runs have processes of their own, but this one imports Keras (and so its backend)
    # to choose and check the models: its native log lines are filtered from the import on.
    with filtered_stderr(_debugging()):
        from bench.execution.suite import dataset_passes

        passes = dataset_passes(resolved)  # every name checked before anything is written
        # One data set after another, each loaded only for its own pass.
        frames = [_run_pass(one, i, len(passes), force, quiet) for i, one in enumerate(passes)]
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        write_across(resolved.out, quiet)
    return frame


def _run_pass(settings: Settings, index: int, total: int, force: bool, quiet: bool):
    """One data set's suite, then its ranked table and report.html (each its own comparison,
    as if run alone)."""
    from bench.execution.suite import run_suite
    from bench.reports.tracking import RunLogger

    if total > 1 and not quiet:
        print(f"bench: data set {index + 1} of {total}: {settings.dataset}", flush=True)
    reporter = make_reporter(quiet)  # one per pass: the table comes between them
    try:
        on_recorded = RunLogger(settings.out) if settings.mlflow else None
        frame = run_suite(settings, reporter, force=force, on_recorded=on_recorded)
    finally:
        reporter.close()
    if not frame.empty:
        write_report(settings, quiet)
        if settings.mlflow:
            track_suite(settings)
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
        from bench.execution.dry_run import plan_datasets

        return plan_datasets(resolved, force)


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


def write_across(out: str, quiet: bool) -> None:
    """When the results folder holds several data sets: the models ranked over them
    (`bench report --across-datasets`), and the table on the terminal."""
    from bench.reports import across
    from bench.results import ResultsStore

    runs = ResultsStore(out, create=False).read("runs")
    if runs.empty or runs["dataset"].nunique() < 2:
        return
    try:
        made, paths = across.make(out)
    except BenchError as err:  # too few models in common: a fact about the folder, no fault
        if not quiet:
            print(f"no across-datasets report: {err}")
        return
    if not quiet:
        print()
        across.show(made)
        print(f"written: {', '.join(str(p) for p in paths)}")
