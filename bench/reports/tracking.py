"""Every bench run in MLflow: one MLflow run per bench run (model, seed), a nested run per
phase, and a run per suite with its report. The results files stay the record; MLflow is a
view of them, written by the process that writes them (the suite, or `bench export mlflow`).

Idempotent: each MLflow run carries its bench run id (a suite run, its suite and settings
hash), and logging it again replaces the one logged before, so a resumed or forced run never
leaves two. Tracking goes to `MLFLOW_TRACKING_URI` when it is set, else to a local store in
the results folder (`mlflow.db`, artifacts in `mlartifacts/`).
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

from bench.errors import BenchError
from bench.results import ResultsStore, schema

log = logging.getLogger("bench")
EXPERIMENT = "bench"
EPOCH_METRICS = ["loss", "accuracy", "val_loss", "val_accuracy", "epoch_time_s"]
PARAMS = ["model", "family", "backend", "precision", "seed", "weights", "dataset"]
TAGS = ["run_id", "settings_hash", "suite", "device", "git_commit", "status", "error"]
KEY = "bench.key"  # what makes an MLflow run the same one: a bench run id, or a suite's key


def tracking_uri(results: Path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{results.resolve()}/mlflow.db"


def artifact_location(uri: str) -> str | None:
    """Artifacts of a local database go beside it (MLflow would put them in ./mlruns of
    whatever folder bench runs in); a tracking server keeps its own."""
    if not uri.startswith("sqlite:///"):
        return None
    return (Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts").as_uri()


class Tracker:
    """Logs a results folder's runs to MLflow (the extra `.[mlflow]`)."""

    def __init__(self, store: ResultsStore):
        try:
            import mlflow
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise BenchError("MLflow is not installed (pip install -e '.[mlflow]')") from None
        for name in ("mlflow", "alembic"):  # their INFO lines: creating tables, experiments
            logging.getLogger(name).setLevel(max(logging.WARNING, log.getEffectiveLevel()))
        self.mlflow, self.store = mlflow, store
        self.client = MlflowClient(tracking_uri(store.folder))
        found = self.client.get_experiment_by_name(EXPERIMENT)
        if found is None:
            artifacts = artifact_location(tracking_uri(store.folder))
            self.experiment = self.client.create_experiment(EXPERIMENT, artifacts)
        else:
            self.experiment = found.experiment_id

    def _replace(self, key: str) -> None:
        """Delete the runs logged before under this key, their phase runs included."""
        for run in self.client.search_runs([self.experiment], f"tags.`{KEY}` = '{key}'"):
            self.client.delete_run(run.info.run_id)

    def _start(self, key: str, name: str, parent: str | None = None) -> str:
        tags = {KEY: key, "mlflow.runName": name}
        if parent:
            tags["mlflow.parentRunId"] = parent
        return self.client.create_run(self.experiment, tags=tags).info.run_id

    def log_run(self, run_id: str) -> None:
        """One bench run from the results files: a parent run, a nested run per phase."""
        rows = {
            t: f[f["run_id"] == run_id] for t in schema.FILES if not (f := self.store.read(t)).empty
        }
        runs = rows["runs"]
        first = runs.iloc[0]
        self._replace(run_id)
        parent = self._start(run_id, f"{first['model']} seed={first['seed']}")
        self.client.log_batch(
            parent, params=_params(first, self._protocol(first)), tags=_tags(first)
        )
        for _, row in runs.iterrows():
            child = self._start(run_id, str(row["phase"]), parent)
            epochs = rows.get("epochs", pd.DataFrame())
            epochs = epochs[epochs["phase"] == row["phase"]] if not epochs.empty else epochs
            self.client.log_batch(child, metrics=_metrics(row, epochs), tags=_tags(row))
            self.client.set_terminated(child, _status(row))
        with tempfile.TemporaryDirectory() as folder:
            for table, frame in rows.items():
                frame.to_csv(Path(folder) / f"{table}.csv", index=False)
            self.client.log_artifacts(parent, folder, "rows")
        failed = (runs["status"] != "ok").any()
        self.client.set_terminated(parent, "FAILED" if failed else "FINISHED")

    def log_suite(self, suite: str, settings_hash: str, files: list[Path]) -> None:
        """A suite's report and figures, as one run keyed by its suite and settings hash."""
        key = f"suite:{suite}:{settings_hash}"
        self._replace(key)
        run = self._start(key, f"suite {suite} {settings_hash}")
        self.client.log_batch(run, tags=_tag_list({"suite": suite, "settings_hash": settings_hash}))
        for path in files:
            self.client.log_artifact(
                run, str(path), "plots" if path.parent.name == "plots" else None
            )
        self.client.set_terminated(run, "FINISHED")

    def _protocol(self, row: pd.Series) -> dict:
        protocols = self.store.read_environment().get("protocols", {})
        return protocols.get(row["settings_hash"], {})


def _status(row: pd.Series) -> str:
    return "FINISHED" if row["status"] == "ok" else "FAILED"


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _params(row: pd.Series, protocol: dict) -> list:
    from mlflow.entities import Param

    values = {k: v for k, v in row[PARAMS].to_dict().items() if _present(v)}
    values |= {f"protocol.{k}": v for k, v in protocol.items()}  # None too: it is a value
    return [Param(k, str(v)[:6000]) for k, v in values.items()]


def _tag_list(values: dict) -> list:
    from mlflow.entities import RunTag

    return [RunTag(f"bench.{k}", str(v)[:5000]) for k, v in values.items() if _present(v)]


def _tags(row: pd.Series) -> list:
    return _tag_list({k: row[k] for k in TAGS if k in row})


def _metrics(row: pd.Series, epochs: pd.DataFrame) -> list:
    """Every numeric figure of the row, and each epoch's figures as steps."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    numeric = [c.name for c in schema.RUNS if c.type in (int, float) and c.name != "seed"]
    metrics = [Metric(k, float(row[k]), now, 0) for k in numeric if _present(row[k])]
    for _, epoch in epochs.iterrows():
        metrics += [
            Metric(f"epoch.{k}", float(epoch[k]), now, int(epoch["epoch"]))
            for k in EPOCH_METRICS
            if _present(epoch[k])
        ]
    return metrics


def log_results(store: ResultsStore, settings_hashes: list[str] | None = None) -> int:
    """`bench export mlflow`: every run of a results folder, then each comparison's report and
    figures as a suite run; returns the number of bench runs logged. Idempotent."""
    tracker = Tracker(store)
    runs = store.read("runs")
    if runs.empty:
        raise BenchError(f"no runs in {store.folder} to log")
    for run_id in dict.fromkeys(runs["run_id"]):
        tracker.log_run(run_id)
    for settings_hash in settings_hashes or list(dict.fromkeys(runs["settings_hash"].dropna())):
        suites = runs.loc[runs["settings_hash"] == settings_hash, "suite"].dropna()
        log_report(tracker, suites.iloc[-1] if len(suites) else "adhoc", settings_hash)
    return runs["run_id"].nunique()


def log_report(tracker: Tracker, suite: str, settings_hash: str) -> None:
    """A comparison's report and figures, made afresh into a temporary folder, as a suite
    run. Figures load matplotlib, so they are imported only when tracking asks for them."""
    from bench.reports import plots, tables

    with tempfile.TemporaryDirectory() as folder:
        try:
            made, comparison, paths = tables.make(
                tracker.store.folder, folder, settings=settings_hash
            )
        except BenchError as err:  # nothing to rank: the runs are logged all the same
            log.warning("no report logged to MLflow for %s: %s", settings_hash, err)
            return
        paths += plots.draw_all(comparison, Path(folder) / "plots", formats=("png",))
        tracker.log_suite(suite, settings_hash, paths)


class RunLogger:
    """A suite's `on_recorded`: each run logged to MLflow once its rows are written. A tracking
    server that fails costs no result: the run is recorded, and `bench export mlflow` logs it
    later."""

    def __init__(self, folder: str | Path):
        self.folder, self.tracker = Path(folder), None

    def __call__(self, run_id: str) -> None:
        try:
            if self.tracker is None:  # the suite has made the folder by now
                self.tracker = Tracker(ResultsStore(self.folder, create=False))
            self.tracker.log_run(run_id)
        except Exception as err:  # noqa: BLE001 - the results files are the record
            log.warning(
                "run %s not logged to MLflow (bench export mlflow logs it later): %s", run_id, err
            )
