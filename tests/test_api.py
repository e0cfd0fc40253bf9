"""bench.run() from Python: a DataFrame, one run per seed, and reproducible seeded runs."""

from __future__ import annotations

import re
import subprocess
import sys

import pandas as pd

import bench
from tests.conftest import ROOT

TINY = dict(
    dataset="digits", weights="none", epochs_scratch=2, limit=300, batch_size=32, quiet=True
)


def test_run_returns_one_row_per_seed_and_reruns_reproduce(tmp_path):
    frame = bench.run("simple_cnn", seeds=[0, 1], out=str(tmp_path), **TINY)
    assert list(frame["seed"]) == [0, 1] and frame["run_id"].nunique() == 2
    assert (frame["status"] == "ok").all() and (frame["suite"] == "adhoc").all()

    # Again in this process (no process of its own): the same seed gives the same figures.
    again = bench.run("simple_cnn", seeds=[0], out=str(tmp_path), force=True, isolate=False, **TINY)
    first = frame[frame["seed"] == 0].iloc[0]
    assert again.iloc[0]["run_id"] == first["run_id"], "the run id is stable"
    for column in ("test_accuracy", "val_accuracy", "train_accuracy", "test_macro_f1"):
        assert again.iloc[0][column] == first[column], f"{column} differs on a seeded rerun"
    assert len(bench.run("simple_cnn", seeds=[0, 1], out=str(tmp_path), **TINY)) == 2


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


def test_the_readmes_example_runs_as_a_plain_script(tmp_path):
    """As `python file.py`, with no __main__ guard: the run processes must not import it."""
    blocks = python_blocks((ROOT / "README.md").read_text())
    script = tmp_path / "example.py"
    script.write_text(next(b for b in blocks if "bench.run(" in b))
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "simple_cnn" in result.stdout and "failed" not in result.stdout
    runs = pd.read_csv(tmp_path / "results" / "runs.csv")
    assert list(runs["status"]) == ["ok"] and "bootstrapping" not in result.stderr
