"""`bench run --dry-run` and `bench.dry_run`: the runs a command would start and skip, with an
estimate from the earlier runs of the same model and settings, and nothing written."""

from __future__ import annotations

import keras
import pandas as pd
import pytest

import bench
from bench.cli import build_parser
from bench.execution.dry_run import describe, plan_frame
from bench.settings import FIELDS, Settings
from tests.helpers import TINY, bench_main, run_row, write_fixture


def settings_of(args: list[str]) -> dict:
    """`bench run` flags as keywords of `bench.run`/`bench.dry_run`."""
    parsed = build_parser().parse_args(args)
    return {name: getattr(parsed, name) for name in FIELDS}


def test_dry_run_lists_what_would_run_and_skip_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "results"
    args = ["run", "--models", "simple_cnn,MobileNetV3Small", "--out", str(out), *TINY]
    args += ["--epochs-scratch", "1"]
    code, _, err = bench_main(capsys, *args, "--models", "simple_cnn", "--in-process", "--quiet")
    assert code == 0, err[-2000:]
    before = {p.name: p.stat().st_mtime_ns for p in out.rglob("*")}

    code, printed, err = bench_main(capsys, *args, "--seeds", "0,1", "--dry-run")
    assert code == 0, err[-2000:]
    assert {p.name: p.stat().st_mtime_ns for p in out.rglob("*")} == before, "nothing written"

    plan, description = bench.dry_run(**settings_of([*args, "--seeds", "0,1"]))
    recorded = pd.read_csv(out / "runs.csv", dtype={"run_id": str})
    skipped = plan[plan["action"] == "skip: recorded"]
    assert set(skipped["run_id"]) == set(recorded["run_id"]) and list(skipped["seed"]) == [0]
    assert skipped["estimate_s"].isna().all()
    starting = plan[plan["action"] == "run"].set_index(["model", "seed"])
    assert set(starting.index) == {
        ("simple_cnn", 1),
        ("MobileNetV3Small", 0),
        ("MobileNetV3Small", 1),
    }
    expected = recorded["train_time_s"].sum()  # the one earlier run of simple_cnn
    assert starting.loc[("simple_cnn", 1), "estimate_s"] == pytest.approx(expected)
    assert (
        starting.loc[("MobileNetV3Small", 0), "estimate_s"]
        != starting.loc[("MobileNetV3Small", 0), "estimate_s"]
    ), "no earlier run: no estimate (NaN)"
    assert "3 of 4 runs would start; 1 already recorded" in description
    sizes = plan.set_index("model")["image_size"].to_dict()
    assert sizes == {"simple_cnn": 32, "MobileNetV3Small": 224}, "what each will run at"
    assert set(plan["epochs"]) == {"1"} and "size" in printed and "epochs" in printed
    assert "skip: recorded" in printed and description in printed


def test_the_estimate_is_the_shared_one_per_phase_else_scaled_by_gmacs(tmp_path):
    """A frozen phase's train_time_s already holds its feature extraction (not added twice);
    a model never run under these settings is scaled by GMACs from the one that was."""
    settings = Settings(
        models=["DenseNet121", "MobileNetV2"], dataset="digits", out=str(tmp_path)
    ).validate()
    same = {"settings_hash": settings.settings_hash(), "backend": keras.backend.backend()}
    dense = {"gmacs": 2.0, "image_size": 224, **same}
    rows = [
        run_row(
            "DenseNet121",
            "frozen",
            0,
            0.8,
            train_time_s=10.0,
            features_time_s=4.0,
            epochs_run=settings.epochs_frozen,
            **dense,
        ),
        run_row(
            "DenseNet121",
            "finetune",
            0,
            0.9,
            train_time_s=20.0,
            epochs_run=settings.epochs_finetune,
            **dense,
        ),
        run_row("MobileNetV2", "frozen", 0, 0.7, gmacs=0.125, image_size=112),  # other settings
    ]
    write_fixture(tmp_path, rows)
    frame, dataset = plan_frame(settings)
    estimates = frame.set_index("model")["estimate_s"]
    assert estimates["DenseNet121"] == pytest.approx(30.0)
    assert estimates["MobileNetV2"] == pytest.approx(30.0 * 0.5 / 2.0)  # 0.125 GMACs at 112 px
    assert "estimated time: 0m38s for 2 of them" in describe(frame, dataset, settings)
