"""The results store: runs.csv (one row per run and phase), epochs.csv (one row per epoch),
classes.csv (per-class test accuracy), confusion.csv (the test confusion matrix, non-zero cells),
calibration.csv (reliability-diagram bins), corruptions.csv (accuracy per corruption and
severity) and env.json (environment and settings). Their columns are declared in
`bench.results.schema`.

A run's rows are written together, by replacing each file atomically (write a temporary file,
fsync, rename), so a crash or a kill leaves the previous complete file, never a torn row. Rows
of a run id are replaced, not duplicated, when the run is written again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import tempfile
from pathlib import Path

import pandas as pd

from bench.common.files import deferred_signals, write_atomically
from bench.errors import BenchError, shorten
from bench.results import schema
from bench.settings import Settings

ENV_FILE = "env.json"
LOCK_FILE = ".bench.lock"

# What every complete row of a run has: a row without them was cut short (a torn last line).
COMPLETE_RUN_COLUMNS = ["status", "phase", "settings_hash", "backend", "keras_version"]
COMPLETE_OK_COLUMNS = ["test_accuracy", "params_total"]


class ResultsStore:
    def __init__(self, folder: str | Path, create: bool = True):
        """`create`: make the folder and check now that it is writable (before any run)."""
        self.folder = Path(folder)
        if not create:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.folder, prefix=".probe"):
                pass
        except OSError as err:
            where = shorten(self.folder)
            raise BenchError(f"cannot write results to {where}: {err.strerror}") from None

    def path(self, table: str) -> Path:
        return self.folder / f"{table}.csv"

    def read(self, table: str) -> pd.DataFrame:
        path = self.path(table)
        if not path.exists():
            return pd.DataFrame(columns=schema.names(table))
        try:
            # Ids and hashes are text even when they look like numbers (123456789012, 4e1712).
            # A line with too many fields (a damaged file) is left out, with pandas's warning.
            frame = pd.read_csv(
                path,
                dtype=dict.fromkeys(schema.text_columns(table), str),
                on_bad_lines="warn",
            )
        except pd.errors.EmptyDataError:  # an empty file: no rows, not even a header
            return pd.DataFrame(columns=schema.names(table))
        except (pd.errors.ParserError, UnicodeDecodeError, OSError) as err:
            raise BenchError(f"{path} is not a readable results file: {err}") from None
        if "run_id" not in frame:
            raise BenchError(f"{path} is not a bench results file (no run_id column)")
        missing = [c for c in schema.names(table) if c not in frame]
        return frame.assign(**dict.fromkeys(missing)) if missing else frame  # older versions

    def recorded_phases(self) -> dict[str, set[str]]:
        """The phases recorded for each run id whose rows are all complete and ok; a run
        with a failed or incomplete row (cut short, say) counts as not recorded."""
        runs = self.read("runs")
        complete = runs[COMPLETE_RUN_COLUMNS].notna().all(axis=1)
        ok = (runs["status"] == "ok") & runs[COMPLETE_OK_COLUMNS].notna().all(axis=1)
        bad = set(runs.loc[~(complete & ok), "run_id"])
        good = runs[~runs["run_id"].isin(bad)]
        return {run_id: set(rows["phase"]) for run_id, rows in good.groupby("run_id")}

    def remove_temporary_files(self) -> None:
        """Remove the temporary files of writes that a kill interrupted. Every write of a
        results file holds the lock, so none is in progress while this does."""
        with self.locked():
            patterns = [f".{table}.csv.*" for table in schema.FILES]
            patterns += [f".{ENV_FILE}.*", ".probe*"]
            for pattern in patterns:
                for path in self.folder.glob(pattern):
                    path.unlink(missing_ok=True)

    def write_run(self, run_id: str, tables: dict[str, list[dict]]) -> None:
        """Replace everything recorded for run_id with these rows. runs.csv goes last: a run
        counts as recorded only once its rows there are complete. Every row must have exactly
        the columns of its file (`bench.results.schema`). Ctrl-C or SIGTERM meanwhile takes
        effect once all are written, so none holds rows of a run that runs.csv lacks."""
        for table in schema.FILES:
            schema.check_rows(table, tables.get(table, []))
        with self.locked(), deferred_signals():
            for table in [*(t for t in schema.FILES if t != "runs"), "runs"]:
                columns = schema.names(table)
                old = self.read(table)
                old = old[old["run_id"] != run_id]
                new = pd.DataFrame(tables.get(table, []), columns=columns)
                frames = [f for f in (old, new) if not f.empty]
                merged = pd.concat(frames, ignore_index=True) if frames else new
                write_atomically(self.path(table), merged[columns])

    @contextlib.contextmanager
    def locked(self):
        """Exclusive use of the folder's files: two suites writing to one folder (two GPUs,
        two jobs) take turns at read-modify-write instead of losing each other's rows."""
        with open(self.folder / LOCK_FILE, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def read_environment(self) -> dict:
        path = self.folder / ENV_FILE
        if not path.exists():
            return {}
        try:
            return json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise BenchError(f"{path} is not a readable environment file: {err}") from None

    def write_environment(self, environment: dict, settings: Settings) -> None:
        """env.json: the environment and full settings of the latest suite, and the protocol
        of every settings hash written here, so each row's `settings_hash` can be looked up."""
        with self.locked():
            protocols = self.read_environment().get("protocols", {})
            protocols[settings.settings_hash()] = settings.hashed()
            record = {
                "environment": environment,
                "settings": dataclasses.asdict(settings),
                "protocols": protocols,
            }
            text = json.dumps(record, indent=2, default=str)
            write_atomically(self.folder / ENV_FILE, text + "\n")


def flatten(record: dict, prefix: str = "") -> dict[str, object]:
    """An env.json record as dotted keys: nested dicts, and lists of dicts numbered
    (gpus.0.name); empty values as ""."""
    flat: dict[str, object] = {}
    items = record.items() if isinstance(record, dict) else enumerate(record)
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, dict) or (
            value and isinstance(value, list) and isinstance(value[0], dict)
        ):
            flat |= flatten(value, name + ".")
        else:
            flat[name] = "" if value is None else value
    return flat
