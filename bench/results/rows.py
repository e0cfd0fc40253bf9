"""The rows a run writes to the results files (`bench.results.schema` declares their columns): the
fields every row of a run shares, one phase's rows, and the row of a failed run."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from bench.data.dataset import Dataset
from bench.errors import describe_error
from bench.measure.metrics import efficiency
from bench.models.classifier import input_size
from bench.models.registry import ModelSpec
from bench.results import schema
from bench.settings import Settings
from bench.training.phases import PhaseResult


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
        "settings_hash": settings.protocol_hash(),
    }


def add_phase_rows(
    tables: dict, base: dict, result: PhaseResult, settings: Settings, class_names: list[str]
) -> None:
    run_id, test = base["run_id"], result.test
    train_acc, val_acc = result.at_best("accuracy"), result.at_best("val_accuracy")
    per_epoch = result.time_per_epoch_s
    row = {
        **base,
        "status": "ok",
        "phase": result.phase,
        "epochs_run": len(result.epochs),
        "best_epoch": result.best_epoch,
        "learning_rate": result.learning_rate,
        "unfreeze": settings.unfreeze if result.phase == "finetune" else None,
        "bn_mode": "train" if result.phase == "scratch" else "frozen",
        "params_total": result.params_total,
        "params_trainable": result.params_trainable,
        "gmacs": base.get("gmacs"),
        "train_accuracy": train_acc,
        "val_accuracy": val_acc,
        "test_accuracy": test["test_accuracy"],
        "test_top5_accuracy": test["test_top5_accuracy"],
        "test_macro_f1": test["test_macro_f1"],
        "overfit_gap": train_acc - val_acc,
        "efficiency": efficiency(test["test_accuracy"], result.params_total),
        "time_per_epoch_s": per_epoch,
        "first_epoch_s": result.epoch_seconds[0],
        "compile_s": result.compile_s,
        "compile_cache_hits": result.compile_cache_hits,
        "train_time_s": result.train_time_s,
        "features_time_s": result.features_time_s,
        "frozen_mode": settings.frozen_mode if result.phase == "frozen" else "end-to-end",
        "train_images_per_s": base["train_size"] / per_epoch if per_epoch else None,
        "infer_images_per_s": result.infer_images_per_s,
        "infer_batch_size": result.infer_batch_size,
        "data_wait_share": result.data_wait_share,
        "peak_gpu_mem_mb": result.peak_gpu_mem_mb,
        "peak_gpu_mem_nvml_mb": result.peak_gpu_mem_nvml_mb,
        "peak_host_rss_mb": result.peak_host_rss_mb,
        "weights_files": result.weights_files,
    }
    tables["runs"].append(schema.row("runs", **row))
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


def failed_row(base: dict, phase: str, err: Exception | str) -> dict:
    if isinstance(err, Exception):
        err = describe_error(err)
    return schema.row("runs", **{**base, "phase": phase, "status": "failed", "error": err})
