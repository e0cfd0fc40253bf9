"""A phase's row of runs.csv is derived from the schema and the phase result by name, so a new
column is its schema line plus the code that measures it."""

from __future__ import annotations

import numpy as np
import pytest

from bench.results import rows, schema
from bench.settings import Settings
from bench.training.phases import PhaseResult


def epoch(n: int, accuracy: float, val_accuracy: float) -> dict:
    return {
        "epoch": n,
        "loss": 1.0,
        "accuracy": accuracy,
        "val_loss": 1.1,
        "val_accuracy": val_accuracy,
        "learning_rate": 1e-3,
        "epoch_time_s": 2.0 + n,
        "val_time_s": 0.5,
        "data_wait_s": 0.25,
    }


@pytest.fixture
def result() -> PhaseResult:
    return PhaseResult(
        phase="finetune",
        learning_rate=1e-5,
        params_total=1_000_000,
        params_trainable=250_000,
        epochs=[epoch(1, 0.5, 0.4), epoch(2, 0.7, 0.6), epoch(3, 0.8, 0.55)],
        best_epoch=2,
        test={
            "test_accuracy": 0.58,
            "test_top5_accuracy": 0.95,
            "test_macro_f1": 0.57,
            "confusion": np.eye(2, dtype=int),
            "per_class_accuracy": [1.0, 1.0],
        },
        infer_images_per_s=321.0,
        infer_batch_size=64,
        peak_host_rss_mb=812.5,
    )


def test_each_column_comes_from_the_phase_result_its_metrics_or_the_runs_fields(result):
    base = {"run_id": "abc", "model": "ResNet50", "train_size": 900, "gmacs": 4.1}
    row = rows.phase_row(base, result, Settings(unfreeze=0.3))
    assert list(row) == schema.names("runs")
    assert row["run_id"] == "abc" and row["model"] == "ResNet50" and row["gmacs"] == 4.1
    assert row["phase"] == "finetune" and row["status"] == "ok" and row["error"] is None
    assert row["infer_images_per_s"] == 321.0 and row["peak_host_rss_mb"] == 812.5
    assert row["test_accuracy"] == 0.58 and row["test_macro_f1"] == 0.57
    assert row["train_accuracy"] == 0.7 and row["val_accuracy"] == 0.6, "at the best epoch"
    assert row["overfit_gap"] == pytest.approx(0.1)
    assert row["time_per_epoch_s"] == 4.5, "median of the epochs after the first"
    assert row["train_images_per_s"] == pytest.approx(900 / 4.5)
    assert row["unfreeze"] == 0.3 and row["bn_mode"] == "frozen" and row["epochs_run"] == 3
    assert row["peak_gpu_mem_mb"] is None, "no GPU: empty, never 0"


def test_a_new_column_needs_only_its_schema_line_and_a_measurement(result, monkeypatch):
    new = schema.Column("clock_speed_mhz", float, "a new measured figure", "MHz")
    monkeypatch.setitem(schema.FILES, "runs", [*schema.FILES["runs"], new])
    result.clock_speed_mhz = 1980.0  # what the code that measures it would set
    row = rows.phase_row({"train_size": 10}, result, Settings())
    assert row["clock_speed_mhz"] == 1980.0
