"""The results store: runs.csv (one row per run and phase) and epochs.csv (one row per epoch).

A run's rows are written together, by replacing each file atomically (write a temporary file,
fsync, rename), so a crash or a kill leaves the previous complete file, never a torn row. Rows
of a run id are replaced, not duplicated, when the run is written again.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from bench.errors import BenchError

RUN_COLUMNS = [
    "run_id",
    "suite",
    "timestamp",
    "status",
    "error",
    "model",
    "family",
    "dataset",
    "num_classes",
    "train_size",
    "val_size",
    "test_size",
    "weights",
    "seed",
    "phase",
    "image_size",
    "batch_size",
    "epochs_run",
    "best_epoch",
    "learning_rate",
    "unfreeze",
    "bn_mode",
    "augment",
    "params_total",
    "params_trainable",
    "train_accuracy",
    "val_accuracy",
    "test_accuracy",
    "test_top5_accuracy",
    "test_macro_f1",
    "overfit_gap",
    "efficiency",
    "time_per_epoch_s",
    "first_epoch_s",
    "train_time_s",
    "train_images_per_s",
    "infer_images_per_s",
    "settings_hash",
    "backend",
    "keras_version",
    "device",
    "git_commit",
]
EPOCH_COLUMNS = [
    "run_id",
    "phase",
    "epoch",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "learning_rate",
    "epoch_time_s",
    "val_time_s",
]
CLASS_COLUMNS = ["run_id", "phase", "class_index", "class_name", "test_accuracy", "support"]

FILES = {"runs": RUN_COLUMNS, "epochs": EPOCH_COLUMNS, "classes": CLASS_COLUMNS}


class ResultsStore:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.folder, prefix=".probe"):
                pass
        except OSError as err:
            raise BenchError(f"cannot write results to {self.folder}: {err.strerror}") from None

    def path(self, table: str) -> Path:
        return self.folder / f"{table}.csv"

    def read(self, table: str) -> pd.DataFrame:
        path = self.path(table)
        if not path.exists():
            return pd.DataFrame(columns=FILES[table])
        try:
            return pd.read_csv(path)
        except (pd.errors.ParserError, UnicodeDecodeError, OSError) as err:
            raise BenchError(f"{path} is not a readable results file: {err}") from None

    def completed(self) -> set[str]:
        """Run ids whose every phase row succeeded."""
        runs = self.read("runs")
        if runs.empty:
            return set()
        failed = set(runs.loc[runs["status"] != "ok", "run_id"])
        return set(runs["run_id"]) - failed

    def write_run(self, run_id: str, tables: dict[str, list[dict]]) -> None:
        """Replace everything recorded for run_id with these rows. runs.csv goes last: a run
        counts as recorded only once its rows there are complete."""
        for table in ("epochs", "classes", "runs"):
            old = self.read(table)
            old = old[old["run_id"] != run_id]
            new = pd.DataFrame(tables.get(table, []), columns=FILES[table])
            frames = [f for f in (old, new) if not f.empty]
            merged = pd.concat(frames, ignore_index=True) if frames else new
            self._replace(self.path(table), merged[FILES[table]])

    @staticmethod
    def _replace(path: Path, frame: pd.DataFrame) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w", newline="") as handle:
                frame.to_csv(handle, index=False)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
