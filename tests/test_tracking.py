"""MLflow tracking on a temporary local store: what is logged equals the results files, a
rerun or a resume never adds a second MLflow run, and an export after the fact is the same."""

from __future__ import annotations

import pandas as pd
import pytest

import bench
from bench.errors import BenchError
from bench.reports.tracking import EPOCH_METRICS, KEY, log_results, tracking_uri
from bench.results import ResultsStore, schema
from tests.helpers import ROOT, bench_main

mlflow = pytest.importorskip("mlflow", reason="the extra .[mlflow] (CI installs it)")
TINY = dict(dataset="digits", weights="none", epochs_scratch=2, limit=120, seeds=[0, 1])


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    out = tmp_path_factory.mktemp("tracked") / "results"
    bench.run("simple_cnn", out=str(out), mlflow=True, executor="in-process", quiet=True, **TINY)
    return out


def logged(folder, uri: str | None = None) -> dict[str, list]:
    """Active MLflow runs of the bench experiment, by their bench key."""
    client = mlflow.tracking.MlflowClient(uri or tracking_uri(folder))
    experiment = client.get_experiment_by_name("bench")
    runs: dict[str, list] = {}
    for run in client.search_runs([experiment.experiment_id]):
        runs.setdefault(run.data.tags[KEY], []).append(run)
    return runs


def history(folder, run, key: str, uri: str | None = None) -> list[tuple[int, float]]:
    client = mlflow.tracking.MlflowClient(uri or tracking_uri(folder))
    return sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, key))


def assert_logged_as_written(folder, uri: str | None = None) -> None:
    store = ResultsStore(folder, create=False)
    runs, epochs = store.read("runs"), store.read("epochs")
    by_key = logged(folder, uri)
    protocols = store.read_environment()["protocols"]
    for run_id, rows in runs.groupby("run_id"):
        mlruns = by_key[run_id]
        parent = [r for r in mlruns if "mlflow.parentRunId" not in r.data.tags]
        assert len(parent) == 1 and len(mlruns) == 1 + len(rows), "one run, one per phase"
        params = parent[0].data.params
        for key, value in protocols[rows.iloc[0]["settings_hash"]].items():
            assert params[f"protocol.{key}"] == str(value)
        assert params["model"] == "simple_cnn" and params["backend"] == rows.iloc[0]["backend"]
        for _, row in rows.iterrows():
            (phase,) = [r for r in mlruns if r.info.run_name == row["phase"]]
            assert phase.data.tags["bench.run_id"] == run_id
            assert phase.data.tags["bench.settings_hash"] == row["settings_hash"]
            numeric = [c.name for c in schema.RUNS if c.type in (int, float) and c.name != "seed"]
            expected = {k: float(row[k]) for k in numeric if not pd.isna(row[k])}
            got = {k: v for k, v in phase.data.metrics.items() if not k.startswith("epoch.")}
            assert got == expected
            mine = epochs[(epochs["run_id"] == run_id) & (epochs["phase"] == row["phase"])]
            for key in EPOCH_METRICS:
                steps = history(folder, phase, f"epoch.{key}", uri)
                pairs = zip(mine["epoch"], mine[key], strict=True)
                assert steps == [(int(e), float(v)) for e, v in pairs]
    suites = [k for k in by_key if k.startswith("suite:")]
    assert len(suites) == 1 and len(by_key[suites[0]]) == 1


@pytest.mark.slow
def test_every_figure_and_epoch_is_logged_as_written(tracked):
    assert_logged_as_written(tracked)
    (suite,) = [runs[0] for key, runs in logged(tracked).items() if key.startswith("suite:")]
    client = mlflow.tracking.MlflowClient(tracking_uri(tracked))
    names = {a.path for a in client.list_artifacts(suite.info.run_id)}
    assert {"ranking.md", "ranking.tex", "summary.csv", "plots"} <= names


@pytest.mark.slow
def test_resume_and_force_keep_one_mlflow_run_per_bench_run(tracked):
    before = {key: len(runs) for key, runs in logged(tracked).items()}
    in_process = {"executor": "in-process", "quiet": True, **TINY}
    bench.run("simple_cnn", out=str(tracked), mlflow=True, **in_process)
    assert {key: len(runs) for key, runs in logged(tracked).items()} == before
    bench.run("simple_cnn", out=str(tracked), mlflow=True, force=True, **in_process)
    assert {key: len(runs) for key, runs in logged(tracked).items()} == before
    assert_logged_as_written(tracked)


@pytest.mark.slow
def test_export_logs_a_results_folder_the_same_way(tracked, tmp_path, monkeypatch, capsys):
    uri = f"sqlite:///{tmp_path}/elsewhere.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    for _ in range(2):  # twice: still one MLflow run per bench run
        code, out, err = bench_main(capsys, "export", "mlflow", "--results", str(tracked))
        assert code == 0, err
    assert "2 runs" in out and uri in out
    assert_logged_as_written(tracked, uri)
    assert (tmp_path / "mlartifacts").is_dir(), "artifacts beside the database"
    assert not (ROOT / "mlruns").exists(), "nothing written where bench was started"


def test_without_mlflow_installed_the_setting_is_one_line(monkeypatch, tmp_path, capsys):
    from bench.settings import declarations

    monkeypatch.setattr(declarations, "installed", lambda package: package != "mlflow")
    code, _, err = bench_main(
        capsys, "run", "--models", "simple_cnn", "--mlflow", "--out", str(tmp_path / "r")
    )
    assert code == 2 and "pip install -e '.[mlflow]'" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_export_of_an_empty_folder_is_one_line(tmp_path):
    with pytest.raises(BenchError, match="no runs"):
        log_results(ResultsStore(tmp_path))
