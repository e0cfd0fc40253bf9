"""Each run in its own process. One process for many models lets GPU memory grow across them
(PROTOCOL.md section 1), and a crash or an out-of-memory kill would take the suite with it. The
child trains and measures one run and sends its progress and rows back through a pipe; the
parent alone writes results.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.compilation import cache_environment
from bench.data import Dataset
from bench.settings import Settings

ARRAYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass
class Outcome:
    """What one attempt at a run produced: its rows, and whether it ran out of memory."""

    tables: dict[str, list[dict]] = field(default_factory=dict)
    out_of_memory: bool = False


class SharedDataset:
    """The suite's data set, saved once as .npy files that each run's process maps read-only,
    instead of being decoded again or pickled through a pipe for every run."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.folder: Path | None = None

    def __enter__(self) -> SharedDataset:
        self.folder = Path(tempfile.mkdtemp(prefix="bench-data-"))
        for name in ARRAYS:
            np.save(self.folder / f"{name}.npy", getattr(self.dataset, name))
        meta = {"name": self.dataset.name, "class_names": self.dataset.class_names}
        (self.folder / "meta.json").write_text(json.dumps(meta))
        return self

    def __exit__(self, *_) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def load_shared(folder: Path) -> Dataset:
    meta = json.loads((folder / "meta.json").read_text())
    arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in ARRAYS}
    return Dataset(meta["name"], **arrays, class_names=meta["class_names"])


class _Forward:
    """The child's progress reporter: every call goes to the parent's reporter."""

    def __init__(self, connection):
        self.connection = connection

    def __getattr__(self, method: str):
        return lambda *args: self.connection.send((method, args))


def _child(connection, run, folder: Path, settings: Settings, batch_size: int, level: int):
    logging.basicConfig(level=level, format="bench: %(levelname)s: %(message)s")
    from bench.runner import execute  # imports Keras: in the child only

    outcome = execute(run, load_shared(folder), settings, _Forward(connection), batch_size)
    connection.send(("done", outcome))
    connection.close()


def _start(process, backend: str) -> None:
    """Start the child on `backend`, with the compilation caches in bench's cache folder
    (KERAS_BACKEND and the caches' variables are read when Keras, JAX or torch are first
    imported, which in the child happens while it unpickles its arguments), and with SIGINT
    ignored (an ignored signal stays ignored in a new process), so Ctrl-C reaches the parent
    alone, which then stops the child. The parent's own environment is left as it was."""
    extra = cache_environment() | ({"KERAS_BACKEND": backend} if backend else {})
    saved = {name: os.environ.get(name) for name in extra}
    os.environ.update(extra)
    main = threading.current_thread() is threading.main_thread()  # only it may set handlers
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        process.start()
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_in_process(run, shared: SharedDataset, settings: Settings, batch_size: int, reporter):
    """Run in a fresh process; relay its progress; return its Outcome, or a failed row when
    the process died without one (killed, crashed)."""
    from bench.runner import crashed

    context = multiprocessing.get_context("spawn")  # never fork a process that holds a backend
    receiver, sender = context.Pipe(duplex=False)
    level = logging.getLogger("bench").getEffectiveLevel()
    process = context.Process(
        target=_child,
        args=(sender, run, shared.folder, settings, batch_size, level),
        name=f"bench {run.label}",
        daemon=True,  # never outlives the suite
    )
    _start(process, settings.backend)
    sender.close()  # only the child writes: its death shows here as end of file
    phase, outcome = "setup", None
    try:
        while outcome is None:
            try:
                kind, payload = receiver.recv()
            except EOFError:
                break
            if kind == "done":
                outcome = payload
            else:
                phase = payload[0] if kind == "start_phase" else phase
                getattr(reporter, kind)(*payload)
    finally:
        process.join(timeout=60 if outcome is not None else 0)  # let a finished child exit
        if process.is_alive():
            process.terminate()  # interrupted, or stuck on its way out
            process.join()
        receiver.close()
    if outcome is None:
        outcome = crashed(run, shared.dataset, settings, batch_size, phase, process.exitcode)
    return outcome
