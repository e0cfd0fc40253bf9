"""From-scratch baselines: small networks trained end to end from random weights."""

from __future__ import annotations

import keras
from keras import layers


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
