"""Each run in its own process. One process for many models lets GPU memory grow across them,
and a crash or an out-of-memory kill would take the suite with it. The child trains and
measures one run and sends its progress and rows back through a pipe; the parent alone writes
results.

The child is `python -m bench.execution.worker`, never a copy of the caller's program: a spawned
multiprocessing child imports the caller's `__main__` again, which breaks a plain script
that calls `bench.run(...)` without an `if __name__ == "__main__":` guard. A child imports
Keras and its backend (5-10 s) before it is given its run, so the suite starts the next run's
process while the current one trains (`Processes`), and that time is not waited for again.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from bench.common import native_logs
from bench.common.paths import PROJECT_ROOT
from bench.data.shared_memory import SharedDataset, load_shared
from bench.errors import describe_error
from bench.execution.one_run import Outcome, Run, crashed, execute
from bench.settings import Settings
from bench.training.compile_cache import cache_environment

EXIT_GRACE_S = 60  # a child that has sent its rows, or closed its pipe, gets this long to exit


@dataclass
class Job:
    """What a run's process is given: everything to run one attempt at one run."""

    run: Run
    folder: Path
    settings: Settings
    batch_size: int
    log_level: int


def child_environment(backend: str, debug: bool) -> dict[str, str]:
    """The parent's environment, plus the backend, the compilation caches (read when Keras,
    JAX or torch are first imported), bench's own location (so the child imports this same
    bench) and, unless debugging, TensorFlow's C++ logging turned down."""
    env = {**os.environ, **cache_environment()}
    if backend:
        env["KERAS_BACKEND"] = backend
    if not debug:
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    here = str(PROJECT_ROOT)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, env.get("PYTHONPATH")]))
    return env


class RunProcess:
    """A started `python -m bench.execution.worker`: it imports Keras, then waits for its Job."""

    def __init__(self, backend: str, debug: bool):
        receiver, sender = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.execution.worker", str(sender)],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(sender,),
            env=child_environment(backend, debug),
            start_new_session=True,  # Ctrl-C at the terminal reaches the parent alone
        )
        os.close(sender)  # only the child writes: its end shows here as end of file
        self.connection = Connection(receiver, writable=False)
        self.tail: deque[str] = deque(maxlen=5)  # its last lines on stderr, to say why it died
        self.errors = native_logs.forward(self.process.stderr, keep_all=debug, tail=self.tail)

    def run(self, job: Job, reporter) -> tuple[Outcome | None, str, str | None, int | None]:
        """Give the process its job; relay its progress until it is done. Returns its outcome
        (None if it ended without one), the phase it was in, the reason it gave for failing,
        and its exit code (None if it did not end by itself in time)."""
        phase, outcome, reason = "setup", None, None
        try:
            self.process.stdin.write(pickle.dumps(job))
            self.process.stdin.close()
        except BrokenPipeError:  # it died while starting: its exit code and stderr say why
            pass
        while outcome is None and reason is None:
            try:
                kind, payload = self.connection.recv()
            except EOFError:
                break
            if kind == "done":
                outcome = payload
            elif kind == "error":  # raised outside the run's own error handling
                reason = payload
            else:
                phase = payload[0] if kind == "start_phase" else phase
                getattr(reporter, kind)(*payload)
        try:
            exitcode = self.process.wait(timeout=EXIT_GRACE_S)
        except subprocess.TimeoutExpired:
            exitcode = None
        return outcome, phase, reason, exitcode

    def close(self) -> None:
        """Stop the process if it is still there (interrupted, stuck, or never used)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.connection.close()
        self.errors.join(timeout=5)


class Processes:
    """The run processes of a suite, the next one started while the current one trains."""

    def __init__(self, backend: str):
        self.backend = backend
        self.debug = logging.getLogger("bench").getEffectiveLevel() <= logging.DEBUG
        self.ready: RunProcess | None = None

    def take(self, another_follows: bool) -> RunProcess:
        """A process for this attempt; if `another_follows`, the next one starts now."""
        taken = self.ready or RunProcess(self.backend, self.debug)
        self.ready = RunProcess(self.backend, self.debug) if another_follows else None
        return taken

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *_) -> None:
        if self.ready is not None:
            self.ready.close()


def run_in_process(
    run: Run,
    shared: SharedDataset,
    settings: Settings,
    batch_size: int,
    reporter,
    processes: Processes,
    another_follows: bool = False,
) -> Outcome:
    """Run in a process of its own; relay its progress; return its Outcome, or a failed row
    that says why the process ended without one."""
    level = logging.getLogger("bench").getEffectiveLevel()
    process = processes.take(another_follows)
    try:
        job = Job(run, shared.folder, settings, batch_size, level)
        outcome, phase, reason, exitcode = process.run(job, reporter)
    finally:
        process.close()
    if outcome is None:
        why = reason or _why_it_ended(exitcode, process.tail)
        outcome = crashed(run, shared.dataset, settings, batch_size, phase, exitcode, why)
    return outcome


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
        job: Job = pickle.load(sys.stdin.buffer)
        logging.basicConfig(level=job.log_level, format="bench: %(levelname)s: %(message)s")
        outcome = execute(
            job.run, load_shared(job.folder), job.settings, _Forward(connection), job.batch_size
        )
    except Exception as err:  # noqa: BLE001 - the parent records it as the run's failure
        logging.getLogger("bench").debug("run process failed", exc_info=True)
        connection.send(("error", describe_error(err)))
    else:
        connection.send(("done", outcome))
    connection.close()


if __name__ == "__main__":
    from bench.execution import worker  # this module under its own name, so pickled classes match

    worker.child_main(int(sys.argv[1]))
