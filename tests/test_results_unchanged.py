"""Results written by an earlier version (commit bcc3e6b, the smoke suite, TensorFlow, one
compute thread) stay valid: the same suite finds them recorded (same run ids and settings
hash), a rerun gives the same accuracies, and they still report."""

from __future__ import annotations

import shutil

import keras
import pandas as pd
import pytest

import bench
from bench.reports import tables
from tests.helpers import ROOT, bench_main

BEFORE = ROOT / "tests" / "fixtures" / "results-bcc3e6b"
RUN_IDS = {"simple_cnn": "b4e20054cd70", "DenseNet121": "04ab64e20f5f"}
SETTINGS_HASH = "b49bf76bc8de"
FIGURES = ["test_accuracy", "val_accuracy", "train_accuracy", "test_macro_f1", "epochs_run"]
# Run ids include the backend, and the fixture was written on TensorFlow, the default.
pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the fixture was written on TensorFlow"
)


@pytest.fixture
def before(tmp_path):
    return shutil.copytree(BEFORE, tmp_path / "results")


def recorded(folder) -> pd.DataFrame:
    runs = pd.read_csv(folder / "runs.csv", dtype={"run_id": str, "settings_hash": str})
    return runs.set_index("model")


def test_the_fixture_is_what_the_earlier_version_wrote():
    runs = recorded(BEFORE)
    assert runs["run_id"].to_dict() == RUN_IDS
    assert (runs["settings_hash"] == SETTINGS_HASH).all() and (runs["status"] == "ok").all()


def test_the_smoke_suite_finds_its_earlier_runs_recorded(before, capsys):
    """Every run id and the settings hash are unchanged: nothing is run again."""
    code, out, err = bench_main(capsys, "run", "--suite", "smoke", "--out", str(before))
    assert code == 0, err[-2000:]
    assert out.count("already recorded") == len(RUN_IDS)
    assert recorded(before)["run_id"].to_dict() == RUN_IDS


def test_a_rerun_gives_the_same_accuracies(before):
    frame = bench.run(
        suite="smoke",
        models="simple_cnn",
        out=str(before),
        force=True,
        executor="in-process",
        quiet=True,
    )
    again = frame.set_index("model").loc["simple_cnn"]
    then = recorded(BEFORE).loc["simple_cnn"]
    assert again["run_id"] == then["run_id"] and again["settings_hash"] == SETTINGS_HASH
    for figure in FIGURES:
        assert again[figure] == then[figure], f"{figure}: {again[figure]} != {then[figure]}"


def test_results_written_before_still_report(before, tmp_path):
    made, _, paths = tables.make(before, tmp_path / "report")
    assert [p.name for p in paths] == ["summary.csv", "ranking.md", "ranking.tex"]
    ranked = made.table.set_index("model")
    assert list(made.table["model"]) == ["simple_cnn", "DenseNet121"]
    accuracy = recorded(BEFORE)["test_accuracy"]
    assert ranked["scratch_mean"].to_dict() == pytest.approx(accuracy.to_dict())
