"""Every backend, and precision: the same weights predict the same on TensorFlow and JAX; JAX
runs the protocol end to end; mixed precision keeps logits and loss in float32 and still learns."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest

from bench.models import registry
from bench.models.classifier import build_classifier
from tests.helpers import ROOT, bench_main, needs_jax

PREDICT_ON_JAX = """
import sys, numpy as np, keras
from bench.models import registry
from bench.models.classifier import build_classifier
assert keras.backend.backend() == "jax"
classifier = build_classifier(registry.get(sys.argv[4]), (32, 32, 3), 10, image_size=32,
                              weights="none", augment=False)
classifier.model.load_weights(sys.argv[1])
np.save(sys.argv[3], classifier.model.predict(np.load(sys.argv[2]), verbose=0))
"""


@pytest.mark.slow
@needs_jax
@pytest.mark.parametrize("model", ["simple_cnn", "MobileNetV2"])
def test_same_weights_same_predictions_on_tensorflow_and_jax(tmp_path, model):
    assert keras.backend.backend() == "tensorflow"
    keras.utils.set_random_seed(0)
    classifier = build_classifier(
        registry.get(model), (32, 32, 3), 10, image_size=32, weights="none", augment=False
    )
    images = np.random.default_rng(0).integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
    weights, inputs, on_jax = tmp_path / "w.weights.h5", tmp_path / "x.npy", tmp_path / "j.npy"
    classifier.model.save_weights(weights)
    np.save(inputs, images)
    on_tf = classifier.model.predict(images, verbose=0)
    subprocess.run(
        [sys.executable, "-c", PREDICT_ON_JAX, str(weights), str(inputs), str(on_jax), model],
        cwd=ROOT,
        env={**__import__("os").environ, "KERAS_BACKEND": "jax"},
        check=True,
        capture_output=True,
    )
    # Relative to the logits' scale: a deep net from random weights gives tiny logits.
    scale = np.abs(on_tf).max()
    assert scale > 0 and np.ptp(on_tf) > 0, "the logits are not constant"
    np.testing.assert_allclose(np.load(on_jax) / scale, on_tf / scale, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_a_run_end_to_end_on_another_backend(tmp_path, backend, capsys, monkeypatch):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} not installed (pip install -e .[{backend}]); CI installs jax")
    out, cache = tmp_path / "results", tmp_path / "cache"
    args = ["run", "--backend", backend, "--models", "simple_cnn", "--dataset", "digits"]
    args += ["--weights", "none", "--epochs-scratch", "2", "--limit", "200", "--out", str(out)]
    monkeypatch.setenv("BENCH_CACHE", str(cache))  # each run's process inherits it
    seeds = "0,1" if backend == "jax" else "0"  # two on JAX: the second uses the cache
    code, stdout, stderr = bench_main(capsys, *args, "--seeds", seeds)
    assert code == 0, stdout[-2000:] + stderr[-2000:]
    rows = pd.read_csv(out / "runs.csv").set_index("seed")
    assert (rows["backend"] == backend).all() and (rows["status"] == "ok").all()
    assert (rows["test_accuracy"] > 0.3).all()  # chance is 0.1
    assert rows["data_wait_share"].between(0, 1).all() and (rows["compile_s"] >= 0).all()
    assert backend in (out / "ranking.md").read_text()
    if backend == "jax":  # the second run loads its programs from JAX's persistent cache
        assert rows.loc[0, "compile_cache_hits"] == 0  # a fresh cache: everything compiled
        assert rows.loc[1, "compile_cache_hits"] > 0
        assert len(list((cache / "compiled" / "jax").iterdir())) > 0
    else:
        assert rows["compile_cache_hits"].isna().all()


def test_mixed_precision_keeps_logits_and_loss_in_float32():
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        classifier = build_classifier(
            registry.get("simple_cnn"), (32, 32, 3), 10, image_size=32, weights="none"
        )
        images = np.zeros((4, 32, 32, 3), np.uint8)
        logits = classifier.model(images)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
            np.zeros(4, np.int32), logits
        )
        conv = classifier.model.get_layer("simple_cnn").layers[1]
        assert conv.compute_dtype == "bfloat16" and conv.kernel.dtype == "float32"
        assert logits.dtype == "float32" and loss.dtype == "float32"
    finally:
        keras.config.set_dtype_policy("float32")


def test_mixed_precision_trains_simple_cnn_well_above_chance(tmp_path, capsys):
    out = tmp_path / "results"
    args = ["run", "--precision", "mixed", "--models", "simple_cnn", "--dataset", "digits"]
    args += ["--weights", "none", "--epochs-scratch", "4", "--limit", "600", "--out", str(out)]
    args += ["--no-jit"]
    code, stdout, stderr = bench_main(capsys, *args)  # the run itself in a process of its own
    assert code == 0, stdout[-2000:] + stderr[-2000:]
    row = pd.read_csv(out / "runs.csv").iloc[0]
    assert row["precision"] == "mixed_bfloat16" and row["jit"] == "off"  # no GPU here
    assert row["test_accuracy"] > 0.5  # chance is 0.1
