"""The rows a run writes to the results files (`bench.results.schema` declares their columns):
the fields every row of a run shares, one phase's rows, and the row of a failed run."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from bench.data.dataset import Dataset
from bench.errors import describe_error
from bench.measure.metrics import efficiency
from bench.models.classifier import input_size
from bench.models.spec import ModelSpec
from bench.results import schema
from bench.settings import Settings
from bench.training.result import PhaseResult


def base_row(
    run_id: str, spec: ModelSpec, seed: int, dataset: Dataset, settings: Settings, batch_size: int
) -> dict:
    """The fields every row of a run shares."""
    return {
        "run_id": run_id,
        "suite": settings.suite or "adhoc",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": spec.name,
        "family": spec.family,
        "source": spec.source,
        "dataset": dataset.name,
        "data_fingerprint": dataset.fingerprint,
        "num_classes": dataset.num_classes,
        "val_source": "carved" if dataset.y_val is None else "folder",
        "weights": settings.weights if spec.pretrained else "none",
        "seed": seed,
        "image_size": input_size(spec, settings.image_size),
        "batch_size": batch_size,
        "augment": settings.augment,
        "augment_shift": settings.augment_shift if settings.augment else None,
        "jit": {None: "auto", True: "on", False: "off"}[settings.jit],
        "settings_hash": settings.settings_hash(),
    }


def phase_row(base: dict, result: PhaseResult, settings: Settings) -> dict:
    """One phase's row of runs.csv, each column taken by its name: first from what is worked
    out here, then from the phase result (its fields and properties), its test metrics, and
    the fields the run's rows share. A new column is its schema line and the code that
    measures it under the same name."""
    if result.epochs:
        train_acc, val_acc = result.at_best("accuracy"), result.at_best("val_accuracy")
    else:  # the probe
        train_acc, val_acc = result.train_accuracy, result.val_accuracy
    per_epoch = result.time_per_epoch_s
    derived = {
        "status": "ok",
        "epochs_run": len(result.epochs),
        "unfreeze": settings.unfreeze if result.phase == "finetune" else None,
        "bn_mode": "train" if result.phase == "scratch" else "frozen",
        "train_accuracy": train_acc,
        "val_accuracy": val_acc,
        "overfit_gap": train_acc - val_acc,
        "efficiency": efficiency(result.test["test_accuracy"], result.params_total),
        "first_epoch_s": result.epoch_seconds[0] if result.epochs else None,
        "frozen_mode": {"frozen": settings.frozen_mode, "probe": "features"}.get(
            result.phase, "end-to-end"
        ),
        "train_images_per_s": base["train_size"] / per_epoch if per_epoch else None,
    }
    values = {}
    for name in schema.names("runs"):
        if name in derived:
            values[name] = derived[name]
        elif hasattr(result, name):
            values[name] = getattr(result, name)
        elif name in result.test:
            values[name] = result.test[name]
        elif name in base:
            values[name] = base[name]
    return schema.row("runs", **values)


def add_phase_rows(
    tables: dict, base: dict, result: PhaseResult, settings: Settings, class_names: list[str]
) -> None:
    """The phase's rows of every results file: runs, epochs, classes, confusion, calibration,
    corruptions."""
    run_id, test = base["run_id"], result.test
    tables["runs"].append(phase_row(base, result, settings))
    tables["epochs"] += [
        schema.row("epochs", run_id=run_id, phase=result.phase, **e) for e in result.epochs
    ]
    support = test["confusion"].sum(axis=1)
    tables["classes"] += [
        schema.row(
            "classes",
            run_id=run_id,
            phase=result.phase,
            class_index=i,
            class_name=name,
            test_accuracy=test["per_class_accuracy"][i],
            support=int(support[i]),
        )
        for i, name in enumerate(class_names)
    ]
    # Non-zero cells only: a good classifier's matrix is mostly empty off the diagonal.
    tables["confusion"] += [
        schema.row(
            "confusion",
            run_id=run_id,
            phase=result.phase,
            true_index=int(t),
            predicted_index=int(p),
            count=int(test["confusion"][t, p]),
        )
        for t, p in np.argwhere(test["confusion"])
    ]
    extra = {"calibration": result.reliability, "corruptions": result.corruption_rows}
    for table, rows in extra.items():
        tables[table] += [schema.row(table, run_id=run_id, phase=result.phase, **r) for r in rows]


def failed_row(base: dict, phase: str, err: Exception | str) -> dict:
    if isinstance(err, Exception):
        err = describe_error(err)
    return schema.row("runs", **{**base, "phase": phase, "status": "failed", "error": err})
