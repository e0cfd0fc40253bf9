"""The protocol's augmentation (bench.models.augmentation.FlipShift): a flip and a
whole-pixel shift per image, within bounds, the identity at inference, reproducible from its seed
and the same on TensorFlow and JAX; and its settings define the protocol (hash, rows, reports)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from bench.common.hashing import stable_hash
from bench.models import registry
from bench.models.augmentation import FlipShift, max_shift
from bench.models.classifier import build_classifier
from bench.reports.comparison import load_comparison
from bench.results import ResultsStore
from bench.settings import Settings
from tests.helpers import ROOT, needs_jax, run_row, write_fixture

H, W = 20, 24


def coded_images(n: int) -> np.ndarray:
    """Images whose channel 0 holds each pixel's own position (row * W + col)."""
    code = np.arange(H * W, dtype="float32").reshape(H, W)
    images = np.zeros((n, H, W, 3), dtype="float32")
    images[..., 0] = code
    images[..., 1] = np.arange(n, dtype="float32")[:, None, None]  # which image
    return images


def recover(image: np.ndarray) -> tuple[bool, int, int]:
    """(flipped, dy, dx) of one augmented coded image, read from two pixels in its middle."""
    y, x = H // 2, W // 2
    here, right = int(image[y, x, 0]), int(image[y, x + 1, 0])
    row, col = divmod(here, W)
    flipped = right % W < col
    dx = x - (W - 1 - col) if flipped else x - col
    return flipped, y - row, dx


def expected(image: np.ndarray, flipped: bool, dy: int, dx: int) -> np.ndarray:
    """numpy's own flip, reflect padding and crop: what the layer must compute."""
    if flipped:
        image = image[:, ::-1]
    p = max(abs(dy), abs(dx), 1)
    padded = np.pad(image, ((p, p), (p, p), (0, 0)), mode="reflect")
    return padded[p - dy : p - dy + H, p - dx : p - dx + W]


def augment(layer: FlipShift, images: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(layer(images, training=True))


def test_each_image_is_flipped_and_shifted_within_bounds_independently():
    images = coded_images(64)
    out = augment(FlipShift(shift=0.15, seed=1), images)
    limit_y, limit_x = max_shift(H, 0.15), max_shift(W, 0.15)
    assert (limit_y, limit_x) == (3, 3)
    draws = []
    for image, result in zip(images, out, strict=True):
        flipped, dy, dx = recover(result)
        assert abs(dy) <= limit_y and abs(dx) <= limit_x
        np.testing.assert_array_equal(result, expected(image, flipped, dy, dx))
        draws.append((flipped, dy, dx))
    flips, dys, dxs = zip(*draws, strict=True)
    assert 16 < sum(flips) < 48  # about half, each image on its own
    assert set(dys) == set(range(-3, 4)) and set(dxs) == set(range(-3, 4))
    assert len(set(draws)) > 32  # images of one batch get different draws


def test_no_shift_at_zero_and_a_new_draw_every_step():
    images = coded_images(32)
    layer = FlipShift(shift=0.0, seed=0)
    first, second = augment(layer, images), augment(layer, images)
    assert all(recover(r)[1:] == (0, 0) for r in first)
    assert not np.array_equal(first, second)  # the step counter moved on


def test_identity_at_inference_and_in_predict():
    images = coded_images(8)
    layer = FlipShift(shift=0.1, seed=0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(images)), images)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(images, training=False)), images)
    model = keras.Sequential([keras.Input((H, W, 3)), layer])
    np.testing.assert_array_equal(model.predict(images, verbose=0), images)


def test_reproducible_from_the_seed():
    images = coded_images(16)
    a, b, c = FlipShift(seed=7), FlipShift(seed=7), FlipShift(seed=8)
    for _ in range(3):
        out_a = augment(a, images)
        np.testing.assert_array_equal(out_a, augment(b, images))
        assert not np.array_equal(out_a, augment(c, images))


AUGMENT_ON_JAX = """
import sys, numpy as np, keras
from bench.models.augmentation import FlipShift
assert keras.backend.backend() == "jax"
layer = FlipShift(shift=0.1, seed=3)
images = np.load(sys.argv[1])
steps = [keras.ops.convert_to_numpy(layer(images, training=True)) for _ in range(3)]
np.save(sys.argv[2], np.stack(steps))
"""


@needs_jax
def test_the_same_output_on_tensorflow_and_jax(tmp_path):
    assert keras.backend.backend() == "tensorflow"
    images = np.random.default_rng(0).integers(0, 256, (16, 32, 32, 3)).astype("float32")
    layer = FlipShift(shift=0.1, seed=3)
    on_tf = np.stack([augment(layer, images) for _ in range(3)])
    np.save(tmp_path / "x.npy", images)
    subprocess.run(
        [sys.executable, "-c", AUGMENT_ON_JAX, str(tmp_path / "x.npy"), str(tmp_path / "j.npy")],
        cwd=ROOT,
        env={**os.environ, "KERAS_BACKEND": "jax"},
        check=True,
        capture_output=True,
    )
    np.testing.assert_array_equal(np.load(tmp_path / "j.npy"), on_tf)


def test_the_classifier_augments_before_resizing_and_compiles_with_xla():
    classifier = build_classifier(
        registry.get("MobileNetV2"), (32, 32, 3), 10, image_size=64, weights="none"
    )
    names = [layer.name for layer in classifier.model.layers]
    assert names.index("augment") < names.index("resize")
    assert classifier.model.get_layer("augment").shift == 0.1
    assert all(layer.supports_jit for layer in classifier.model._flatten_layers())


def test_augmentation_settings_define_the_protocol():
    on = Settings(augment=True)
    wider, off = dataclasses.replace(on, augment_shift=0.2), dataclasses.replace(on, augment=False)
    assert len({on.settings_hash(), wider.settings_hash(), off.settings_hash()}) == 3
    # Off, the shift means nothing: it is left out, so these keep their earlier hash.
    assert dataclasses.replace(off, augment_shift=0.3).settings_hash() == off.settings_hash()
    assert "augment_shift" not in off.hashed()
    # On, the hash differs from the one written before this augmentation existed.
    before = {k: v for k, v in on.hashed().items() if k != "augment_shift"}
    assert stable_hash(before) != on.settings_hash()


def test_the_report_never_pools_the_two_augmentations(tmp_path):
    on = Settings(dataset="cifarlike", image_size=32, augment=True)
    before = {k: v for k, v in on.hashed().items() if k != "augment_shift"}
    hashes = {"before": stable_hash(before), "now": on.settings_hash()}
    rows = [
        run_row(model, "scratch", seed, acc, weights="none", settings_hash=hashes[when])
        for when, acc in (("before", 0.5), ("now", 0.7))
        for model in ("simple_cnn", "VGG16")
        for seed in (0, 1)
    ]
    for row in rows:
        row["run_id"] += row["settings_hash"]
        if row["settings_hash"] == hashes["now"]:
            row["timestamp"] = row["timestamp"].replace("T10", "T11")
    write_fixture(tmp_path, rows)
    protocols = {hashes["before"]: before, hashes["now"]: on.hashed()}
    (tmp_path / "env.json").write_text(json.dumps({"protocols": protocols}))
    comparison = load_comparison(ResultsStore(tmp_path))
    assert set(comparison.runs["settings_hash"]) == {hashes["now"]}
    assert set(comparison.ok["test_accuracy"]) == {0.7}
    assert len(comparison.others) == 1 and hashes["before"] in comparison.others[0]


@pytest.mark.parametrize("value", [-0.1, 0.5])
def test_an_impossible_shift_is_refused(value):
    from bench.errors import BenchError

    with pytest.raises(BenchError, match="augment_shift"):
        Settings(augment_shift=value).validate()
