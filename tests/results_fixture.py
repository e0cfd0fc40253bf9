"""A results folder with known values, written as `bench run` writes one, for report and plots.

Comparison A (CIFAR-like, 3 classes, settings "aaaa", imagenet weights), test accuracy:
  ResNet50     frozen .80 .82 .84  finetune .90 .92 .94   (seeds 0 1 2)
  MobileNetV2  frozen .70 .71 .72  finetune .88 .91 .88
  VGG16        frozen .60 .61 .62  finetune .70 .70 .73
  DenseNet121  frozen .75          finetune .85           (seed 0 only)
  simple_cnn   scratch .75 .77 .76                        (baseline, weights none)
  ResNet50     scratch .50         (seed 0, settings "bbbb": the same protocol, weights none)
  EfficientNetB0 failed in setup   (seed 0)
Comparison B (digits, settings "cccc", older): simple_cnn scratch .95.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.results import ResultsStore, schema

PROTOCOL = {"dataset": "cifarlike", "image_size": 32, "batch_size": 32, "weights": "imagenet"}
PROTOCOLS = {
    "aaaa": PROTOCOL,
    "bbbb": {**PROTOCOL, "weights": "none"},
    "cccc": {**PROTOCOL, "dataset": "digits"},
}
CLASSES = ["cat", "dog", "ship"]
TRANSFER = {
    "ResNet50": ([0.80, 0.82, 0.84], [0.90, 0.92, 0.94], 25.6e6),
    "MobileNetV2": ([0.70, 0.71, 0.72], [0.88, 0.91, 0.88], 3.5e6),
    "VGG16": ([0.60, 0.61, 0.62], [0.70, 0.70, 0.73], 138.4e6),
    "DenseNet121": ([0.75], [0.85], 8.1e6),
}
FAMILY = {
    "ResNet50": "resnet",
    "MobileNetV2": "mobilenet",
    "VGG16": "vgg",
    "DenseNet121": "densenet",
    "simple_cnn": "baseline",
    "EfficientNetB0": "efficientnet",
}


def run_row(model: str, phase: str, seed: int, accuracy: float | None, **fields) -> dict:
    row = dict.fromkeys(schema.names("runs"))
    params = TRANSFER.get(model, (0, 0, 2.1e6))[2]
    row.update(
        run_id=f"{model}-{fields.get('settings_hash', 'aaaa')}-{seed}",
        suite="fixture",
        timestamp=f"2026-11-2{1 + (fields.get('settings_hash') != 'cccc')}T10:00:0{seed}+00:00",
        status="ok",
        model=model,
        family=FAMILY.get(model, "other"),
        dataset="cifarlike",
        num_classes=3,
        train_size=300,
        val_size=30,
        test_size=60,
        weights="imagenet",
        seed=seed,
        phase=phase,
        image_size=32,
        batch_size=32,
        params_total=int(params),
        gmacs=params / 1e8,
        train_accuracy=None if accuracy is None else accuracy + 0.05,
        val_accuracy=accuracy,
        test_accuracy=accuracy,
        overfit_gap=0.05,
        efficiency=None if accuracy is None else 100 * accuracy / (params / 1e6),
        time_per_epoch_s=1.0 + seed,
        train_images_per_s=300 / (1.0 + seed),
        infer_images_per_s=1000.0,
        peak_host_rss_mb=900.0,
        settings_hash="aaaa",
        backend="tensorflow",
        keras_version="3.15.1",
        device="Fixture CPU",
    )
    row.update(fields)
    return row


def runs() -> list[dict]:
    rows = []
    for model, (frozen, finetune, _) in TRANSFER.items():
        for seed, (a, b) in enumerate(zip(frozen, finetune, strict=True)):
            rows += [run_row(model, "frozen", seed, a), run_row(model, "finetune", seed, b)]
    for seed, accuracy in enumerate([0.75, 0.77, 0.76]):
        rows.append(run_row("simple_cnn", "scratch", seed, accuracy, weights="none"))
    rows.append(run_row("ResNet50", "scratch", 0, 0.50, weights="none", settings_hash="bbbb"))
    rows.append(
        run_row(
            "EfficientNetB0",
            "setup",
            0,
            None,
            status="failed",
            error="ValueError: boom",
            time_per_epoch_s=None,
            train_images_per_s=None,
            infer_images_per_s=None,
            peak_host_rss_mb=None,
        )
    )
    rows.append(
        run_row(
            "simple_cnn", "scratch", 0, 0.95, weights="none", settings_hash="cccc", dataset="digits"
        )
    )
    return rows


def write_fixture(folder: Path, rows: list[dict] | None = None) -> ResultsStore:
    """Write runs (default: runs()) with epochs, classes and confusion matching them."""
    store = ResultsStore(folder)
    rows = runs() if rows is None else rows
    tables: dict[str, list[dict]] = {}
    for row in rows:
        tables.setdefault(row["run_id"], {"runs": [], "epochs": [], "classes": [], "confusion": []})
        run = tables[row["run_id"]]
        run["runs"].append(row)
        if row["status"] == "ok":
            add_phase_tables(run, row)
    for run_id, run in tables.items():
        store.write_run(run_id, run)
    environment = {"environment": {}, "settings": {}, "protocols": PROTOCOLS}
    (Path(folder) / "env.json").write_text(json.dumps(environment))
    return store


def add_phase_tables(run: dict, row: dict) -> None:
    """Three epochs rising to the row's accuracy; a confusion matrix with that accuracy."""
    accuracy, key = row["test_accuracy"], {"run_id": row["run_id"], "phase": row["phase"]}
    run["epochs"] += [
        schema.row(
            "epochs",
            **key,
            epoch=e,
            loss=1.0 / e,
            accuracy=accuracy - 0.1 / e + 0.05,
            val_loss=1.1 / e,
            val_accuracy=accuracy - 0.1 / e,
            learning_rate=1e-3,
            epoch_time_s=row["time_per_epoch_s"],
            val_time_s=0.1,
        )
        for e in (1, 2, 3)
    ]
    per_class = 20  # 60 test images, 3 classes
    for i, name in enumerate(CLASSES):
        right = round(accuracy * per_class) - (i - 1)  # the classes differ a little
        run["classes"].append(
            {
                **key,
                "class_index": i,
                "class_name": name,
                "test_accuracy": right / per_class,
                "support": per_class,
            }
        )
        run["confusion"] += [
            {**key, "true_index": i, "predicted_index": i, "count": right},
            {**key, "true_index": i, "predicted_index": (i + 1) % 3, "count": per_class - right},
        ]


def write_runs(folder: str, prefix: str, count: int, barrier) -> None:
    """One of two suites writing into one folder at once (a process of its own; this module
    imports no Keras, so it starts quickly)."""
    store = ResultsStore(folder)
    rows = {
        f"{prefix}{i}": [run_row("VGG16", "frozen", i, 0.5, run_id=f"{prefix}{i}")]
        for i in range(count)
    }
    barrier.wait()  # both writers start together, so their writes interleave
    for run_id, row in rows.items():
        store.write_run(run_id, {"runs": row})
