"""Each run in its own process. One process for many models lets GPU memory grow across them,
and a crash or an out-of-memory kill would take the suite with it. The child trains and
measures one run and sends its progress and rows back through a pipe; the parent alone writes
results.

The child is `python -m bench.worker`, never a copy of the caller's program: a spawned
multiprocessing child imports the caller's `__main__` again, which breaks a plain script
that calls `bench.run(...)` without an `if __name__ == "__main__":` guard.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import psutil

from bench import native_logs
from bench.data import Dataset
from bench.data.cache import cache_root
from bench.settings import Settings

ARRAYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
EXIT_GRACE_S = 60  # a child that has sent its rows, or closed its pipe, gets this long to exit


@dataclass
class Outcome:
    """What one attempt at a run produced: its rows, and whether it ran out of memory."""

    tables: dict[str, list[dict]] = field(default_factory=dict)
    out_of_memory: bool = False


class SharedDataset:
    """The suite's data set, saved once as .npy files that each run's process maps read-only,
    instead of being decoded again or pickled through a pipe for every run. The copy lives in
    bench's cache folder under the suite's process id, so a copy left by a killed suite is
    found and removed by the next one."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.folder: Path | None = None

    def __enter__(self) -> SharedDataset:
        root = cache_root() / "suites"
        root.mkdir(parents=True, exist_ok=True)
        remove_stale_copies(root)
        self.folder = Path(tempfile.mkdtemp(dir=root, prefix=f"{os.getpid()}-"))
        for name in ARRAYS:
            array = getattr(self.dataset, name)
            if array is not None:
                np.save(self.folder / f"{name}.npy", array)
        meta = {
            "name": self.dataset.name,
            "class_names": self.dataset.class_names,
            "fingerprint": self.dataset.fingerprint,
        }
        (self.folder / "meta.pkl").write_bytes(pickle.dumps(meta))
        return self

    def __exit__(self, *_) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def remove_stale_copies(root: Path) -> None:
    """Remove the data copies of suites whose process is gone (killed with SIGKILL)."""
    for folder in root.iterdir():
        pid = folder.name.split("-", 1)[0]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def load_shared(folder: Path) -> Dataset:
    meta = pickle.loads((folder / "meta.pkl").read_bytes())
    optional = {"x_val", "y_val"}  # only a data set with a validation split of its own
    arrays = {
        name: np.load(folder / f"{name}.npy", mmap_mode="r")
        for name in ARRAYS
        if name not in optional or (folder / f"{name}.npy").exists()
    }
    return Dataset(
        meta["name"], **arrays, class_names=meta["class_names"], fingerprint=meta["fingerprint"]
    )


@dataclass
class Job:
    """What a run's process is given: everything to run one attempt at one run."""

    run: object  # runner.Run
    folder: Path
    settings: Settings
    batch_size: int
    log_level: int


def child_environment(backend: str, debug: bool) -> dict[str, str]:
    """The parent's environment, plus the backend, the compilation caches (read when Keras,
    JAX or torch are first imported), bench's own location (so the child imports this same
    bench) and, unless debugging, TensorFlow's C++ logging turned down."""
    from bench.compilation import cache_environment

    env = {**os.environ, **cache_environment()}
    if backend:
        env["KERAS_BACKEND"] = backend
    if not debug:
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    here = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, env.get("PYTHONPATH")]))
    return env


def run_in_process(run, shared: SharedDataset, settings: Settings, batch_size: int, reporter):
    """Run in a fresh process; relay its progress; return its Outcome, or a failed row that
    says why the process ended without one."""
    from bench.runner import crashed

    level = logging.getLogger("bench").getEffectiveLevel()
    debug = level <= logging.DEBUG
    job = Job(run, shared.folder, settings, batch_size, level)
    receiver, sender = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.worker", str(sender)],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=(sender,),
        env=child_environment(settings.backend, debug),
        start_new_session=True,  # Ctrl-C at the terminal reaches the parent alone
    )
    os.close(sender)  # only the child writes: its end shows here as end of file
    tail: deque[str] = deque(maxlen=5)
    errors = native_logs.forward(process.stderr, keep_all=debug, tail=tail)
    connection = Connection(receiver, writable=False)
    phase, outcome, reason = "setup", None, None
    try:
        process.stdin.write(pickle.dumps(job))
        process.stdin.close()
        while outcome is None and reason is None:
            try:
                kind, payload = connection.recv()
            except EOFError:
                break
            if kind == "done":
                outcome = payload
            elif kind == "error":  # raised outside the run's own error handling
                reason = payload
            else:
                phase = payload[0] if kind == "start_phase" else phase
                getattr(reporter, kind)(*payload)
        exitcode = _wait(process)
    finally:
        if process.poll() is None:  # interrupted: stop the child before going on
            process.kill()
            process.wait()
        connection.close()
        errors.join(timeout=5)
    if outcome is None:
        why = reason or _why_it_ended(exitcode, tail)
        outcome = crashed(run, shared.dataset, settings, batch_size, phase, exitcode, why)
    return outcome


def _wait(process: subprocess.Popen) -> int | None:
    """The child's exit code once it has ended by itself; None if it did not end in time
    (then it is killed)."""
    try:
        return process.wait(timeout=EXIT_GRACE_S)
    except subprocess.TimeoutExpired:
        return None


def _why_it_ended(exitcode: int | None, tail: deque[str]) -> str | None:
    """For a process that ended without rows: its last words on standard error, if any."""
    if exitcode is None or exitcode < 0 or not tail:
        return None  # crashed() names the signal
    return f"WorkerCrashed: the run's process exited with code {exitcode}: {tail[-1]}"


class _Forward:
    """The child's progress reporter: every call goes to the parent's reporter."""

    def __init__(self, connection: Connection):
        self.connection = connection

    def __getattr__(self, method: str):
        return lambda *args: self.connection.send((method, args))


def _exit_with_parent() -> None:
    """End this process soon after its parent dies (killed with SIGKILL, say): its rows
    could go nowhere, and it would hold the GPU."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, name="bench parent watch", daemon=True).start()


def child_main(fd: int) -> None:
    connection = Connection(fd, readable=False)
    _exit_with_parent()
    try:
        job: Job = pickle.load(sys.stdin.buffer)  # imports Keras, on the backend of the env
        logging.basicConfig(level=job.log_level, format="bench: %(levelname)s: %(message)s")
        from bench.runner import execute

        outcome = execute(
            job.run, load_shared(job.folder), job.settings, _Forward(connection), job.batch_size
        )
    except Exception as err:  # noqa: BLE001 - the parent records it as the run's failure
        logging.getLogger("bench").debug("run process failed", exc_info=True)
        connection.send(("error", f"{type(err).__name__}: {' '.join(str(err).split())[:500]}"))
    else:
        connection.send(("done", outcome))
    connection.close()


if __name__ == "__main__":
    from bench import worker  # this module under its own name, so pickled classes match

    worker.child_main(int(sys.argv[1]))
