"""Suites that survive: SIGKILL then resume gives every run exactly once; a failing run and a run
out of memory cost that run only; changed data runs again; debris of a killed suite is removed."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import time
import warnings

import pandas as pd
import pytest

from bench import cli
from bench.errors import BenchError
from bench.execution.one_run import Run, crashed, is_out_of_memory
from bench.models import registry
from bench.models.classifier import load_backbone
from bench.results import schema
from tests.helpers import (
    TINY,
    assert_each_run_once_and_complete,
    bench_main,
    cli_error,
    random_weights,
    run_here,
    run_row,
    start_suite,
    suite_args,
    wait_for_rows,
    write_runs,
)


@pytest.mark.slow
def test_sigkill_then_resume_records_every_run_exactly_once(tmp_path, capsys):
    out = tmp_path / "results"
    suite = start_suite(suite_args(out))
    wait_for_rows(out / "runs.csv", 1)
    time.sleep(1.0)  # into the next run: its process is training when the kill comes
    os.killpg(suite.pid, signal.SIGKILL)
    suite.wait(timeout=60)
    kept = pd.read_csv(out / "runs.csv")
    assert len(kept) == 1 and kept["run_id"].is_unique
    resumed = run_here(capsys, *suite_args(out))  # the bench command, in this process
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert resumed.stdout.count("already recorded: skipped") == len(kept)
    assert_each_run_once_and_complete(out, 2)
    from bench.common.paths import cache_root

    assert not list((cache_root() / "suites").glob(f"{suite.pid}-*")), "its data copy is gone"
    assert not [p for p in out.glob(".*") if p.name != ".bench.lock"], "no temporary files"
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "runs.csv").iloc[: len(kept)], kept, check_dtype=False
    )


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_says_what_was_kept(tmp_path):
    out = tmp_path / "results"
    suite = start_suite(suite_args(out))
    wait_for_rows(out / "runs.csv", 1)
    os.killpg(suite.pid, signal.SIGINT)
    output, _ = suite.communicate(timeout=120)
    assert suite.returncode == 130, output[-2000:]
    assert "interrupted:" in output and "the same command resumes" in output
    assert "Traceback" not in output
    assert_each_run_once_and_complete(out, len(pd.read_csv(out / "runs.csv")))


@pytest.mark.slow
def test_a_failing_run_is_a_failed_row_and_the_others_complete(tmp_path, capsys):
    """MobileNetV2 given weights saved from another architecture fails; simple_cnn runs."""
    weights = random_weights("MobileNetV3Small", tmp_path)
    out = tmp_path / "results"
    args = ["run", "--models", "MobileNetV2,simple_cnn", "--out", str(out), *TINY]
    args += ["--weights", str(weights), "--image-size", "32", "--epochs-frozen", "1"]
    code, _, stderr = bench_main(capsys, *args)
    assert code == 1
    runs = pd.read_csv(out / "runs.csv").set_index("model")
    assert runs.loc["simple_cnn", "status"] == "ok"
    assert runs.loc["MobileNetV2", "status"] == "failed"
    assert "cannot load weights" in runs.loc["MobileNetV2", "error"]
    assert "run failed: MobileNetV2" in stderr and "Traceback" not in stderr
    assert "EfficientNet" not in (out / "ranking.md").read_text()
    assert "MobileNetV2 seed=0 setup: BenchError: cannot load weights" in (
        (out / "ranking.md").read_text()
    )


def test_out_of_memory_is_retried_at_half_the_batch_size(tmp_path, capsys, monkeypatch):
    """The retry is the suite's (the same with a process per run: see crashed() for how a
    killed process counts as out of memory); here in this process, to spare a start."""
    out = tmp_path / "results"
    args = ["run", "--models", "simple_cnn", "--out", str(out), *TINY, "--in-process"]
    monkeypatch.setenv("BENCH_SIMULATE_OOM_ABOVE", "16")
    code, stdout, stderr = bench_main(capsys, *args, "--batch-size", "64")
    assert code == 0, stdout[-2000:] + stderr[-2000:]
    assert "out of memory at batch size 64: trying again at 32" in stdout
    assert "out of memory at batch size 32: trying again at 16" in stdout
    runs = pd.read_csv(out / "runs.csv")
    assert list(runs["batch_size"]) == [16] and list(runs["status"]) == ["ok"]
    assert (runs["infer_batch_size"] == 16).all()


def test_out_of_memory_below_the_floor_is_a_failed_row(tmp_path, capsys, monkeypatch):
    config = tmp_path / "floor.toml"
    config.write_text("[defaults]\nmin_batch_size = 32\n")
    out = tmp_path / "results"
    args = ["run", "--config", str(config), "--models", "simple_cnn", "--out", str(out), *TINY]
    args.append("--in-process")
    monkeypatch.setenv("BENCH_SIMULATE_OOM_ABOVE", "16")
    assert bench_main(capsys, *args)[0] == 1
    row = pd.read_csv(out / "runs.csv").iloc[0]
    assert row["status"] == "failed" and row["batch_size"] == 32
    assert row["error"].startswith("MemoryError: simulated")


def test_a_killed_run_process_counts_as_out_of_memory():
    spec = registry.get("simple_cnn")
    fields = {"name": "digits", "num_classes": 10, "fingerprint": "f", "y_val": None}
    dataset = type("D", (), fields)()
    from bench.settings import Settings

    outcome = crashed(Run(spec, 0, "abc", ("scratch",)), dataset, Settings(), 32, "scratch", -9)
    row = outcome.tables["runs"][0]
    assert outcome.out_of_memory and row["status"] == "failed" and row["phase"] == "scratch"
    assert "SIGKILL" in row["error"] and "out-of-memory killer" in row["error"]
    segfault = crashed(Run(spec, 0, "abc", ("scratch",)), dataset, Settings(), 32, "setup", -11)
    assert not segfault.out_of_memory and "SIGSEGV" in segfault.tables["runs"][0]["error"]


@pytest.mark.parametrize(
    "error, expected",
    [
        (MemoryError(), True),
        (type("ResourceExhaustedError", (Exception,), {})("OOM when allocating"), True),
        (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), True),
        (RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate"), True),
        (ValueError("shapes do not match"), False),
    ],
)
def test_out_of_memory_as_each_backend_says_it(error, expected):
    assert is_out_of_memory(error) is expected


def test_weights_that_fit_only_part_of_the_backbone_are_an_error(monkeypatch):
    """Keras warns and keeps random weights for what a file lacks; bench refuses instead."""
    spec = registry.get("MobileNetV3Small")
    build = spec.build

    def partly_loading(**kwargs):
        warnings.warn(
            "Skipping nested container at '_operations_by_depth/container_7': no matching group"
            " found in the saved file. Affected layers will retain their freshly-initialized"
            " weights.",
            stacklevel=1,
        )
        return build(**{**kwargs, "weights": None})

    monkeypatch.setattr("bench.models.classifier.check_weights_file", lambda path: None)
    with pytest.raises(BenchError, match="fit only part of MobileNetV3Small"):
        load_backbone(dataclasses.replace(spec, build=partly_loading), 32, "some.weights.h5")


def test_two_suites_writing_one_folder_lose_no_rows(tmp_path):
    """Read-modify-write of the CSV files is serialised by a file lock across processes."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    writers = [
        context.Process(target=write_runs, args=(str(tmp_path), prefix, 15, barrier))
        for prefix in "ab"
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=300)
        assert writer.exitcode == 0
    runs = pd.read_csv(tmp_path / "runs.csv")
    assert sorted(runs["run_id"]) == sorted(f"{p}{i}" for p in "ab" for i in range(15))


def test_in_process_runs_everything_here_on_the_loaded_backend(tmp_path, capsys, run_args):
    assert cli.main(run_args("--in-process", "--quiet", "--seeds", "0,1")) == 0
    runs = pd.read_csv(tmp_path / "out" / "runs.csv")
    assert len(runs) == 2 and (runs["status"] == "ok").all()
    message = cli_error(capsys, *run_args("--in-process", "--backend", "jax", "--force"))
    assert "drop --in-process to run on jax" in message


def test_ids_that_look_like_numbers_stay_text(tmp_path):
    """A hash may be all digits or read as a float (4e1712): rows must still match by id."""
    from bench.results import ResultsStore

    store = ResultsStore(tmp_path)
    for run_id, settings_hash in (("123456789012", "4e1712"), ("000000000042", "1234567890")):
        row = run_row("VGG16", "frozen", 0, 0.5, run_id=run_id, settings_hash=settings_hash)
        store.write_run(run_id, {"runs": [row]})
        store.write_run(run_id, {"runs": [row]})  # again: replaced, not duplicated
    runs = store.read("runs")
    assert list(runs["run_id"]) == ["123456789012", "000000000042"]
    assert list(runs["settings_hash"]) == ["4e1712", "1234567890"]
    assert store.recorded_phases() == {"123456789012": {"frozen"}, "000000000042": {"frozen"}}


def test_ctrl_c_while_a_run_is_written_takes_effect_once_all_its_files_are(tmp_path, monkeypatch):
    """Ctrl-C arriving after epochs.csv and before runs.csv (a Ray suite's CI run caught this)
    must not leave epoch rows of a run that runs.csv lacks."""
    from bench.results import ResultsStore, store

    write = store.write_atomically

    def write_then_ctrl_c(path, content):
        write(path, content)
        if path.name == "epochs.csv":
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.1)  # where the handler would have raised

    monkeypatch.setattr(store, "write_atomically", write_then_ctrl_c)
    results = ResultsStore(tmp_path)
    row = run_row("VGG16", "frozen", 0, 0.5, run_id="a")
    epoch = dict.fromkeys(schema.names("epochs")) | {"run_id": "a", "phase": "frozen", "epoch": 1}
    with pytest.raises(KeyboardInterrupt):
        results.write_run("a", {"runs": [row], "epochs": [epoch]})
    assert list(results.read("runs")["run_id"]) == list(results.read("epochs")["run_id"]) == ["a"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back


def test_an_error_inside_a_run_process_is_recorded_as_itself(tmp_path):
    """The child's own exception type and message, never 'killed by SIGTERM'."""
    from bench.data import load_dataset
    from bench.data.shared_memory import SharedDataset
    from bench.execution.progress import SilentReporter
    from bench.execution.suite import chosen_models, plan
    from bench.execution.worker import Processes, run_in_process
    from bench.settings import Settings

    settings = Settings(models=["simple_cnn"], dataset="digits", weights="none").validate()
    dataset = load_dataset("digits")
    run = plan(settings, chosen_models(settings), dataset)[0]
    with SharedDataset(dataset) as shared, Processes("") as processes:
        for array in shared.folder.glob("x_train.npy"):
            array.unlink()  # the run's process cannot load its training images
        outcome = run_in_process(run, shared, settings, 32, SilentReporter(), processes)
    row = outcome.tables["runs"][0]
    assert row["status"] == "failed" and row["phase"] == "setup"
    assert row["error"].startswith("FileNotFoundError:") and "x_train.npy" in row["error"]
    assert not outcome.out_of_memory


@pytest.mark.slow
def test_changed_data_and_damaged_rows_run_again(tmp_path, capsys, cifar_copy):
    """Resume skips a run only when its data is unchanged and all its rows are complete."""
    out = tmp_path / "out"
    args = ["run", "--models", "simple_cnn", "--dataset", f"folder:{cifar_copy}", "--in-process"]
    args += ["--weights", "none", "--epochs-scratch", "1", "--batch-size", "32", "--out", str(out)]
    assert cli.main(args) == 0
    first = pd.read_csv(out / "runs.csv")
    assert cli.main(args) == 0
    assert "already recorded: skipped" in capsys.readouterr().out
    image = next((cifar_copy / "train" / "cat").iterdir())
    shutil.copy(image, cifar_copy / "train" / "cat" / "added.jpg")
    assert cli.main(args) == 0
    assert "already recorded" not in capsys.readouterr().out, "new images: a new run"
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 2 and runs["data_fingerprint"].nunique() == 2
    images = (runs["train_size"] + runs["val_size"]).tolist()
    assert images == [first["train_size"][0] + first["val_size"][0]] * 1 + [images[0] + 1]
    text = (out / "runs.csv").read_text()
    (out / "runs.csv").write_text(text[: len(text) - len(text.splitlines()[-1]) // 2 - 1])
    assert cli.main(args) == 0  # the torn last row's run is not recorded: it runs again
    assert "already recorded" not in capsys.readouterr().out
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 2 and runs["test_accuracy"].notna().all() and runs["run_id"].is_unique


def test_a_run_missing_a_phase_row_runs_again(tmp_path):
    from bench.results import ResultsStore

    store = ResultsStore(tmp_path)
    store.write_run("a", {"runs": [run_row("VGG16", "frozen", 0, 0.5, run_id="a")]})
    assert store.recorded_phases() == {"a": {"frozen"}}  # the suite wants frozen + finetune
    broken = run_row("VGG16", "finetune", 0, 0.6, run_id="b", test_accuracy=None)
    store.write_run("b", {"runs": [run_row("VGG16", "frozen", 0, 0.5, run_id="b"), broken]})
    assert "b" not in store.recorded_phases()


def test_debris_of_a_killed_suite_is_removed_by_the_next(tmp_path, capsys, run_args):
    from bench.common.paths import cache_root

    stale = cache_root() / "suites" / "999999999-dead"  # no such process
    stale.mkdir(parents=True)
    (stale / "x_train.npy").write_bytes(b"left by kill -9")
    out = tmp_path / "out"
    out.mkdir()
    for name in (".epochs.csv.abc123", ".runs.csv.def456", ".env.json.0xyz"):
        (out / name).write_text("half a file")
    assert cli.main(run_args("--in-process", "--quiet", "--epochs-scratch", "1")) == 0
    assert not stale.exists()
    assert sorted(p.name for p in out.glob(".*")) == [".bench.lock"]
