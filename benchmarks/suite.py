"""A whole suite timed on this machine, and its time projected to the full data set.

Runs each model of a suite (default: `cifar10` of benchmarks.toml, 10 models at 224, frozen
then fine-tuning) through `bench.run`, one process per run as always, on a slice of the data.
Each pretrained backbone gets a weights file of random backbone weights saved here, because
ImageNet weights cannot be downloaded everywhere; training time does not depend on the values.
From the measured figures of runs.csv and epochs.csv it then projects the time of the full
split (default 45,000 train, 5,000 validation, 10,000 test) at the suite's epoch limits:

    per phase  compile_s + epochs x (time_per_epoch_s + val_time_s, scaled to the full split)
               + features_time_s (scaled) + test images / infer_images_per_s
    per model  the phases + what the run spent outside them (process start, building, loading)

The projection is an upper bound (early stopping usually ends phases sooner) and is labelled
as a projection wherever it is printed or saved.

    KERAS_BACKEND=jax python benchmarks/suite.py --dataset folder:/data/cifar10 \\
        --limit 10000 --test-limit 2000 --epochs-frozen 3 --epochs-finetune 2 --save FILE
    python benchmarks/suite.py --models simple_cnn,MobileNetV3Small --dataset digits \\
        --image-size 32 --limit 200 --epochs-frozen 1 --epochs-finetune 1    # a CPU check
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from common import save  # noqa: E402

import bench  # noqa: E402
from bench.models import registry  # noqa: E402
from bench.settings.loading import load_config, resolve  # noqa: E402

PHASE_EPOCHS = {
    "frozen": "epochs_frozen",
    "finetune": "epochs_finetune",
    "scratch": "epochs_scratch",
}


def random_backbone_weights(model: str, size: int, folder: Path) -> Path:
    """A weights file of the backbone without its top, random, as a user would pass one."""
    import keras

    path = folder / f"{model}-{size}.weights.h5"
    if not path.is_file():
        keras.utils.set_random_seed(0)
        spec = registry.get(model)
        spec.build(include_top=False, weights=None, input_shape=(size, size, 3)).save_weights(path)
        keras.backend.clear_session()
    return path


def seconds(value) -> float:
    """A runs.csv time that may be empty (no compilation measured, no feature extraction)."""
    return 0.0 if pd.isna(value) else float(value)


def project(runs: pd.DataFrame, epochs: pd.DataFrame, wall_s: float, full: dict, suite) -> dict:
    """The projected seconds of one model's run on the full split (see the module's text)."""
    phases = {}
    for _, row in runs.iterrows():
        val = epochs[epochs["phase"] == row["phase"]]["val_time_s"].median()
        scale_train = full["train"] / row["train_size"]
        scale_val = full["val"] / row["val_size"]
        # One epoch only: no later epoch to take the median of, and no compile_s; its whole
        # time (compilation included) stands for every epoch, an overestimate.
        train = (
            row["first_epoch_s"] if pd.isna(row["time_per_epoch_s"]) else row["time_per_epoch_s"]
        )
        per_epoch = train * scale_train + val * scale_val
        features = seconds(row["features_time_s"]) * (full["train"] + full["val"])
        features /= row["train_size"] + row["val_size"]
        limit = getattr(suite, PHASE_EPOCHS[row["phase"]])
        phases[row["phase"]] = (
            seconds(row["compile_s"])
            + limit * per_epoch
            + features
            + full["test"] / row["infer_images_per_s"]
        )
    tested = (runs["test_size"] / runs["infer_images_per_s"]).sum()
    outside = max(0.0, wall_s - runs["train_time_s"].sum() - tested)
    return {"phases_s": phases, "outside_s": outside, "total_s": sum(phases.values()) + outside}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", default="cifar10")
    parser.add_argument("--models", help="instead of the suite's models")
    parser.add_argument("--dataset", help="e.g. folder:PATH (default: the suite's)")
    parser.add_argument("--image-size", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--limit", type=int, default=10000)
    parser.add_argument("--test-limit", type=int, default=2000)
    parser.add_argument("--epochs-frozen", type=int, default=3)
    parser.add_argument("--epochs-finetune", type=int, default=2)
    parser.add_argument("--epochs-scratch", type=int, default=3)
    parser.add_argument("--frozen-mode", choices=["end-to-end", "features"])
    parser.add_argument("--precision", choices=["float32", "mixed"])
    parser.add_argument("--full", default="45000,5000,10000", help="train,val,test of the full run")
    parser.add_argument("--out", default="results/suite-benchmark")
    parser.add_argument("--save", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)

    suite = resolve(load_config(), args.suite, {})  # its epoch limits are what is projected
    names = args.models.split(",") if args.models else suite.models
    size = args.image_size or suite.image_size
    given = {
        k: v
        for k, v in vars(args).items()
        if v is not None and k not in ("suite", "models", "full", "out", "save")
    }
    out = Path(args.out)
    (out / "weights").mkdir(parents=True, exist_ok=True)
    full = dict(zip(("train", "val", "test"), map(int, args.full.split(",")), strict=True))
    models = []
    for name in names:
        spec = registry.get(name)
        weights = (
            random_backbone_weights(spec.name, size, out / "weights") if spec.pretrained else "none"
        )
        start = time.perf_counter()
        rows = bench.run(
            spec.name,
            suite=args.suite,
            weights=str(weights),
            out=str(out),
            force=True,
            quiet=True,
            **given,
        )
        wall = time.perf_counter() - start
        epochs = pd.read_csv(out / "epochs.csv")
        epochs = epochs[epochs["run_id"].isin(rows["run_id"])]
        ok = rows[rows["status"] == "ok"]
        model = {"model": spec.name, "wall_s": wall, "status": sorted(set(rows["status"]))}
        model["measured"] = ok[
            [
                "phase",
                "train_size",
                "val_size",
                "test_size",
                "epochs_run",
                "first_epoch_s",
                "compile_s",
                "time_per_epoch_s",
                "train_time_s",
                "features_time_s",
                "train_images_per_s",
                "infer_images_per_s",
                "peak_gpu_mem_mb",
            ]
        ].to_dict("records")
        if len(ok) == len(rows):
            model["projection"] = project(ok, epochs, wall, full, suite)
        models.append(model)
        shown = model.get("projection", {}).get("total_s")
        print(
            f"{spec.name:>18}: measured {wall:8.1f} s"
            + (f" | projection, full split: {shown:8.1f} s" if shown else " | FAILED"),
            flush=True,
        )
    measured = sum(m["wall_s"] for m in models)
    projected = sum(m["projection"]["total_s"] for m in models if "projection" in m)
    print(
        f"{'suite':>18}: measured {measured:8.1f} s | projection, full split: {projected:8.1f} s"
        f" ({projected / 3600:.2f} h)"
    )
    save(
        args.save,
        __file__,
        argv,
        args,
        full_split=full,
        epoch_limits_projected={p: getattr(suite, k) for p, k in PHASE_EPOCHS.items()},
        models=models,
        measured_s=measured,
        projection_s=projected,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
