"""Shared fixtures: real data, tiny settings."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# One compute thread per process: the tests run on two processes, and each may have a run's
# process beside it, on a 2-core machine; more threads only spin against each other.
for _name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
    os.environ.setdefault(_name, "1")
os.environ.setdefault("BENCH_OFFLINE", "1")  # tests never try to download
# Decoded folder images go to a cache of this test session, never to the user's ~/.cache.
os.environ.setdefault("BENCH_CACHE", tempfile.mkdtemp(prefix="bench-test-cache-"))

ROOT = Path(__file__).resolve().parent.parent
# Real CIFAR-10 images in class folders, shipped with the tests: 12 train and 6 test per class.
CIFAR_MINI = ROOT / "tests" / "fixtures" / "cifar10-mini"


@pytest.fixture
def cifar_copy(tmp_path) -> Path:
    """A copy of the CIFAR-10 fixture that a test may change."""
    return Path(shutil.copytree(CIFAR_MINI, tmp_path / "cifar10-mini"))


def random_weights(model: str, folder: Path, seed: int = 0) -> Path:
    """A file of random backbone weights at 32x32: what a user offline passes as --weights
    instead of imagenet (the protocol treats any weights file as pretrained)."""
    import keras

    keras.utils.set_random_seed(seed)
    path = folder / f"{model.lower()}.weights.h5"
    constructor = getattr(keras.applications, model)
    constructor(include_top=False, weights=None, input_shape=(32, 32, 3)).save_weights(path)
    return path


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None):
    """`python -m bench ARGS` in a fresh process, as a user would run it."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=cwd or ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def bench_main(capsys, *args: str) -> tuple[int, str, str]:
    """`bench ARGS` in this process (no new interpreter to start): exit code, stdout, stderr."""
    from bench import cli

    try:
        code = cli.main(list(args))
    except SystemExit as done:  # --help, --version, argparse's usage errors
        code = done.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# Tests that share an expensive module-scoped fixture (a real suite through the `bench`
# command) stay on one test process (pytest -n 2 --dist loadgroup), so it runs once; all
# other tests are spread one by one.
SHARED_FIXTURES = ("real_run",)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items) -> None:
    for item in items:
        for name in SHARED_FIXTURES:
            if name in item.fixturenames:
                item.add_marker(pytest.mark.xdist_group(name))


def run_here(capsys, *args: str) -> subprocess.CompletedProcess:
    """bench_main as a finished process, for tests written against run_cli."""
    code, out, err = bench_main(capsys, *args)
    return subprocess.CompletedProcess(["bench", *args], code, out, err)
