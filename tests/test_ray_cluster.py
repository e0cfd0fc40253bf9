"""Suites on Ray (a local cluster of this machine's 2 CPUs): every run once, the same results
as the local executor, failed runs as failed rows, and exactly once across a killed driver."""

from __future__ import annotations

import importlib.machinery
import json
import os
import signal
import sys
import types

import pandas as pd
import pytest

from tests.helpers import (
    TINY,
    assert_each_run_once_and_complete,
    bench_main,
    random_weights,
    start_suite,
    suite_args,
    wait_for_rows,
)

pytest.importorskip("ray", reason="the extra .[ray] (CI installs it)")
# One Ray cluster at a time on this machine: these tests stay on one test process.
pytestmark = pytest.mark.xdist_group("ray")
RAY = ["--executor", "ray", "--cpus-per-run", "1"]


@pytest.mark.slow
def test_ray_runs_each_once_two_at_a_time_as_the_local_executor_would(
    tmp_path, capsys, monkeypatch
):
    """Four runs on 2 CPUs, a CPU each: two in flight at a time. Each first runs out of memory
    at batch size 32 (simulated) and is tried again at 16; two of them then fail inside their
    Ray worker (weights of another architecture), and the other two finish."""
    monkeypatch.setenv("BENCH_SIMULATE_OOM_ABOVE", "16")  # Ray's workers inherit it
    weights = random_weights("MobileNetV3Small", tmp_path)
    models = ["--models", "MobileNetV2,simple_cnn", "--weights", str(weights)]
    models += ["--image-size", "32", "--epochs-frozen", "1", "--seeds", "0,1"]
    out = tmp_path / "ray"
    code, stdout, stderr = bench_main(capsys, "run", *TINY, *models, *RAY, "--out", str(out))
    assert code == 1, stderr[-2000:]  # the failed runs
    assert stdout.count("started ") == 8 and "in flight" in stdout  # 4 runs, 2 attempts each
    assert stdout.count("out of memory at batch size 32: trying again at 16") == 4
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 4 and runs["run_id"].is_unique
    failed = runs[runs["status"] == "failed"]
    assert set(failed["model"]) == {"MobileNetV2"} and len(failed) == 2
    assert failed["error"].str.contains("cannot load weights").all()
    assert (runs["node"] == os.uname().nodename).all() and (runs["batch_size"] == 16).all()

    here = tmp_path / "here"  # the same runs, in this process
    code, _, _ = bench_main(capsys, "run", *TINY, *models, "--in-process", "--out", str(here))
    local = pd.read_csv(here / "runs.csv").set_index("run_id").sort_index()
    on_ray = runs.set_index("run_id").sort_index()
    assert list(on_ray.index) == list(local.index), "the same run ids"
    ok = on_ray["status"] == "ok"
    for column in ("test_accuracy", "val_accuracy", "train_accuracy", "epochs_run"):
        assert on_ray.loc[ok, column].equals(local.loc[ok, column]), column
    assert "ray" in pd.read_json(out / "env.json", typ="series")["environment"]


@pytest.mark.slow
def test_a_killed_driver_then_the_same_command_records_every_run_once(tmp_path, capsys):
    out = tmp_path / "results"
    args = [*suite_args(out, seeds="0,1,2"), *RAY]
    suite = start_suite(args)
    wait_for_rows(out / "runs.csv", 1)
    os.killpg(suite.pid, signal.SIGKILL)  # the driver and what it started in its group
    suite.wait(timeout=60)
    kept = pd.read_csv(out / "runs.csv")
    assert 1 <= len(kept) <= 3 and kept["run_id"].is_unique
    code, stdout, stderr = bench_main(capsys, *args)
    assert code == 0, stderr[-2000:]
    assert stdout.count("already recorded: skipped") == len(kept)
    assert_each_run_once_and_complete(out, 3)


def test_ray_with_in_process_is_one_line(tmp_path, capsys):
    code, _, err = bench_main(capsys, *suite_args(tmp_path / "r"), *RAY, "--in-process")
    assert code == 2 and "drop it to run on Ray" in err
    assert not (tmp_path / "r").exists()


def test_without_ray_installed_the_executor_is_one_line(monkeypatch, tmp_path, capsys):
    from bench.settings import declarations

    monkeypatch.setattr(declarations, "installed", lambda package: package != "ray")
    code, _, err = bench_main(capsys, *suite_args(tmp_path / "r"), "--executor", "ray")
    assert code == 2 and "pip install -e '.[ray]'" in err and "Traceback" not in err


@pytest.mark.slow
def test_ctrl_c_cancels_the_runs_in_flight_and_keeps_what_finished(tmp_path):
    out = tmp_path / "results"
    suite = start_suite([*suite_args(out, seeds="0,1,2,3"), *RAY])
    wait_for_rows(out / "runs.csv", 1)
    os.killpg(suite.pid, signal.SIGINT)  # what Ctrl-C at a terminal sends
    output, _ = suite.communicate(timeout=120)
    assert suite.returncode == 130, output[-2000:]
    assert "interrupted: cancelled, not recorded: simple_cnn seed=" in output
    assert "runs are kept in" in output and "Traceback" not in output
    assert_each_run_once_and_complete(out, len(pd.read_csv(out / "runs.csv")))


class FakeRay(types.ModuleType):
    """Just enough of Ray's API for the Ray executor, running each task at once in this
    process: its driver logic (submission, out-of-memory retries, recording, the cluster in
    env.json) is then checked in seconds, with no cluster. The real cluster: the tests above."""

    class exceptions:  # noqa: N801 - Ray's own name
        RayError = type("RayError", (Exception,), {})
        OutOfMemoryError = type("OutOfMemoryError", (RayError,), {})

    def __init__(self):
        super().__init__("ray")
        self.__spec__ = importlib.machinery.ModuleSpec("ray", None)
        self.started = self.stopped = False
        self.options_given: dict = {}

    def is_initialized(self):
        return self.started

    def init(self, **_):
        self.started = True

    def shutdown(self):
        self.stopped = True

    def put(self, value):
        return value

    def get(self, ref):
        return ref.result

    def wait(self, refs, num_returns, timeout):
        return refs[:num_returns], refs[num_returns:]

    def cancel(self, ref, force):
        pass

    def nodes(self):
        return [{"NodeManagerHostname": "fake-node", "Alive": True}]

    def cluster_resources(self):
        return {"CPU": 2.0}

    def remote(self, max_calls):
        fake = self

        class Task:
            def __init__(self, function):
                self.function = function

            def options(self, **given):
                fake.options_given = given
                return self

            def remote(self, *args):
                return FakeRef(self.function(*args))  # run at once

        return Task


class FakeRef:
    """An object reference whose task has already run (hashable, as Ray's are)."""

    def __init__(self, result):
        self.result = result


class FakeQueue(list):
    def put(self, item):
        self.append(item)

    def empty(self):
        return not self

    def get_nowait(self):
        return self.pop(0)


@pytest.fixture
def fake_ray(monkeypatch):
    ray = FakeRay()
    util = types.ModuleType("ray.util")
    queue = types.ModuleType("ray.util.queue")
    queue.Queue = FakeQueue
    for name, module in (("ray", ray), ("ray.util", util), ("ray.util.queue", queue)):
        monkeypatch.setitem(sys.modules, name, module)
    return ray


def test_the_ray_driver_records_each_run_once_and_retries_out_of_memory(
    fake_ray, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("BENCH_SIMULATE_OOM_ABOVE", "16")  # batch 32 fails, 16 fits
    out = tmp_path / "r"
    code, stdout, err = bench_main(capsys, *suite_args(out, "0"), "--executor", "ray")
    assert code == 0, err[-2000:]
    assert fake_ray.started and fake_ray.stopped, "a cluster started here is shut down"
    assert fake_ray.options_given == {"num_cpus": 1.0, "num_gpus": 0}, "no GPU: none asked"
    assert stdout.count("out of memory at batch size 32: trying again at 16") == 1
    assert_each_run_once_and_complete(out, 1)
    assert (pd.read_csv(out / "runs.csv")["batch_size"] == 16).all()
    cluster = json.loads((out / "env.json").read_text())["environment"]["ray"]
    assert cluster["nodes"] == ["fake-node"] and cluster["resources"] == {"CPU": 2.0}
    code, stdout, _ = bench_main(capsys, *suite_args(out, "0"), "--executor", "ray")
    assert code == 0 and stdout.count("already recorded: skipped") == 1


@pytest.mark.parametrize(
    ("raised", "said"),
    [
        (
            RuntimeError(
                "Version mismatch: The cluster was started with:\n    Ray: 2.50.0\n    Python: "
                "3.10.12\nThis process on node 10.0.0.2 was started with:\n    Ray: 2.60.0\n"
                "    Python: 3.11.9\n"
            ),
            "the Ray cluster at 10.0.0.1:6379 runs Ray 2.50.0 on Python 3.10.12, bench here "
            "Ray 2.60.0 on Python 3.11.9: install the same versions",
        ),
        (
            type("AuthenticationError", (Exception,), {})("InvalidAuthToken"),
            "the Ray cluster at 10.0.0.1:6379 requires a token",
        ),
        (
            ConnectionError("Failed to connect to Ray cluster at 10.0.0.1:6379"),
            "no Ray answers at 10.0.0.1:6379 (ConnectionError: Failed to connect",
        ),
    ],
)
def test_a_cluster_that_cannot_be_joined_is_one_line_and_nothing_is_written(
    fake_ray, tmp_path, capsys, monkeypatch, raised, said
):
    """The real refusals: tests/test_ray_real_cluster.py. Here, what ray.init raises."""
    from bench.execution.executors import ray_cluster

    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    monkeypatch.setattr(ray_cluster, "probe", lambda address: None)  # it asks the real Ray

    def refuse(**_):
        raise raised

    fake_ray.init = refuse
    args = [*suite_args(tmp_path / "r"), "--executor", "ray", "--ray-address", "10.0.0.1:6379"]
    code, _, err = bench_main(capsys, *args)
    assert code == 2 and said in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r").exists() and fake_ray.stopped
