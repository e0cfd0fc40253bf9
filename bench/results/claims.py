"""Which runs of a results folder a live suite is running, so two suites started into one
folder share the work instead of both doing it (and timing each other's competition).

A claim is a lock file per run, `.claims/<run_id>`, locked (flock) by the suite's process
while the run is in flight. The kernel drops the lock when that process ends, however it
ends (Ctrl-C, a kill, a crash), so a claim never outlives its suite and needs no cleaning.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from pathlib import Path

CLAIMS_FOLDER = ".claims"


class Claims:
    """This process's claims on the runs of one results folder."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder) / CLAIMS_FOLDER
        self.folder.mkdir(parents=True, exist_ok=True)
        self.held: dict[str, int] = {}  # run id -> the locked file's descriptor

    def take(self, run_id: str) -> bool:
        """Claim the run; False when another live process holds it."""
        if run_id in self.held:
            return True
        path = self.folder / run_id
        while True:
            try:
                descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:  # another suite, ending, removed the empty folder
                self.folder.mkdir(parents=True, exist_ok=True)
                continue
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                return False
            # Released and removed by its holder between our open and our lock: the file we
            # locked is no longer the claim; open the path again.
            if _same_file(descriptor, path):
                break
            os.close(descriptor)
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{socket.gethostname()} pid {os.getpid()}\n".encode())
        self.held[run_id] = descriptor
        return True

    def holder(self, run_id: str) -> str:
        """Who holds the claim ('host pid 123'), as its holder wrote it."""
        try:
            return (self.folder / run_id).read_text().strip() or "another process"
        except OSError:
            return "another process"

    def release(self, run_id: str) -> None:
        descriptor = self.held.pop(run_id, None)
        if descriptor is None:
            return
        (self.folder / run_id).unlink(missing_ok=True)  # while still locked: see take()
        os.close(descriptor)  # closing drops the lock

    def release_all(self) -> None:
        for run_id in list(self.held):
            self.release(run_id)

    def __enter__(self) -> Claims:
        return self

    def __exit__(self, *_) -> None:
        self.release_all()
        with contextlib.suppress(OSError):  # not empty: another suite's claims are in it
            self.folder.rmdir()


def _same_file(descriptor: int, path: Path) -> bool:
    try:
        return os.fstat(descriptor).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False
