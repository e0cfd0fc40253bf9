"""TensorFlow's and XLA's C++ log lines, kept off the terminal.

TensorFlow prints them to file descriptor 2 before its logging is set up ("All log messages
before absl::InitializeLog() ..."), so TF_CPP_MIN_LOG_LEVEL does not silence them: a run on a
CPU prints "failed call to cuInit" and a dozen lines like it. bench filters them out of its
processes' standard error instead (`--debug` keeps them): a run's process writes to a pipe that
the parent filters, and the `bench` command and `bench.run` filter their own descriptor 2 (in a
Jupyter kernel too, where descriptor 2 is the kernel's pipe and each line would be a red block).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import threading
from collections import deque

# absl/glog lines (I0000 00:00:1795793289.070169   13374 port.cc:153] ...) but fatal ones,
# absl's preamble, and TensorFlow's note on CPU instructions, which continues an absl line.
NOISE = re.compile(
    r"^(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]"
    r"|WARNING: All log messages before absl::InitializeLog\(\)"
    r"|To enable the following instructions: .* rebuild TensorFlow)"
)


def is_noise(line: str) -> bool:
    return NOISE.match(line) is not None


def forward(stream, keep_all: bool, tail: deque | None = None) -> threading.Thread:
    """A thread that copies the text lines of a binary `stream` to sys.stderr (looked up for
    each line, so a live display that has replaced it gets them), noise left out unless
    `keep_all`. The last lines kept also go to `tail`, so a process that dies can be explained."""

    def copy() -> None:
        with stream:
            for raw in iter(stream.readline, b""):
                line = raw.decode(errors="replace")
                if keep_all or not is_noise(line):
                    sys.stderr.write(line)
                    sys.stderr.flush()
                    if tail is not None and line.strip():
                        tail.append(line.strip())

    thread = threading.Thread(target=copy, name="bench stderr", daemon=True)
    thread.start()
    return thread


def filtered_stderr(debug: bool = False):
    """FilteredStderr, unless --debug (which keeps everything)."""
    return contextlib.nullcontext() if debug else FilteredStderr()


class FilteredStderr:
    """This process's descriptor 2 through the filter: native libraries write to a pipe, and a
    thread passes on to sys.stderr what is not noise. Where sys.stderr writes to descriptor 2
    (a terminal, a script), it becomes a new stream on the original descriptor, so Python's
    messages do not go round through the pipe (nor the thread's, for ever); where it writes
    elsewhere (a notebook's stream, a test's capture), it stays and gets the lines that pass."""

    def __enter__(self) -> FilteredStderr:
        sys.stderr.flush()
        self.original = os.dup(2)
        read, write = os.pipe()
        os.dup2(write, 2)
        os.close(write)
        self.saved = sys.stderr
        if _writes_to_descriptor_2(sys.stderr):
            sys.stderr = io.TextIOWrapper(
                os.fdopen(os.dup(self.original), "wb", buffering=0), line_buffering=True
            )
        self.thread = forward(os.fdopen(read, "rb"), keep_all=False)
        return self

    def __exit__(self, *_) -> None:
        os.dup2(self.original, 2)  # the pipe's last writer is gone: the thread drains and ends
        self.thread.join(timeout=5)
        sys.stderr.flush()
        sys.stderr = self.saved
        os.close(self.original)


def _writes_to_descriptor_2(stream) -> bool:
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return False
