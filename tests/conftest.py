"""The test session's environment (one thread, offline, its own cache), shared fixtures, and
the test groups that keep a shared suite on one test process. Helpers are in tests/helpers.py."""

from __future__ import annotations

import os
import shutil
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

from tests.helpers import CIFAR_MINI, TINY  # noqa: E402 - after the environment it reads


@pytest.fixture
def cifar_copy(tmp_path) -> Path:
    """A copy of the CIFAR-10 fixture that a test may change."""
    return Path(shutil.copytree(CIFAR_MINI, tmp_path / "cifar10-mini"))


# Tests that share an expensive module-scoped fixture (a real suite through the `bench`
# command) stay on one test process (pytest -n 2 --dist loadgroup), so it runs once; all
# other tests are spread one by one.
SHARED_FIXTURES = ("real_run", "measured")


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items) -> None:
    for item in items:
        for name in SHARED_FIXTURES:
            if name in item.fixturenames:
                item.add_marker(pytest.mark.xdist_group(name))


@pytest.fixture
def run_args(tmp_path):
    def make(*extra: str) -> list[str]:
        return ["run", "--models", "simple_cnn", "--out", str(tmp_path / "out"), *TINY, *extra]

    return make
