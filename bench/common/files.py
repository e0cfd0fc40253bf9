"""Writing a file so that readers see the old one or the new one, never half of it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pandas as pd


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
