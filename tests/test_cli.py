"""`bench` as a user runs it: a real run on real data, and clear errors for bad input."""

from __future__ import annotations

import json

import keras
import pandas as pd
import pytest

from bench.results import CLASS_COLUMNS, CONFUSION_COLUMNS, EPOCH_COLUMNS, FILES, RUN_COLUMNS
from tests.conftest import ROOT, random_weights, run_cli

PHASE_ONLY = {"unfreeze": {"finetune"}}  # columns that belong to one phase only
GPU_ONLY = {"peak_gpu_mem_mb", "peak_gpu_mem_nvml_mb"}  # empty, never 0, on a CPU


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    """Backbone weights given by path: what a user offline would pass instead of imagenet."""
    return random_weights("MobileNetV3Small", tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="module")
def real_run(cifar_slice, weights_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    args = [
        "run",
        "--dataset",
        f"folder:{cifar_slice}",
        "--models",
        "simple_cnn,MobileNetV3Small",
        "--weights",
        str(weights_file),
        "--image-size",
        "32",
        "--batch-size",
        "32",
        "--epochs-frozen",
        "2",
        "--epochs-finetune",
        "2",
        "--epochs-scratch",
        "2",
        "--patience",
        "5",
        "--out",
        str(out),
    ]
    return run_cli(*args), out, args


def test_real_run_writes_every_documented_column(real_run):
    result, out, _ = real_run
    assert result.returncode == 0, result.stderr[-2000:]
    runs = pd.read_csv(out / "runs.csv")
    assert list(runs.columns) == RUN_COLUMNS
    assert sorted(zip(runs["model"], runs["phase"], strict=True)) == [
        ("MobileNetV3Small", "finetune"),
        ("MobileNetV3Small", "frozen"),
        ("simple_cnn", "scratch"),
    ]
    assert (runs["status"] == "ok").all()
    for _, row in runs.iterrows():
        for column in RUN_COLUMNS:
            if column in GPU_ONLY or column == "error":
                continue
            if column == "features_time_s":  # only in frozen_mode=features
                assert pd.isna(row[column]) and row["frozen_mode"] == "end-to-end"
                continue
            if column == "compile_cache_hits":  # JAX's persistent cache only
                assert pd.isna(row[column]) == (row["backend"] != "jax")
                continue
            if column == "git_commit" and not (ROOT / ".git").exists():
                continue  # recorded when there is one
            if row["phase"] not in PHASE_ONLY.get(column, {row["phase"]}):
                continue
            assert pd.notna(row[column]), f"{column} empty for {row['model']} {row['phase']}"
    assert runs[list(GPU_ONLY)].isna().all().all()  # this machine has no GPU
    assert (runs["peak_host_rss_mb"] > 0).all() and (runs["gmacs"] > 0).all()
    assert (runs["keras_version"] == keras.__version__).all()
    assert (runs["backend"] == keras.backend.backend()).all()
    for column in ("train_accuracy", "val_accuracy", "test_accuracy", "test_top5_accuracy"):
        assert runs[column].between(0, 1).all()
    assert (runs["train_size"] == 180).all() and (runs["test_size"] == 100).all()
    assert runs["dataset"].str.startswith("folder:").all()

    epochs = pd.read_csv(out / "epochs.csv")
    assert list(epochs.columns) == EPOCH_COLUMNS
    assert len(epochs) == 6 and epochs.notna().all().all()
    classes = pd.read_csv(out / "classes.csv")
    assert list(classes.columns) == CLASS_COLUMNS and len(classes) == 30
    confusion = pd.read_csv(out / "confusion.csv")
    assert list(confusion.columns) == CONFUSION_COLUMNS and (confusion["count"] > 0).all()
    per_phase = confusion.groupby(["run_id", "phase"])["count"].sum()
    assert (per_phase == 100).all() and len(per_phase) == 3  # every test image, once per phase


def test_run_ends_with_the_report_of_its_suite(real_run):
    result, out, _ = real_run
    assert "ranked by test accuracy" in result.stdout
    ranking = (out / "ranking.md").read_text()
    assert "MobileNetV3Small" in ranking and "simple_cnn" in ranking
    assert (out / "ranking.tex").is_file() and (out / "summary.csv").is_file()
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["phase"]) == {"frozen", "finetune", "scratch"}


def test_env_json_records_the_environment_and_each_rows_settings(real_run):
    _, out, _ = real_run
    recorded = json.loads((out / "env.json").read_text())
    runs = pd.read_csv(out / "runs.csv")
    assert recorded["environment"]["keras_version"] == keras.__version__
    assert recorded["environment"]["packages"]["keras"] == keras.__version__
    assert set(runs["settings_hash"]) <= set(recorded["protocols"])
    assert recorded["settings"]["models"] == ["simple_cnn", "MobileNetV3Small"]
    shown = run_cli("env", "--results", str(out))
    assert shown.returncode == 0 and f"protocols.{runs['settings_hash'][0]}.batch_size" in (
        shown.stdout
    )


def test_env_prints_the_current_environment():
    result = run_cli("env", "--json")
    assert result.returncode == 0, result.stderr
    environment = json.loads(result.stdout)
    assert environment["keras_version"] == keras.__version__ and environment["cpu"]


def test_info_prints_params_and_gmacs_without_training():
    result = run_cli("info", "MobileNetV2", "simple_cnn", "--image-size", "96")
    assert result.returncode == 0, result.stderr
    mobilenet = next(line for line in result.stdout.splitlines() if "MobileNetV2" in line)
    cells = [c.strip() for c in mobilenet.strip("|").split("|")]
    assert cells[:5] == ["MobileNetV2", "mobilenet_v2", "tf", "224", "96"]
    assert float(cells[5]) == pytest.approx(2.270794, abs=1e-3)  # 2,257,984 + 1280*10 + 10
    assert float(cells[7]) == pytest.approx(0.30 * (96 / 224) ** 2, rel=0.1)
    assert "simple_cnn" in result.stdout
    assert_clean_error(run_cli("info", "MobileNetV9"), "MobileNetV2")


def test_rerun_skips_recorded_runs_without_duplicates(real_run):
    _, out, args = real_run
    before = pd.read_csv(out / "runs.csv")
    again = run_cli(*args)
    assert again.returncode == 0 and "already recorded" in again.stdout
    pd.testing.assert_frame_equal(pd.read_csv(out / "runs.csv"), before)


def test_readme_documents_every_column():
    readme = (ROOT / "README.md").read_text()
    for column in (c for columns in FILES.values() for c in columns):
        assert f"`{column}`" in readme, f"README does not document column {column}"


def assert_clean_error(result, *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    line = [x for x in result.stderr.splitlines() if x.startswith("bench: error:")]
    assert len(line) == 1, result.stderr[-2000:]
    for fragment in fragments:
        assert fragment in line[0]


def test_offline_cifar10_says_what_file_to_put_where(tmp_path):
    result = run_cli(
        "run",
        "--dataset",
        "cifar10",
        "--models",
        "simple_cnn",
        "--out",
        str(tmp_path / "r"),
        env={"KERAS_HOME": str(tmp_path)},
    )
    assert_clean_error(result, "cifar-10-python.tar.gz", str(tmp_path / "datasets"))


def test_unknown_model_suggests_the_closest(tmp_path):
    result = run_cli("run", "--models", "resnet05", "--dataset", "digits", "--out", str(tmp_path))
    assert_clean_error(result, "unknown model 'resnet05'", "ResNet50")


def test_invalid_config_names_the_key(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[defaults]\nepochs_frozen = 'many'\n")
    result = run_cli("run", "--config", str(config), "--models", "simple_cnn")
    assert_clean_error(result, "epochs_frozen", "int")


def test_list_shows_every_model():
    result = run_cli("list")
    assert result.returncode == 0
    for name in ("ResNet50", "EfficientNetV2S", "ConvNeXtTiny", "simple_cnn", "caffe", "torch"):
        assert name in result.stdout


def test_run_help_explains_each_flag():
    result = run_cli("run", "--help")
    for flag in (
        "--models",
        "--dataset",
        "--data-dir",
        "--config",
        "--suite",
        "--seeds",
        "--weights",
        "--image-size",
        "--batch-size",
        "--epochs-frozen",
        "--epochs-finetune",
        "--epochs-scratch",
        "--limit",
        "--out",
    ):
        assert flag in result.stdout
