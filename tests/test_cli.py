"""`bench` as a user runs it: a real run on real data, and clear errors for bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import keras
import pandas as pd
import pytest

import bench
from bench.common import native_logs
from bench.execution.progress import print_table
from bench.results import schema
from tests.helpers import ROOT, bench_main, random_weights, run_cli, run_here, split_layout

PHASE_ONLY = {"unfreeze": {"finetune"}}  # columns that belong to one phase only
# Empty in this run, which asks for none of them (tests/test_measurements.py fills them).
NOT_ASKED = {"train_per_class", "probe_c", "probe_fit_s", "corruption_accuracy"}
NOT_ASKED |= {"relative_robustness", "corruption_time_s"}
GPU_ONLY = {"peak_gpu_mem_mb", "peak_gpu_mem_nvml_mb", "gpu_ids"}  # empty, never 0, on a CPU


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    """Backbone weights given by path: what a user offline would pass instead of imagenet."""
    return random_weights("MobileNetV3Small", tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="module")
def real_run(weights_file, tmp_path_factory):
    """Real CIFAR-10 images in train/, val/ and test/ folders (the val/ folder is the
    validation split), through the `bench` command."""
    out = tmp_path_factory.mktemp("results")
    data = split_layout(tmp_path_factory.mktemp("data") / "cifar10-split")
    args = [
        "run",
        "--dataset",
        f"folder:{data}",
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


@pytest.mark.slow
def test_real_run_writes_every_documented_column(real_run):
    result, out, _ = real_run
    assert result.returncode == 0, result.stderr[-2000:]
    runs = pd.read_csv(out / "runs.csv")
    assert list(runs.columns) == schema.names("runs")
    assert sorted(zip(runs["model"], runs["phase"], strict=True)) == [
        ("MobileNetV3Small", "finetune"),
        ("MobileNetV3Small", "frozen"),
        ("simple_cnn", "scratch"),
    ]
    assert (runs["status"] == "ok").all()
    for _, row in runs.iterrows():
        for column in schema.names("runs"):
            if column in GPU_ONLY or column == "error":
                continue
            if column in NOT_ASKED:
                assert pd.isna(row[column]), column
                continue
            if column == "weights_files":  # only with --save-weights
                assert pd.isna(row[column])
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
    assert (runs["train_size"] == 90).all() and (runs["test_size"] == 60).all()
    assert (runs["val_size"] == 30).all() and (runs["val_source"] == "folder").all()
    assert (
        runs["dataset"].str.startswith("folder:").all() and runs["data_fingerprint"].notna().all()
    )

    epochs = pd.read_csv(out / "epochs.csv")
    assert list(epochs.columns) == schema.names("epochs")
    assert len(epochs) == 6 and epochs.notna().all().all()
    classes = pd.read_csv(out / "classes.csv")
    assert list(classes.columns) == schema.names("classes") and len(classes) == 30
    confusion = pd.read_csv(out / "confusion.csv")
    assert list(confusion.columns) == schema.names("confusion") and (confusion["count"] > 0).all()
    per_phase = confusion.groupby(["run_id", "phase"])["count"].sum()
    assert (per_phase == 60).all() and len(per_phase) == 3  # every test image, once per phase
    assert set(classes["class_name"]) >= {"airplane", "truck"}, "classes, not 'train' and 'val'"


@pytest.mark.slow
def test_output_holds_no_native_log_lines(real_run):
    """TensorFlow's C++ lines (oneDNN, cuInit...) never reach the user without --debug."""
    result, _, _ = real_run
    output = result.stdout + result.stderr
    assert not [line for line in output.splitlines() if native_logs.is_noise(line)]
    assert "cuInit" not in output and "absl::InitializeLog" not in output


@pytest.mark.slow
def test_run_ends_with_the_report_of_its_suite(real_run):
    result, out, _ = real_run
    assert "ranked by test accuracy" in result.stdout
    ranking = (out / "ranking.md").read_text()
    assert "MobileNetV3Small" in ranking and "simple_cnn" in ranking
    assert (out / "ranking.tex").is_file() and (out / "summary.csv").is_file()
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["phase"]) == {"frozen", "finetune", "scratch"}
    page = (out / "report.html").read_text()
    # Its backbone's weights are random: at chance level it may be flagged (‡), never left out.
    assert re.search(r"<td>MobileNetV3Small( ‡)?</td>", page) and "report.html" in result.stdout


@pytest.mark.slow
def test_env_json_records_the_environment_and_each_rows_settings(real_run, capsys):
    _, out, _ = real_run
    recorded = json.loads((out / "env.json").read_text())
    runs = pd.read_csv(out / "runs.csv", dtype={"settings_hash": str})  # "4e1712..." is text
    assert recorded["environment"]["keras_version"] == keras.__version__
    assert recorded["environment"]["packages"]["keras"] == keras.__version__
    assert set(runs["settings_hash"]) <= set(recorded["protocols"])
    assert recorded["settings"]["models"] == ["simple_cnn", "MobileNetV3Small"]
    shown = run_here(capsys, "env", "--results", str(out))
    assert shown.returncode == 0 and f"protocols.{runs['settings_hash'][0]}.batch_size" in (
        shown.stdout
    )


def test_env_prints_the_current_environment(capsys):
    code, out, err = bench_main(capsys, "env", "--json")
    assert code == 0, err
    environment = json.loads(out)
    assert environment["keras_version"] == keras.__version__ and environment["cpu"]


def test_info_prints_params_and_gmacs_without_training(capsys):
    code, out, err = bench_main(capsys, "info", "MobileNetV2", "simple_cnn", "--image-size", "96")
    assert code == 0, err
    mobilenet = next(line for line in out.splitlines() if "MobileNetV2" in line)
    cells = [c.strip() for c in mobilenet.strip("|").split("|")]
    assert cells[:5] == ["MobileNetV2", "mobilenet_v2", "tf", "224", "96"]
    assert float(cells[5]) == pytest.approx(2.270794, abs=1e-3)  # 2,257,984 + 1280*10 + 10
    assert float(cells[7]) == pytest.approx(0.30 * (96 / 224) ** 2, rel=0.1)
    assert "simple_cnn" in out
    code, _, err = bench_main(capsys, "info", "MobileNetV9")
    assert code == 2 and "MobileNetV2" in err and "Traceback" not in err


def test_info_and_list_take_families_as_run_does(capsys):
    code, out, err = bench_main(capsys, "info", "family:vgg", "--image-size", "32")
    assert code == 0, err
    assert "VGG16" in out and "VGG19" in out
    code, out, _ = bench_main(capsys, "list", "--family", "vgg")
    assert code == 0 and "VGG16" in out and "ResNet50" not in out
    code, out, err = bench_main(capsys, "list", "--family", "nope")
    assert code == 2 and not out and "unknown family 'nope'" in err


@pytest.mark.slow
def test_rerun_skips_recorded_runs_without_duplicates(real_run, capsys):
    _, out, args = real_run
    before = pd.read_csv(out / "runs.csv")
    again = run_here(capsys, *args)  # everything recorded: no run process starts
    assert again.returncode == 0 and "already recorded" in again.stdout
    pd.testing.assert_frame_equal(pd.read_csv(out / "runs.csv"), before)


def assert_clean_error(result, *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    line = [x for x in result.stderr.splitlines() if x.startswith("bench: error:")]
    assert len(line) == 1, result.stderr[-2000:]
    for fragment in fragments:
        assert fragment in line[0]


def test_offline_cifar10_says_what_file_to_put_where(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    out = tmp_path / "r"
    result = run_here(
        capsys, "run", "--dataset", "cifar10", "--models", "simple_cnn", "--out", str(out)
    )
    assert_clean_error(result, "cifar-10-python.tar.gz", str(tmp_path / "datasets"))
    assert not out.exists(), "a refused run writes nothing"


def test_unknown_model_suggests_the_closest(tmp_path, capsys):
    args = ["run", "--models", "resnet05", "--dataset", "digits", "--out", str(tmp_path)]
    code, _, err = bench_main(capsys, *args)
    assert code == 2 and "unknown model 'resnet05'" in err and "ResNet50" in err


def test_invalid_config_names_the_key(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text("[defaults]\nepochs_frozen = 'many'\n")
    code, _, err = bench_main(capsys, "run", "--config", str(config), "--models", "simple_cnn")
    assert code == 2 and "epochs_frozen" in err and "int" in err


def test_list_shows_every_model(capsys):
    code, out, _ = bench_main(capsys, "list")
    assert code == 0
    for name in ("ResNet50", "EfficientNetV2S", "ConvNeXtTiny", "simple_cnn", "caffe", "torch"):
        assert name in out


def test_version(capsys):
    code, out, _ = bench_main(capsys, "--version")
    assert code == 0 and out.strip() == f"bench {bench.__version__}"


def test_a_narrow_terminal_never_cuts_a_model_name(capsys, monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", "60")
    print_table(
        ["rank", "model", *(f"figure {i}" for i in range(8))],
        [["1", "EfficientNetV2B0", *("0.123" for _ in range(8))]],
        numbers_from=2,
        names=1,
    )
    assert "EfficientNetV2B0" in capsys.readouterr().out


def test_run_help_explains_each_flag(capsys):
    _, out, _ = bench_main(capsys, "run", "--help")
    assert "training and inference batch size" in " ".join(out.split())
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
        assert flag in out


def test_native_log_lines_are_told_from_bench_and_python_output():
    noise = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1795793289.070169   13374 port.cc:153] oneDNN custom operations are on.",
        "E0000 00:00:1795793294.276587   13374 cuda_platform.cc:52] failed call to cuInit: X",
        "W1127 15:13:34.123456    4242 gpu_device.cc:2344] Cannot dlopen some GPU libraries.",
    ]
    kept = [
        "bench: error: unknown model 'resnet05'",
        "Traceback (most recent call last):",
        "F0000 00:00:1795793294.276587   13374 fatal.cc:1] a fatal error is never hidden",
        "UserWarning: something Python says",
    ]
    assert all(native_logs.is_noise(line) for line in noise)
    assert not any(native_logs.is_noise(line) for line in kept)


FILTER_IN_A_REPLACED_STDERR = """
import io, os, sys
from bench.common.native_logs import filtered_stderr
sys.stderr = notebook = io.StringIO()  # a notebook's stream: it writes to no descriptor
with filtered_stderr():
    os.write(2, b"I0000 00:00:1795793289.070169   13374 port.cc:153] oneDNN noise\\n")
    os.write(2, b"a native line that is not noise\\n")
    print("python's own message", file=sys.stderr)
sys.__stdout__.write(notebook.getvalue())
"""


def test_native_lines_are_filtered_where_sys_stderr_was_replaced_as_in_a_notebook():
    """A Jupyter kernel replaces sys.stderr and reads descriptor 2 itself: the filter must
    still stand between the native libraries and it (tests/test_notebook.py: a real kernel)."""
    result = subprocess.run(
        [sys.executable, "-c", FILTER_IN_A_REPLACED_STDERR], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "oneDNN" not in result.stdout + result.stderr
    assert "a native line that is not noise" in result.stdout
    assert "python's own message" in result.stdout
