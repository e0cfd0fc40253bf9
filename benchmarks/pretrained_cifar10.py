"""Does the protocol do what it claims with real pretrained features? EfficientNet-Lite0 with
its genuine ImageNet weights (the ported checkpoint, docs/guide/weights.md) on the CIFAR-10
JPEG folder, every condition a `bench run` as a user would run it, on one fixed test subset:

- frozen (features mode) at 224 px, from 100 and from 1,000 training images a class;
- fine-tuned (frozen head first, then the top of the backbone) from 100 a class;
- from scratch (random weights, BatchNormalization learning) from 100 a class;
- a control: the frozen phase on a backbone of random weights, 100 a class;
- the notebook mistake: the same ImageNet weights fed the 32x32 images, no resizing.

Expected shape: frozen far above the random control and above scratch; 224 px far above
32 px; fine-tuned at least as good as frozen.

    python benchmarks/pretrained_cifar10.py --data /path/to/cifar10-jpeg \\
        --save benchmarks/results/pretrained-cifar10-cpu-efficientnetlite0.json
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from common import save  # noqa: E402

import bench  # noqa: E402

MODEL = "EfficientNetLite0"


def random_backbone(folder: Path) -> str:
    """The backbone's random initial weights (seed 0), as a file `--weights` loads."""
    import keras

    from bench.models.efficientnet_lite import EfficientNetLite0

    keras.utils.set_random_seed(0)
    path = folder / f"{MODEL}-random.weights.h5"
    EfficientNetLite0(include_top=False, weights=None, input_shape=(224, 224, 3)).save_weights(path)
    return str(path)


def conditions(args, random_weights: str) -> dict[str, dict]:
    """Each condition's settings beyond the shared ones: name -> bench.run keywords."""
    frozen = dict(epochs_frozen=args.epochs, epochs_finetune=0, frozen_mode="features")
    small, few = dict(limit=10 * args.per_class), f"{args.per_class}/class"
    return {
        f"frozen, 224 px, {few}": dict(weights="imagenet", **frozen, **small),
        f"frozen, 224 px, {args.many_per_class}/class": dict(
            weights="imagenet", **frozen, limit=10 * args.many_per_class
        ),
        f"fine-tuned, {args.finetune_size} px, {few}": dict(
            weights="imagenet",
            image_size=args.finetune_size,
            epochs_frozen=args.epochs,
            epochs_finetune=args.epochs_finetune,
            lr_finetune=args.lr_finetune,
            **small,
        ),
        f"scratch, {args.finetune_size} px, {few}": dict(
            weights="none",
            image_size=args.finetune_size,
            epochs_scratch=args.epochs_scratch,
            **small,
        ),
        f"control: random backbone, frozen, 224 px, {few}": dict(
            weights=random_weights, **frozen, **small
        ),
        f"mistake: 32x32 fed as is, frozen, {few}": dict(
            weights="imagenet", image_size=32, **frozen, **small
        ),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="the CIFAR-10 JPEG folder (train/, test/)")
    parser.add_argument("--per-class", type=int, default=100, help="training images a class")
    parser.add_argument("--many-per-class", type=int, default=1000, help="the larger frozen run")
    parser.add_argument("--test-per-class", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=15, help="frozen phase, at most")
    parser.add_argument("--epochs-finetune", type=int, default=5)
    parser.add_argument("--epochs-scratch", type=int, default=20)
    parser.add_argument("--lr-finetune", type=float, default=1e-4)
    parser.add_argument("--finetune-size", type=int, default=160)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--only", help="run only the conditions whose name contains this")
    parser.add_argument("--out", help="results folder (default: a temporary one)")
    parser.add_argument("--save", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    shared = dict(
        dataset=f"folder:{args.data}",
        test_limit=10 * args.test_per_class,
        seeds=seeds,
        batch_size=32,
        quiet=True,
    )
    rows, seconds = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or Path(tmp) / "results")
        for name, settings in conditions(args, random_backbone(Path(tmp))).items():
            if args.only and args.only not in name:
                continue
            start = time.perf_counter()
            frame = bench.run(MODEL, out=str(out), **shared, **settings)
            seconds[name] = time.perf_counter() - start
            rows.append(frame.assign(condition=name))
            print(f"{name}: {seconds[name]:.0f} s", flush=True)
    runs = pd.concat(rows, ignore_index=True)
    table = summarize(runs)
    print(table.to_string(index=False))
    save(
        args.save,
        __file__,
        argv,
        args,
        table=table.to_dict("records"),
        seconds=seconds,
        runs=runs[RUN_COLUMNS].to_dict("records"),
        chance=0.1,
        dataset="CIFAR-10 (JPEG copy)",
    )


RUN_COLUMNS = [
    "condition",
    "phase",
    "seed",
    "image_size",
    "train_size",
    "test_size",
    "test_accuracy",
    "flag",
    "epochs_run",
    "best_epoch",
    "train_time_s",
    "features_time_s",
]


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """A row per condition and phase: test accuracy (mean, std over seeds) and its flag."""
    grouped = runs.groupby(["condition", "phase"], sort=False)
    return grouped.agg(
        image_size=("image_size", "first"),
        train_images=("train_size", "first"),
        test_images=("test_size", "first"),
        seeds=("seed", "nunique"),
        test_accuracy=("test_accuracy", "mean"),
        std=("test_accuracy", "std"),
        flag=("flag", lambda f: ", ".join(sorted(set(f.fillna("").astype(str)) - {""}))),
        minutes=("train_time_s", lambda s: s.sum() / 60),
    ).reset_index()


if __name__ == "__main__":
    main()
