"""From-scratch baselines: small networks trained end to end from random weights.

Each is registered with `@baseline` (as timm's `@register_model`): a function from the input
shape and the number of classes to a Keras model whose last layer gives float32 logits.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers

Builder = Callable[[tuple[int, int, int], int], keras.Model]
BASELINES: dict[str, tuple[Builder, int | None]] = {}  # name -> (builder, native input size)


def baseline(native_size: int | None = None) -> Callable[[Builder], Builder]:
    """Register a baseline under its function's name; `native_size`: it always runs at that
    input size, whatever `--image-size` says."""

    def register(build: Builder) -> Builder:
        BASELINES[build.__name__] = (build, native_size)
        return build

    return register


@baseline(native_size=32)
def simple_cnn(input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    """The seeds' CNN: Conv32-pool-Conv64-pool-Dense512, on raw 0-255 pixels scaled to [0, 1].

    Exactly 2,122,186 parameters on 32x32x3 with 10 classes (the figure the seeds report).
    """
    return keras.Sequential(
        [
            keras.Input(input_shape),
            layers.Rescaling(1.0 / 255),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(512, activation="relu"),
            layers.Dense(num_classes, dtype="float32"),  # logits
        ],
        name="simple_cnn",
    )
