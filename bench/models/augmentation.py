"""The protocol's training augmentation: a random horizontal flip and a random integer
translation by pad-and-crop, per image, in `keras.ops` only.

Keras's `RandomTranslation` is a bilinear affine transform per pixel and is not jit-safe, so it
turns XLA off for the whole model: on a GPU the default protocol trained 50-70x slower with it.
This layer is one gather of whole pixels, compiles with the model on every backend, and
runs at the stored size, before resizing, where it is cheapest.

Its random draws come from a counter-based integer hash of (seed, step, image, draw) in int32
arithmetic, which every backend computes alike: the same seed gives the same augmented images on
TensorFlow, JAX and PyTorch. The step counter is the state of a Keras SeedGenerator, so it
advances inside compiled training steps and is not rewound when early stopping restores weights.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

# Draw numbers: each image gets independent streams for its flip and its two shifts.
FLIP, SHIFT_Y, SHIFT_X = STREAMS = (0, 1, 2)
MIXES = (np.int32(0x7FEB352D), np.int32(0x846CA68B - (1 << 32)))  # lowbias32 (C. Wellons)


def _shift_right(x, bits: int):
    """Logical right shift of int32 (arithmetic shift, then clear the sign's copies)."""
    return ops.bitwise_and(ops.right_shift(x, bits), (1 << (32 - bits)) - 1)


def hash32(x):
    """A well-mixed int32 hash of int32 input; int32 multiplication wraps on every backend."""
    x = ops.bitwise_xor(x, _shift_right(x, 16))
    x = ops.multiply(x, MIXES[0])
    x = ops.bitwise_xor(x, _shift_right(x, 15))
    x = ops.multiply(x, MIXES[1])
    return ops.bitwise_xor(x, _shift_right(x, 16))


def draws(seed, step, count: int, stream: int):
    """`count` non-negative int32 random numbers (below 2**24) for one stream of one step."""
    key = hash32(ops.add(hash32(ops.cast(seed, "int32")), ops.cast(step, "int32")))
    index = ops.arange(count, dtype="int32") * len(STREAMS) + stream
    return _shift_right(hash32(ops.bitwise_xor(hash32(index), key)), 8)


def reflect(index, size: int):
    """Index into [0, size) reflected at the borders, as numpy's pad mode 'reflect'."""
    period = 2 * (size - 1) if size > 1 else 1
    index = ops.mod(index, period)
    return ops.where(index >= size, period - index, index)


def flip_and_shift(images, flips, dy, dx):
    """Flip the images whose `flips` is true, then move each by (dy, dx) whole pixels,
    filling the uncovered border by reflection. images: (n, h, w, c); flips, dy, dx: (n,).

    One gather of whole pixels: each output pixel's source pixel is computed, the flip folded
    into the column, so no index tensor is larger than the images' pixel count."""
    n, h, w, c = ops.shape(images)
    rows = reflect(ops.arange(h, dtype="int32")[None, :] - dy[:, None], h)  # (n, h)
    cols = reflect(ops.arange(w, dtype="int32")[None, :] - dx[:, None], w)  # (n, w)
    cols = ops.where(flips[:, None], w - 1 - cols, cols)
    image = ops.arange(n, dtype="int32")[:, None, None]
    source = (image * h + rows[:, :, None]) * w + cols[:, None, :]  # (n, h, w)
    pixels = ops.take(ops.reshape(images, (-1, c)), ops.reshape(source, (-1,)), axis=0)
    return ops.reshape(pixels, ops.shape(images))


def max_shift(side: int, fraction: float) -> int:
    """Whole pixels an image of `side` may move by: a `fraction` of the side, rounded down."""
    return int(np.floor(fraction * side + 1e-9))


@keras.saving.register_keras_serializable(package="bench")
class FlipShift(keras.layers.Layer):
    """Random horizontal flip and random translation by up to `shift` of each side (whole
    pixels, reflected border), independently per image; the identity outside training."""

    def __init__(self, shift: float = 0.1, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.shift, self.seed = shift, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if not training:
            return images
        seed, step = ops.unstack(self.seed_generator.next(), 2)
        n = ops.shape(images)[0]
        flips = ops.equal(ops.bitwise_and(draws(seed, step, n, FLIP), 1), 1)
        dy = self._offsets(draws(seed, step, n, SHIFT_Y), ops.shape(images)[1])
        dx = self._offsets(draws(seed, step, n, SHIFT_X), ops.shape(images)[2])
        return flip_and_shift(images, flips, dy, dx)

    def _offsets(self, numbers, side: int):
        most = max_shift(side, self.shift)
        return ops.mod(numbers, 2 * most + 1) - most

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "shift": self.shift, "seed": self.seed}
