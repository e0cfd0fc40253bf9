"""Two suites started into one results folder share the work: a run claimed by one (a lock held
by its process) is skipped by the other, and a claim ends with its process, however it ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from bench.results.claims import Claims
from tests.helpers import assert_each_run_once_and_complete, start_suite, suite_args

HOLD = """
import sys, time
from bench.results.claims import Claims
claims = Claims(sys.argv[1])
print(claims.take("run-a"), flush=True)
time.sleep(600)
"""


def hold_in_another_process(folder) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "True"
    return holder


def test_a_claim_held_by_a_live_process_is_refused_and_names_it(tmp_path):
    holder = hold_in_another_process(tmp_path)
    try:
        claims = Claims(tmp_path)
        assert not claims.take("run-a")
        assert claims.holder("run-a").endswith(f"pid {holder.pid}")
        assert claims.take("run-b"), "other runs are free"
    finally:
        holder.kill()
        holder.wait()


def test_a_claim_ends_with_its_process_even_killed(tmp_path):
    holder = hold_in_another_process(tmp_path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert Claims(tmp_path).take("run-a"), "the kernel dropped the dead process's lock"


def test_a_released_claim_can_be_taken_again_and_leaves_no_file(tmp_path):
    with Claims(tmp_path) as first:
        assert first.take("run-a")
        first.release("run-a")
        assert not (tmp_path / ".claims" / "run-a").exists()
        second = Claims(tmp_path)
        assert second.take("run-a")
        assert first.take("run-b")
    assert not (tmp_path / ".claims" / "run-b").exists(), "released on the way out"
    second.release_all()
    with Claims(tmp_path):
        pass
    assert not (tmp_path / ".claims").exists(), "an empty claims folder is removed"


@pytest.mark.slow
def test_two_identical_suites_into_one_folder_train_each_run_once(tmp_path):
    """The issue's case: the same `bench run` twice at once. Each run trains in one of them
    only (its epochs are printed by that suite alone), and every run is recorded once."""
    out = tmp_path / "results"
    args = suite_args(out, seeds="0-3")
    suites = [start_suite(args)]
    time.sleep(1)
    suites.append(start_suite(args))
    outputs = [suite.communicate(timeout=600)[0] for suite in suites]
    assert all(suite.returncode == 0 for suite in suites), outputs
    trained = sum(o.count("scratch epoch 1/2") for o in outputs)
    assert trained == 4, outputs
    assert any("by another suite" in o for o in outputs), outputs
    assert_each_run_once_and_complete(out, 4)
    assert sorted(pd.read_csv(out / "runs.csv")["seed"]) == [0, 1, 2, 3]
