"""The frozen phase two ways: end to end (images through the frozen backbone every epoch) and
`frozen_mode=features` (the backbone's pooled features computed once, the head trained on them).
Same model, weights, data, seed and epochs; early stopping off, so both train every epoch.

Prints and saves the whole phase's time (feature extraction included) of each mode, their ratio,
and the test accuracy of each: the features mode has no augmentation in this phase, which is
the price of its speed.

    python benchmarks/frozen_features.py                      # ResNet50 at 64 px, digits
    python benchmarks/frozen_features.py --model MobileNetV2 --image-size 96 --epochs 10

With no ImageNet weights offline, the backbone's weights are random (saved to a file so both
modes load the same ones); the timing does not depend on what the weights are.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from bench.data import load_dataset  # noqa: E402
from bench.data.splits import make_splits  # noqa: E402
from bench.execution.progress import SilentReporter  # noqa: E402
from bench.measure import provenance
from bench.models import registry  # noqa: E402
from bench.models.classifier import build_classifier  # noqa: E402
from bench.settings import Settings  # noqa: E402
from bench.training.phases import run_phase  # noqa: E402


def frozen_phase(args, weights: Path, splits, shape, classes: int, mode: str) -> dict:
    keras.backend.clear_session()
    keras.utils.set_random_seed(args.seed)
    settings = Settings(
        image_size=args.image_size,
        batch_size=args.batch_size,
        epochs_frozen=args.epochs,
        patience=args.epochs,  # no early stop: both modes train every epoch
        frozen_mode=mode,
    )
    classifier = build_classifier(
        registry.get(args.model), shape, classes, image_size=args.image_size, weights=str(weights)
    )
    result = run_phase(classifier, "frozen", splits, settings, SilentReporter())
    return {
        "mode": mode,
        "phase_time_s": result.train_time_s,
        "features_time_s": result.features_time_s,
        "time_per_epoch_s": result.time_per_epoch_s,
        "epochs": len(result.epochs),
        "test_accuracy": result.test["test_accuracy"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="ResNet50")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)

    data = load_dataset(args.dataset)
    splits = make_splits(data, 0.1, args.seed, args.limit, None, 0)
    shape = data.x_train.shape[1:]
    spec = registry.get(args.model)
    with tempfile.TemporaryDirectory() as folder:
        weights = Path(folder) / "backbone.weights.h5"
        keras.utils.set_random_seed(args.seed)
        spec.build(
            include_top=False, weights=None, input_shape=(args.image_size, args.image_size, 3)
        ).save_weights(weights)
        runs = [
            frozen_phase(args, weights, splits, shape, data.num_classes, mode)
            for mode in ("end-to-end", "features")
        ]
    end_to_end, features = runs
    summary = {
        "command": "python benchmarks/frozen_features.py " + " ".join(argv or sys.argv[1:]),
        "settings": vars(args),
        "train_images": len(splits.x_train),
        "environment": provenance.describe(),
        "runs": runs,
        "speedup": end_to_end["phase_time_s"] / features["phase_time_s"],
        "accuracy_difference": features["test_accuracy"] - end_to_end["test_accuracy"],
    }
    for run in runs:
        print(
            f"{run['mode']:>10}: phase {run['phase_time_s']:.1f} s "
            f"(features {run['features_time_s'] or 0:.1f} s), test accuracy "
            f"{run['test_accuracy']:.4f}"
        )
    print(
        f"features mode: {summary['speedup']:.1f}x faster, accuracy "
        f"{100 * summary['accuracy_difference']:+.2f} points"
    )
    if args.save:
        Path(args.save).write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
