"""What the harness costs over bare Keras: the same model, data and batch size, trained twice in
one process, once through `bench.training.phases.run_phase` (its callbacks, measurements and early
stopping) and once as a bare `model.fit`. Both are timed by the same minimal callback, whole
epochs (training and validation) after the first.

The overhead is the ratio of the first quartiles of the epoch times: what the harness adds
runs in every epoch, so it shows there, while stalls that hit either run at random (up to three
epochs in four) do not. The fastest epochs and the medians are printed beside it. On the 2-core
CPU this project is built on, TensorFlow stalls for seconds at the first batch of some epochs of
a `fit`, in bare Keras as much as in the harness, which makes medians swing by 20-40%.

    python benchmarks/overhead.py                       # MobileNetV2, frozen phase, 96x96
    python benchmarks/overhead.py --model simple_cnn    # the from-scratch path

Each repeat trains both; the order alternates (bare first, then harness first, ...) so that
warm-up and drift of the machine hit both alike. Epochs are pooled over repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
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
from bench.training.phases import phases_for, run_phase, set_trainable  # noqa: E402


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each whole epoch; nothing else, so it costs the same in both runs."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def first_quartile(seconds: list[float]) -> float:
    return statistics.quantiles(seconds, n=4)[0]


def build(args, weights: str):
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    return build_classifier(
        registry.get(args.model),
        (32, 32, 3),
        10,
        image_size=args.image_size,
        weights=weights,
        augment=True,
        seed=0,
    )


def harness_epochs(args, splits, settings, weights) -> list[float]:
    classifier = build(args, weights)
    phase = phases_for(classifier, settings)[0]
    timer = EpochTimer()
    run_phase(classifier, phase, splits, settings, SilentReporter(), callbacks=[timer])
    return timer.seconds


def bare_epochs(args, splits, settings, weights) -> list[float]:
    classifier = build(args, weights)
    phase = phases_for(classifier, settings)[0]
    set_trainable(classifier, phase, settings.unfreeze)  # the same trainable weights
    classifier.model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    timer = EpochTimer()
    classifier.model.fit(
        splits.x_train,
        splits.y_train,
        validation_data=(splits.x_val, splits.y_val),
        batch_size=settings.batch_size,
        epochs=args.epochs,
        shuffle=True,
        verbose=0,
        callbacks=[timer],
    )
    return timer.seconds


def random_backbone_weights(args, folder: str) -> str:
    """A weights file, so the backbone runs the transfer (frozen) phase offline."""
    if not registry.get(args.model).pretrained:
        return "none"
    path = Path(folder) / "backbone.weights.h5"
    keras.utils.set_random_seed(0)
    spec = registry.get(args.model)
    size = (args.image_size, args.image_size, 3)
    spec.build(include_top=False, weights=None, input_shape=size).save_weights(path)
    return str(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="MobileNetV2")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--save", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()

    settings = Settings(
        batch_size=args.batch_size,
        epochs_frozen=args.epochs,
        epochs_scratch=args.epochs,
        lr_frozen=1e-3,
        lr_scratch=1e-3,
        patience=args.epochs,  # never stop early: both runs train every epoch
        image_size=args.image_size,
    )
    splits = make_splits(load_dataset(args.dataset), settings.val_fraction, seed=0)
    bare, harness = [], []  # every epoch after the first, pooled over repeats
    with tempfile.TemporaryDirectory() as folder:
        weights = random_backbone_weights(args, folder)
        for repeat in range(args.repeats):
            # Whichever goes second in a process may run warmer: alternate the order.
            order = [("bare", bare, bare_epochs), ("harness", harness, harness_epochs)]
            for name, pooled, train in order if repeat % 2 == 0 else order[::-1]:
                seconds = train(args, splits, settings, weights)[1:]
                pooled += seconds
                print(f"repeat {repeat + 1} {name:8}", " ".join(f"{s:.2f}" for s in seconds))
    quartile = first_quartile(harness) / first_quartile(bare)
    fastest = min(harness) / min(bare)
    median = statistics.median(harness) / statistics.median(bare)
    figures = {
        "command": "python " + " ".join(sys.argv),
        "model": args.model,
        "dataset": args.dataset,
        "train_images": len(splits.x_train),
        "image_size": args.image_size,
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "repeats": args.repeats,
        "bare_epoch_s": bare,
        "harness_epoch_s": harness,
        "ratio_of_first_quartiles": quartile,
        "ratio_of_fastest": fastest,
        "ratio_of_medians": median,
        **provenance.describe(),
    }
    print(
        f"{args.model} at {args.image_size}, batch {args.batch_size}, {len(splits.x_train)} "
        f"images, {len(bare)} epochs each on {provenance.describe()['device']}:\n"
        f"harness / bare time per epoch: {quartile:.3f} (first quartiles), {fastest:.3f}"
        f" (fastest epochs), {median:.3f} (medians)"
    )
    if args.save:
        Path(args.save).parent.mkdir(parents=True, exist_ok=True)
        Path(args.save).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
