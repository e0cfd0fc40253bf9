"""Compile once: passes in batches of one shape (bench.training.prediction), and compilation
recorded apart (compile_s). test_backends.py checks that a suite's second run on JAX loads its
programs from the persistent compilation cache."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from bench.data import load_dataset
from bench.data.splits import make_splits
from bench.execution.progress import SilentReporter
from bench.models import registry
from bench.models.classifier import build_classifier
from bench.settings import Settings
from bench.training import prediction
from bench.training.compile_cache import cache_environment, torch_default_inductor_folder
from bench.training.phases import PhaseResult, run_phase


def shape_counting(model: keras.Model) -> list[int]:
    """Batch sizes the model's prediction step is traced (compiled backends) or run (eager)
    with; the step is looked up when the predict function is made, so this wraps it."""
    seen: list[int] = []
    step = model.predict_step

    def counting_step(data):
        seen.append(keras.tree.flatten(data)[0].shape[0])
        return step(data)

    model.predict_step = counting_step
    return seen


def small_classifier(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return build_classifier(
        registry.get("simple_cnn"), (32, 32, 3), 10, image_size=32, weights="none"
    ).model


def test_a_last_partial_batch_compiles_no_second_shape():
    images = np.random.default_rng(0).integers(0, 256, (37, 32, 32, 3), dtype=np.uint8)
    model = small_classifier()
    seen = shape_counting(model)
    outputs = prediction.predict(model, images, batch_size=16)
    assert set(seen) == {16}  # 37 = 2 x 16 + 5, the 5 padded to 16
    np.testing.assert_allclose(outputs, model(images), rtol=1e-5, atol=1e-5)
    assert outputs.shape == (37, 10)

    unpadded = small_classifier()
    seen = shape_counting(unpadded)
    unpadded.predict(images, batch_size=16, verbose=0)
    assert len(set(seen)) == 2  # what Keras alone does: the counting can see it


def test_timed_inference_and_fewer_images_than_a_batch():
    images = np.random.default_rng(1).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    model = small_classifier()
    seen = shape_counting(model)
    outputs, per_second = prediction.predict_timed(model, images, batch_size=16)
    assert set(seen) == {16} and outputs.shape == (5, 10) and per_second > 0
    np.testing.assert_allclose(outputs, model(images), rtol=1e-5, atol=1e-5)


def test_the_validation_loss_is_keras_cross_entropy():
    logits = np.random.default_rng(2).normal(size=(50, 7)).astype("float32") * 5
    labels = np.random.default_rng(3).integers(0, 7, 50)
    keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)
    assert prediction.sparse_cross_entropy(labels, logits) == pytest.approx(float(keras_loss), 1e-5)


def test_a_phase_validates_and_tests_in_one_shape_only():
    dataset = load_dataset("digits")
    splits = make_splits(dataset, 0.2, seed=0, limit=90)  # neither split a multiple of 32
    assert len(splits.x_val) % 32 and len(splits.x_test) % 32
    keras.utils.set_random_seed(0)
    classifier = build_classifier(
        registry.get("simple_cnn"), (32, 32, 3), 10, image_size=32, weights="none"
    )
    seen = shape_counting(classifier.model)
    settings = Settings(models=["simple_cnn"], batch_size=32, epochs_scratch=2, patience=5)
    result = run_phase(classifier, "scratch", splits, settings, SilentReporter())
    assert set(seen) == {32}
    first = result.epochs[0]
    assert first["val_loss"] > 0 and 0 <= first["val_accuracy"] <= 1
    assert result.best_epoch in (1, 2)


def test_compile_seconds_are_the_first_epochs_excess():
    epochs = [
        {"epoch_time_s": 9.0, "val_time_s": 2.0},
        {"epoch_time_s": 3.0, "val_time_s": 0.5},
        {"epoch_time_s": 4.0, "val_time_s": 0.5},
        {"epoch_time_s": 3.5, "val_time_s": 0.5},
    ]
    result = PhaseResult("scratch", 1e-3, 1, 1, epochs=epochs)
    assert result.compile_s == 11.0 - 4.0  # the median later epoch, validation included
    assert PhaseResult("scratch", 1e-3, 1, 1, epochs=epochs[:1]).compile_s is None
    fast_first = [{"epoch_time_s": 1.0, "val_time_s": 0.1}, *epochs[1:]]
    assert PhaseResult("scratch", 1e-3, 1, 1, epochs=fast_first).compile_s == 0.0


def test_run_processes_get_the_caches_unless_the_user_chose_their_own(monkeypatch, tmp_path):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path))
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    # What importing torch leaves in the environment is not a choice of the user's.
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(torch_default_inductor_folder()))
    given = cache_environment()
    assert given["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path / "compiled" / "jax")
    assert given["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "compiled" / "torch" / "inductor")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "mine"))
    given = cache_environment()
    assert "TORCHINDUCTOR_CACHE_DIR" not in given and "JAX_COMPILATION_CACHE_DIR" not in given
