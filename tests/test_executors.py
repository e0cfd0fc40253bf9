"""Executors behind one interface, chosen from one table: the `executor` setting's choices
and the table agree, and the suite runs whatever executor the table gives it, writing each run
exactly once itself."""

from __future__ import annotations

import pandas as pd
import pytest

from bench.errors import BenchError
from bench.execution import suite
from bench.execution.executors import EXECUTORS, Executor, OneAtATime
from bench.execution.executors.in_process import InProcess
from bench.execution.progress import SilentReporter
from bench.settings import FIELDS, Settings, allowed_values
from tests.helpers import bench_main

TINY = dict(dataset="digits", weights="none", epochs_scratch=1, limit=100, test_limit=60)


def test_the_executor_setting_offers_exactly_the_executors_in_the_table():
    assert set(allowed_values("executor")) == set(EXECUTORS)
    assert FIELDS["executor"].default in EXECUTORS
    assert all(issubclass(cls, Executor) for cls in EXECUTORS.values())


def test_every_executor_in_the_table_is_a_valid_choice_and_others_are_refused(capsys):
    for name in EXECUTORS:
        assert Settings(executor=name).validate().executor == name
    code, _, err = bench_main(capsys, "run", "--models", "simple_cnn", "--executor", "slurm")
    last = err.strip().splitlines()[-1]  # argparse's usage, then its one-line error
    assert code == 2 and "'slurm'" in last and all(f"'{name}'" in last for name in EXECUTORS)


class Recording(InProcess):
    """An executor as a user would add one: what it was given, and in what order."""

    given: list[str] = []

    def attempt_once(self, run, batch_size, another_follows):
        Recording.given.append(run.label)
        return super().attempt_once(run, batch_size, another_follows)


def test_the_suite_runs_the_executor_the_table_names_and_writes_each_run_once(
    monkeypatch, tmp_path
):
    monkeypatch.setitem(EXECUTORS, "in-process", Recording)
    Recording.given = []
    settings = Settings(
        models=["simple_cnn"], seeds=[0, 1], out=str(tmp_path), executor="in-process", **TINY
    ).validate()
    frame = suite.run_suite(settings, SilentReporter())
    assert Recording.given == ["simple_cnn seed=0", "simple_cnn seed=1"]
    assert len(frame) == 2 and (frame["status"] == "ok").all()
    again = suite.run_suite(settings, SilentReporter())  # recorded: the executor gets nothing
    assert Recording.given == ["simple_cnn seed=0", "simple_cnn seed=1"]
    assert len(pd.read_csv(tmp_path / "runs.csv")) == 2 and len(again) == 2


class Refusing(OneAtATime):
    @classmethod
    def check(cls, settings):
        raise BenchError("this executor refuses")

    def attempt_once(self, run, batch_size, another_follows):
        raise AssertionError("never reached")


def test_an_executor_that_refuses_the_settings_leaves_no_results_folder(monkeypatch, tmp_path):
    monkeypatch.setitem(EXECUTORS, "in-process", Refusing)
    out = tmp_path / "out"
    settings = Settings(models=["simple_cnn"], out=str(out), executor="in-process", **TINY)
    with pytest.raises(BenchError, match="refuses"):
        suite.run_suite(settings.validate(), SilentReporter())
    assert not out.exists()
