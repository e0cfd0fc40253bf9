"""Writing a file so that readers see the old one or the new one, never half of it, and files
that go together so that Ctrl-C cannot leave one written and the other not."""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pandas as pd

DEFERRED = (signal.SIGINT, signal.SIGTERM)


def write_atomically(path: Path, content: pd.DataFrame | str | Callable[[IO], None]) -> None:
    """Write a table, a text, or whatever `content(handle)` writes (binary), through a
    temporary file in the same folder, fsync, then rename over path. A crash or a kill leaves
    the previous complete file."""
    binary = callable(content)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide results from the rest of the group
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"newline": ""})) as out:
            if binary:
                content(out)
            elif isinstance(content, pd.DataFrame):
                content.to_csv(out, index=False)
            else:
                out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)  # the rename itself survives a power loss
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Ctrl-C (SIGINT) or SIGTERM received inside the block takes effect when it ends: the
    files a block writes together are then all written or none is. Blocking the signal with
    pthread_sigmask would not do: the kernel hands a process's signal to any thread that does
    not block it (Ray's, gRPC's), and Python then raises in the main thread all the same.
    Python handlers can only be set from the main thread; elsewhere the block runs as is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {sig: signal.signal(sig, lambda sig, _: received.append(sig)) for sig in DEFERRED}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        if received:
            signal.raise_signal(received[0])  # now, with the handler that was there before
