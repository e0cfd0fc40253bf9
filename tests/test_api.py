"""bench.run() from Python: from a plain script, returning a DataFrame, reproducibly."""

from __future__ import annotations

import re
import subprocess
import sys

import pandas as pd
import pytest

import bench
from bench.common.native_logs import is_noise
from tests.helpers import ROOT


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


@pytest.mark.slow
def test_the_readmes_example_runs_as_a_plain_script_and_is_recorded_once(tmp_path):
    """As `python file.py`, with no __main__ guard: the run processes must not import it."""
    blocks = python_blocks((ROOT / "README.md").read_text())
    script = tmp_path / "example.py"
    script.write_text(next(b for b in blocks if "bench.run(" in b))
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "simple_cnn" in result.stdout and "failed" not in result.stdout
    assert "bootstrapping" not in result.stderr
    noise = [line for line in result.stderr.splitlines() if is_noise(line)]
    assert not noise, f"TensorFlow's native log lines reached the script: {noise[:2]}"
    first = pd.read_csv(tmp_path / "results" / "runs.csv").iloc[0]
    assert first["status"] == "ok" and first["suite"] == "adhoc" and first["seed"] == 0

    # The seeded rerun in this process reproduces a process's figures exactly:
    # tests/test_results_unchanged.py. Recorded, the same run is skipped, not added again.
    same = dict(dataset="digits", weights="none", epochs_scratch=3, out=str(tmp_path / "results"))
    again = bench.run("simple_cnn", quiet=True, executor="in-process", **same)
    assert isinstance(again, pd.DataFrame) and len(again) == 1
    assert again.iloc[0]["run_id"] == first["run_id"], "the run id is stable"
    assert again.iloc[0]["timestamp"] == first["timestamp"], "recorded: skipped, not run again"
