"""What augmentation costs: training images per second of the same model through the harness
(`bench.training.phases.run_phase`, scratch phase) with the protocol's augmentation on and off, in
the same process on the current Keras backend. `--keras-layers` adds Keras's own RandomFlip +
RandomTranslation(0.1, 0.1) in front of the same classifier: what bench used before its own
augmentation (that layer is not jit-safe, so Keras turns XLA off for the whole model).

    KERAS_BACKEND=jax python benchmarks/augment.py --save benchmarks/results/augment-h100-jax.json
    python benchmarks/augment.py --model simple_cnn --batch-size 32 --steps 4   # a CPU check

Variants alternate within each repeat and the best epoch rates are compared. Goal (GPU):
on / off at least 0.95.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import keras  # noqa: E402

from bench.measure import provenance
from bench.models import registry  # noqa: E402
from bench.models.classifier import Classifier, build_classifier  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from common import save, train_synthetic  # noqa: E402

VARIANTS = ("off", "on", "keras-layers")


def classifier_for(variant: str, model: str, args) -> Classifier:
    made = build_classifier(
        registry.get(model),
        (32, 32, 3),
        10,
        image_size=args.image_size,
        weights="none",
        augment=variant == "on",
    )
    if variant != "keras-layers":
        return made
    images = keras.Input((32, 32, 3), dtype="uint8")
    x = keras.layers.RandomFlip("horizontal", seed=0)(keras.ops.cast(images, "float32"))
    x = keras.layers.RandomTranslation(0.1, 0.1, seed=0)(x)
    return Classifier(keras.Model(images, made.model(x)), made.backbone, made.image_size, False)


def rate(variant: str, args) -> float:
    """Training images per second of the fastest epoch after the first."""
    build = lambda: classifier_for(variant, args.model, args)  # noqa: E731
    result = train_synthetic(build, args, augment=variant == "on")
    return args.batch_size * args.steps / min(result.epoch_seconds[1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="ResNet50")
    parser.add_argument("--image-size", type=int, default=224, help="resize to (default 224)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20, help="batches per epoch")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per variant (first untimed)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--precision", choices=["float32", "mixed"], default="float32")
    parser.add_argument("--keras-layers", action="store_true", help="also Keras's own layers")
    parser.add_argument("--save", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)

    variants = VARIANTS if args.keras_layers else VARIANTS[:2]
    rates: dict[str, list[float]] = {v: [] for v in variants}
    for repeat in range(args.repeats):
        order = variants if repeat % 2 == 0 else variants[::-1]
        for variant in order:
            rates[variant].append(rate(variant, args))
    best = {v: max(r) for v, r in rates.items()}
    ratios = {f"{v}/off": best[v] / best["off"] for v in variants if v != "off"}
    print(f"{args.model} at {args.image_size}, {provenance.describe()['backend']}:")
    for variant in variants:
        print(f"  augmentation {variant:>12}: {best[variant]:10.1f} img/s")
    for name, value in ratios.items():
        print(f"  {name}: {value:.3f}")
    save(args.save, __file__, argv, args, images_per_s=rates, best=best, ratios=ratios)
    return 0


if __name__ == "__main__":
    sys.exit(main())
