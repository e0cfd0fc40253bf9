"""What the tests share: running bench as a user does, tiny data and suites, and a results
folder with known values. Test files import their helpers from here, never from each other."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench import cli
from bench.results import ResultsStore, schema

# Running bench as a user does --------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
# Real CIFAR-10 images in class folders, shipped with the tests: 12 train and 6 test per class.
CIFAR_MINI = ROOT / "tests" / "fixtures" / "cifar10-mini"


def random_weights(model: str, folder: Path, seed: int = 0) -> Path:
    """A file of random backbone weights at 32x32: what a user offline passes as --weights
    instead of imagenet (the protocol treats any weights file as pretrained)."""
    import keras  # here, not above: processes that import this module start without Keras

    keras.utils.set_random_seed(seed)
    path = folder / f"{model.lower()}.weights.h5"
    constructor = getattr(keras.applications, model)
    constructor(include_top=False, weights=None, input_shape=(32, 32, 3)).save_weights(path)
    return path


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None):
    """`python -m bench ARGS` in a fresh process, as a user would run it."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=cwd or ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def bench_main(capsys, *args: str) -> tuple[int, str, str]:
    """`bench ARGS` in this process (no new interpreter to start): exit code, stdout, stderr."""
    try:
        code = cli.main(list(args))
    except SystemExit as done:  # --help, --version, argparse's usage errors
        code = done.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_here(capsys, *args: str) -> subprocess.CompletedProcess:
    """bench_main as a finished process, for tests written against run_cli."""
    code, out, err = bench_main(capsys, *args)
    return subprocess.CompletedProcess(["bench", *args], code, out, err)


# Backends ----------------------------------------------------------------------------------

needs_jax = pytest.mark.skipif(
    importlib.util.find_spec("jax") is None, reason="JAX not installed (pip install -e .[jax])"
)


# Image folders -----------------------------------------------------------------------------


def write_images(folder: Path, count: int, size: int, mode: str = "RGB") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(str(folder)))
    for i in range(count):
        pixels = rng.integers(0, 256, (size, size, len(mode)), dtype=np.uint8)
        Image.fromarray(pixels.squeeze(), mode).save(folder / f"{i}.png")


def split_layout(root: Path, val: str | None = "val", test: bool = True) -> Path:
    """The fixture as train/ (+ val/ carved from its train images) (+ test/)."""
    shutil.copytree(CIFAR_MINI / "train", root / "train")
    if val:
        for folder in sorted((root / "train").iterdir()):
            target = root / val / folder.name
            target.mkdir(parents=True)
            for image in sorted(folder.iterdir())[:3]:  # 3 of each class's 12
                image.rename(target / image.name)
    if test:
        shutil.copytree(CIFAR_MINI / "test", root / "test")
    return root


# Tiny suites through the bench command -----------------------------------------------------

TINY = ["--dataset", "digits", "--weights", "none", "--limit", "200", "--test-limit", "100"]
TINY += ["--epochs-scratch", "2", "--batch-size", "32"]


def suite_args(out: Path, seeds: str = "0,1") -> list[str]:
    return ["run", "--models", "simple_cnn", "--seeds", seeds, "--out", str(out), *TINY]


def assert_each_run_once_and_complete(out: Path, runs_expected: int) -> None:
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == runs_expected and runs["run_id"].is_unique
    assert (runs["status"] == "ok").all() and runs["test_accuracy"].notna().all()
    epochs = pd.read_csv(out / "epochs.csv")
    assert epochs.groupby("run_id").size().to_dict() == dict(
        zip(runs["run_id"], runs["epochs_run"], strict=True)
    )
    assert not epochs.duplicated(["run_id", "phase", "epoch"]).any()
    classes = pd.read_csv(out / "classes.csv")
    assert (classes.groupby("run_id").size() == 10).all() and len(classes) == 10 * runs_expected
    confusion = pd.read_csv(out / "confusion.csv")
    counted = confusion.groupby("run_id")["count"].sum().to_dict()
    assert counted == runs.set_index("run_id")["test_size"].to_dict()  # every test image once


def start_suite(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the test kills parent and children
    )


def wait_for_rows(path: Path, rows: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(pd.read_csv(path)) >= rows:
            return
        time.sleep(0.2)
    raise AssertionError(f"{path} never reached {rows} rows")


def cli_error(capsys, *argv: str) -> str:
    """Run the command line in this process; return its one error line (exit must be 2)."""
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    assert code == 2, captured.out[-2000:] + captured.err[-2000:]
    assert "Traceback" not in captured.err + captured.out
    lines = [x for x in captured.err.splitlines() if x.startswith("bench: error:")]
    assert len(lines) == 1, captured.err
    return lines[0]


def class_folders(root: Path, counts: dict[str, int]) -> Path:
    for name, count in counts.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        write_images(root / name, count, 8)
    return root


# A results folder with known values --------------------------------------------------------
# Written as `bench run` writes one, for the report, plots, compare and report.html tests.
#
# Comparison A (CIFAR-like, 3 classes, settings "aaaa", imagenet weights), test accuracy:
#   ResNet50     frozen .80 .82 .84  finetune .90 .92 .94   (seeds 0 1 2)
#   MobileNetV2  frozen .70 .71 .72  finetune .88 .91 .88
#   VGG16        frozen .60 .61 .62  finetune .70 .70 .73
#   DenseNet121  frozen .75          finetune .85           (seed 0 only)
#   simple_cnn   scratch .75 .77 .76                        (baseline, weights none)
#   ResNet50     scratch .50         (seed 0, settings "bbbb": the same protocol, weights none)
#   EfficientNetB0 failed in setup   (seed 0)
# Comparison B (digits, settings "cccc", older): simple_cnn scratch .95.


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
        tables.setdefault(row["run_id"], {table: [] for table in schema.FILES})
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
