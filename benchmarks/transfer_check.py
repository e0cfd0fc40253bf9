"""Does the two-phase protocol work? A check that needs no download: a backbone trained from
scratch on digits 0-4, then transferred to digits 5-9 from a few images per class (frozen,
then fine-tuned), against the same backbone trained from scratch on the same few images.

Everything goes through `bench run` as a user would run it: pretraining is a run with
`--weights none --save-weights`, the transfer is a run with `--weights` set to the backbone
file it kept, and the baseline is a run with `--weights none` on the target images. A control
runs the same two phases from a backbone of random weights (`random_frozen`,
`random_finetune`): what the frozen phase reaches without anything learned on the source.

    python benchmarks/transfer_check.py --model DenseNet121 --per-class 20 --seeds 0,1,2 \\
        --save benchmarks/results/transfer-check-cpu-densenet121.json
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from common import save  # noqa: E402

import bench  # noqa: E402
from bench.data import load_dataset  # noqa: E402


def write_folder(root: Path, images: np.ndarray, labels: np.ndarray, classes: list[int]) -> None:
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        if label in classes:
            folder = root / str(label)
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / f"{index}.png")


def make_data(root: Path, per_class: int, val_per_class: int) -> tuple[Path, Path]:
    """digits 0-4 as one set of class folders (bench splits it), and digits 5-9 as train/
    (per_class images a class), val/ (val_per_class) and test/ (all the rest)."""
    digits = load_dataset("digits")
    images = np.concatenate([digits.x_train, digits.x_test])
    labels = np.concatenate([digits.y_train, digits.y_test])
    source, target = root / "digits-0-4", root / "digits-5-9"
    write_folder(source, images, labels, [0, 1, 2, 3, 4])
    rng = np.random.default_rng(0)
    for label in range(5, 10):
        index = rng.permutation(np.flatnonzero(labels == label))
        parts = {
            "train": index[:per_class],
            "val": index[per_class : per_class + val_per_class],
            "test": index[per_class + val_per_class :],
        }
        for split, chosen in parts.items():
            write_folder(target / split, images[chosen], labels[chosen], [label])
    return source, target


def random_backbone(model: str, size: int, folder: Path) -> Path:
    """The backbone's random initial weights, as a file `--weights` loads."""
    import keras

    keras.utils.set_random_seed(0)
    path = folder / f"{model}-random.weights.h5"
    build = getattr(keras.applications, model)
    build(include_top=False, weights=None, input_shape=(size, size, 3)).save_weights(path)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="DenseNet121")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--per-class", type=int, default=20, help="target training images")
    parser.add_argument("--val-per-class", type=int, default=10)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs-pretrain", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=10, help="each target phase, at most")
    parser.add_argument("--out", help="results folder (default: a temporary one)")
    parser.add_argument("--save", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or Path(tmp) / "results")
        source, target = make_data(Path(tmp), args.per_class, args.val_per_class)
        common = dict(image_size=args.image_size, batch_size=32, quiet=True, patience=3)
        pretrained = bench.run(
            args.model,
            dataset=f"folder:{source}",
            weights="none",
            save_weights=True,
            epochs_scratch=args.epochs_pretrain,
            out=str(out / "pretrain"),
            **common,
        )
        backbone = str(out / "pretrain" / pretrained.iloc[0]["weights_files"].split(";")[1])
        transfer = bench.run(
            args.model,
            dataset=f"folder:{target}",
            weights=backbone,
            seeds=seeds,
            epochs_frozen=args.epochs,
            epochs_finetune=args.epochs,
            lr_finetune=1e-4,
            out=str(out / "target"),
            **common,
        )
        control = bench.run(
            args.model,
            dataset=f"folder:{target}",
            weights=str(random_backbone(args.model, args.image_size, Path(tmp))),
            seeds=seeds,
            epochs_frozen=args.epochs,
            epochs_finetune=args.epochs,
            lr_finetune=1e-4,
            out=str(out / "control"),
            **common,
        )
        control["phase"] = "random_" + control["phase"]
        scratch = bench.run(
            args.model,
            dataset=f"folder:{target}",
            weights="none",
            seeds=seeds,
            epochs_scratch=2 * args.epochs,
            out=str(out / "target"),
            **common,
        )
    rows = pd.concat([transfer, control, scratch])
    table = rows.groupby("phase")["test_accuracy"].agg(["mean", "std", "count"])
    source_accuracy = float(pretrained.iloc[0]["test_accuracy"])
    print(f"pretraining on digits 0-4 from scratch: test accuracy {source_accuracy:.3f}")
    print(f"digits 5-9, {args.per_class} training images a class, {len(seeds)} seeds:")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    save(
        args.save,
        __file__,
        argv,
        args,
        source_test_accuracy=source_accuracy,
        target_test_accuracy={p: table.loc[p].to_dict() for p in table.index},
        runs=rows[["phase", "seed", "test_accuracy", "epochs_run", "best_epoch"]].to_dict(
            "records"
        ),
        chance=0.2,
    )


if __name__ == "__main__":
    main()
