"""The phases change exactly what the protocol says, and nothing else."""

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
from bench.training.phases import phases_for, run_phase, unfrozen_layers
from tests.helpers import random_weights

SETTINGS = Settings(
    image_size=32,
    batch_size=64,
    epochs_frozen=1,
    epochs_finetune=1,
    lr_finetune=1e-3,
    unfreeze=0.3,
    limit=400,
)


@pytest.fixture(scope="module")
def splits():
    return make_splits(load_dataset("digits"), 0.1, seed=0, limit=SETTINGS.limit)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A MobileNetV2 weights file standing in for ImageNet weights (offline): the protocol
    treats any given weights file as pretrained."""
    return str(random_weights("MobileNetV2", tmp_path_factory.mktemp("weights"), seed=1))


def snapshot(model: keras.Model) -> dict[str, np.ndarray]:
    return {v.path: keras.ops.convert_to_numpy(v).copy() for v in model.weights}


def changed(before: dict, after: dict) -> set[str]:
    return {k for k in before if not np.array_equal(before[k], after[k])}


def bn_statistics(backbone: keras.Model) -> set[str]:
    return {
        v.path
        for layer in backbone.layers
        if isinstance(layer, keras.layers.BatchNormalization)
        for v in layer.weights
    }


def classifier(weights: str):
    keras.utils.set_random_seed(0)
    return build_classifier(
        registry.get("MobileNetV2"), (32, 32, 3), 10, image_size=32, weights=weights
    )


def test_pretrained_backbones_run_frozen_then_finetune(pretrained):
    assert phases_for(classifier(pretrained), SETTINGS) == ["frozen", "finetune"]
    assert phases_for(classifier("none"), SETTINGS) == ["scratch"]


def test_frozen_phase_leaves_backbone_and_batchnorm_bitwise_unchanged(splits, pretrained):
    clf = classifier(pretrained)
    before = snapshot(clf.backbone)
    head_before = snapshot(clf.model.get_layer("logits"))
    result = run_phase(clf, "frozen", splits, SETTINGS, SilentReporter())
    assert changed(before, snapshot(clf.backbone)) == set()
    assert changed(head_before, snapshot(clf.model.get_layer("logits"))), "the head must learn"
    assert result.params_trainable == clf.model.get_layer("logits").count_params()


def test_finetune_changes_only_unfrozen_layers_and_no_batchnorm_statistic(splits, pretrained):
    clf = classifier(pretrained)
    run_phase(clf, "frozen", splits, SETTINGS, SilentReporter())
    before = snapshot(clf.backbone)
    result = run_phase(clf, "finetune", splits, SETTINGS, SilentReporter())
    moved = changed(before, snapshot(clf.backbone))
    allowed = {
        v.path for layer in unfrozen_layers(clf.backbone, SETTINGS.unfreeze) for v in layer.weights
    }
    assert moved, "fine-tuning must change the unfrozen layers"
    assert moved <= allowed, f"frozen layers changed: {sorted(moved - allowed)[:3]}"
    assert not moved & bn_statistics(clf.backbone)
    head = clf.model.get_layer("logits").count_params()
    unfrozen = sum(layer.count_params() for layer in unfrozen_layers(clf.backbone, 0.3))
    assert result.params_trainable == head + unfrozen


def test_backbone_stays_in_inference_mode_even_when_all_of_it_trains(splits, pretrained):
    """BatchNormalization statistics never move in transfer learning, even with every layer
    trainable: the backbone runs with training=False at run time (bench.models.layers.Backbone)."""
    clf = classifier(pretrained)
    clf.backbone.trainable = True
    clf.model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(True))
    before = snapshot(clf.backbone)
    clf.model.fit(splits.x_train, splits.y_train, batch_size=64, epochs=1, verbose=0)
    moved = changed(before, snapshot(clf.backbone))
    moving = {p for p in bn_statistics(clf.backbone) if "moving" in p}
    assert moved - moving, "trainable weights must train"
    assert not moved & moving, "BatchNormalization moving statistics must not change"


def test_unfreeze_by_fraction_or_count_skips_batchnorm(pretrained):
    backbone = classifier(pretrained).backbone
    weighted = [layer for layer in backbone.layers if layer.weights]
    by_count = unfrozen_layers(backbone, 10)
    assert by_count == [
        layer for layer in weighted[-10:] if not isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert len(unfrozen_layers(backbone, 1.0)) == sum(
        not isinstance(layer, keras.layers.BatchNormalization) for layer in weighted
    )


def test_early_stopping_restores_the_best_epoch(splits, pretrained):
    clf = classifier(pretrained)
    settings = Settings(image_size=32, batch_size=64, epochs_frozen=3, patience=1)
    result = run_phase(clf, "frozen", splits, settings, SilentReporter())
    val_losses = [e["val_loss"] for e in result.epochs]
    assert result.best_epoch == int(np.argmin(val_losses)) + 1
    assert result.at_best("val_accuracy") == result.epochs[result.best_epoch - 1]["val_accuracy"]


def test_simple_cnn_has_the_seeds_parameter_count_and_learns_digits(splits):
    keras.utils.set_random_seed(0)
    clf = build_classifier(
        registry.get("simple_cnn"), (32, 32, 3), 10, image_size=224, weights="none"
    )
    assert clf.image_size == 32, "the baseline keeps the size it is defined at"
    assert clf.backbone.count_params() == 2_122_186
    settings = Settings(batch_size=32, epochs_scratch=6, patience=6)
    result = run_phase(clf, "scratch", splits, settings, SilentReporter())
    assert result.test["test_accuracy"] > 0.7, "well above the 0.1 of chance"
