"""--frozen-mode features: the cached features are the frozen backbone's pooled outputs, and a
head trained on them learns (random ResNet50 features on digits: well above chance)."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from bench.data import load_dataset
from bench.data.splits import make_splits
from bench.execution.progress import SilentReporter
from bench.models import registry
from bench.models.classifier import build_classifier
from bench.models.layers import Preprocess
from bench.settings import Settings
from bench.training.phases import head_of, run_phase
from tests.helpers import bench_main, random_weights


@pytest.fixture(scope="module")
def resnet_weights(tmp_path_factory):
    """Random ResNet50 weights given as a file: 'pretrained' to the protocol, offline."""
    return random_weights("ResNet50", tmp_path_factory.mktemp("weights"))


def classifier_with(weights) -> object:
    keras.utils.set_random_seed(0)
    return build_classifier(
        registry.get("ResNet50"), (32, 32, 3), 10, image_size=32, weights=str(weights)
    )


def test_cached_features_are_the_frozen_backbones_pooled_outputs(resnet_weights):
    classifier = classifier_with(resnet_weights)
    images = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    extractor = keras.Model(classifier.model.inputs, classifier.model.get_layer("pool").output)
    cached = extractor.predict(images, verbose=0)
    # By hand: preprocess_input of ResNet50 (caffe), the backbone in inference mode, mean.
    pixels = Preprocess("resnet")(keras.ops.cast(images, "float32"))
    expected = keras.ops.mean(classifier.backbone(pixels, training=False), axis=(1, 2))
    np.testing.assert_allclose(cached, keras.ops.convert_to_numpy(expected), rtol=1e-4, atol=1e-5)
    # The head shares the classifier's layers: features through it give the model's logits.
    head = head_of(classifier.model)
    np.testing.assert_allclose(
        head.predict(cached, verbose=0),
        classifier.model.predict(images, verbose=0),
        rtol=1e-4,
        atol=1e-5,
    )


@pytest.mark.slow
def test_features_mode_trains_a_head_well_above_chance(resnet_weights):
    data = load_dataset("digits")
    splits = make_splits(data, 0.1, 0, 600, 300, 0)
    settings = Settings(
        dataset="digits",
        image_size=32,
        batch_size=32,
        epochs_frozen=5,
        patience=5,
        frozen_mode="features",
    )
    classifier = classifier_with(resnet_weights)
    before = [w.copy() for w in classifier.model.get_layer("logits").get_weights()]
    result = run_phase(classifier, "frozen", splits, settings, SilentReporter())
    assert result.test["test_accuracy"] > 0.3  # chance is 0.1
    assert result.features_time_s > 0 and result.train_time_s > result.features_time_s
    after = classifier.model.get_layer("logits").get_weights()
    assert not np.array_equal(before[0], after[0]), "the classifier's own head was trained"


@pytest.mark.slow
def test_the_mode_is_recorded_in_every_row(tmp_path, capsys):
    out, weights = tmp_path / "results", random_weights("MobileNetV3Small", tmp_path)
    args = ["run", "--models", "MobileNetV3Small", "--weights", str(weights), "--dataset", "digits"]
    args += ["--image-size", "32", "--limit", "120", "--test-limit", "60", "--batch-size", "32"]
    args += ["--epochs-frozen", "2", "--epochs-finetune", "1", "--frozen-mode", "features"]
    code, stdout, stderr = bench_main(capsys, *args, "--out", str(out), "--in-process")
    assert code == 0, stdout[-2000:] + stderr[-2000:]
    runs = pd.read_csv(out / "runs.csv").set_index("phase")
    assert runs.loc["frozen", "frozen_mode"] == "features"
    assert runs.loc["frozen", "features_time_s"] > 0
    assert runs.loc["finetune", "frozen_mode"] == "end-to-end"
    assert pd.isna(runs.loc["finetune", "features_time_s"])
