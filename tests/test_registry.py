"""The registry is complete, and every family is preprocessed exactly as its module says."""

from __future__ import annotations

import sys
import types

import keras
import numpy as np
import pytest

import bench
from bench.errors import BenchError
from bench.models import registry
from bench.models.classifier import build_classifier
from bench.models.spec import preprocess_function
from tests.helpers import bench_main


def keras_constructors() -> set[str]:
    """keras.applications' image backbones (what is not one, like LPIPS, is left out)."""
    return {
        n
        for n, f in vars(keras.applications).items()
        if callable(f) and n[:1].isupper() and registry.is_backbone(f)
    }


def test_every_keras_application_is_registered():
    missing = keras_constructors() - set(registry.REGISTRY)
    assert not missing, f"constructors missing from the registry: {sorted(missing)}"
    assert len(keras_constructors()) >= 38


def test_every_entry_has_family_preprocessing_and_size():
    for spec in registry.REGISTRY.values():
        assert spec.family in registry.FAMILIES
        assert spec.preprocessing in {"caffe", "tf", "torch", "lite", "built-in"}
        assert spec.default_size >= spec.min_size >= 32


def test_reference_figures_from_the_keras_table():
    assert registry.get("ResNet50").imagenet_top1 == 74.9
    assert registry.get("EfficientNetB7").imagenet_top1 == 84.3
    assert registry.get("EfficientNetB7").default_size == 600
    assert registry.get("InceptionV3").min_size == 75


# Expected output of each mode on one pixel (R, G, B) = (10, 128, 250).
PIXEL = np.array([10.0, 128.0, 250.0])
EXPECTED = {
    "caffe": PIXEL[::-1] - np.array([103.939, 116.779, 123.68]),
    "tf": PIXEL / 127.5 - 1.0,
    "torch": (PIXEL / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225]),
    "lite": (PIXEL / 255.0 - 0.498) / 0.502,  # EfficientNet-Lite's (x - 127) / 128, to 4 digits
    "built-in": PIXEL,
}


MODES = {(s.module, s.preprocessing) for s in registry.REGISTRY.values() if s.module}


@pytest.mark.parametrize("module, mode", sorted(MODES), ids=[m for m, _ in sorted(MODES)])
def test_declared_mode_matches_the_modules_preprocess_input(module, mode):
    """The registry's modes are checked against each module's real preprocess_input."""
    fn = preprocess_function(module)
    out = keras.ops.convert_to_numpy(fn(keras.ops.convert_to_tensor(PIXEL.reshape(1, 1, 1, 3))))
    np.testing.assert_allclose(out.reshape(3), EXPECTED[mode], rtol=1e-5)
    if "." not in module:  # a keras.applications module: the one table says its mode
        assert mode == registry.PREPROCESSING[module]


def smallest_per_family() -> list[registry.ModelSpec]:
    """One cheap member of each family; fails if a new family appears without one."""
    cheap = [
        "VGG16",
        "ResNet50",
        "ResNet50V2",
        "InceptionV3",
        "InceptionResNetV2",
        "Xception",
        "MobileNet",
        "MobileNetV2",
        "MobileNetV3Small",
        "DenseNet121",
        "NASNetMobile",
        "EfficientNetB0",
        "EfficientNetV2B0",
        "EfficientNetLite0",
        "ConvNeXtTiny",
    ]
    specs = [registry.get(n) for n in cheap]
    covered = {s.family for s in specs} | {"baseline"}
    assert covered == set(registry.FAMILIES), "add a representative for every family"
    return specs


@pytest.mark.parametrize("spec", smallest_per_family(), ids=lambda s: s.name)
def test_model_applies_exactly_its_modules_preprocessing(spec):
    """What reaches the backbone equals the module's own preprocess_input of the resized image,
    and families that rescale inside the backbone get the raw pixels (no double scaling)."""
    size = max(spec.min_size, 32)
    clf = build_classifier(
        spec, (size, size, 3), 10, image_size=size, weights="none", augment=False
    )
    probe = keras.Model(clf.model.input, clf.model.get_layer("backbone").input)
    images = np.random.default_rng(0).integers(0, 256, (2, size, size, 3), dtype=np.uint8)
    seen = keras.ops.convert_to_numpy(probe(images))
    expected = keras.ops.convert_to_numpy(spec.preprocess_input()(images.astype("float32")))
    np.testing.assert_allclose(seen, expected, rtol=1e-5, atol=1e-4)
    if spec.preprocessing == "built-in":
        np.testing.assert_allclose(seen, images.astype("float32"), atol=1e-4)
        rescaling = [
            layer
            for layer in clf.backbone.layers
            if isinstance(layer, (keras.layers.Rescaling, keras.layers.Normalization))
        ]
        assert rescaling, f"{spec.name} should rescale inside itself"


def test_selection_all_families_and_lists():
    assert len(registry.select(["all"])) == len(registry.REGISTRY)
    resnets = {s.name for s in registry.select(["family:resnet"])}
    assert resnets == {"ResNet50", "ResNet101", "ResNet152"}
    chosen = [s.name for s in registry.select(["resnet50", "ResNet50", "simple-cnn"])]
    assert chosen == ["ResNet50", "simple_cnn"]


def test_unknown_model_suggests_the_closest():
    with pytest.raises(BenchError, match="did you mean ResNet50"):
        registry.get("resnet5")
    with pytest.raises(BenchError, match="unknown family 'resnett'; did you mean resnet"):
        registry.select(["family:resnett"])


def tiny_backbone(include_top=True, weights=None, input_shape=None, pooling=None, classes=1000):
    """A backbone as a future Keras may add one, from a module bench's tables do not know."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Conv2D(16, 3, strides=2)(x), name="tinynet")


def perceptual_similarity(network="vgg16", weights=None):
    """Like keras.applications.LPIPS: in keras.applications, but no image backbone."""
    raise AssertionError("never built: not a backbone")


@pytest.fixture
def future_keras(monkeypatch):
    """keras.applications with a new backbone module (tinynet) and a new non-backbone (LPIPS)."""
    module = types.ModuleType("keras.src.applications.tinynet")
    module.preprocess_input = lambda x, data_format=None: x / 127.5 - 1.0
    for name, function in (("TinyNet", tiny_backbone), ("LPIPS", perceptual_similarity)):
        function.__module__ = module.__name__
        monkeypatch.setattr(keras.applications, name, function, raising=False)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    registry.discover()
    yield
    monkeypatch.undo()
    registry.discover()


def test_a_future_keras_with_unknown_entries_still_lists_and_runs(
    future_keras, capsys, caplog, tmp_path
):
    assert "LPIPS" not in registry.REGISTRY, "not an image backbone: left out"
    spec = registry.get("TinyNet")
    assert spec.preprocessing == "unknown" and spec.module == "keras.src.applications.tinynet"
    code, out, _ = bench_main(capsys, "list")
    assert code == 0 and "TinyNet" in out and "LPIPS" not in out and "ResNet50" in out
    assert any(
        "TinyNet comes from module keras.src.applications.tinynet" in r.message
        and "bench does not know" in r.message
        for r in caplog.records
    )
    frame = bench.run(
        "TinyNet",
        dataset="digits",
        weights="none",
        epochs_scratch=1,
        limit=100,
        out=str(tmp_path),
        executor="in-process",
        quiet=True,
    )
    row = frame.iloc[0]
    assert row["status"] == "ok", row["error"]
    assert row["model"] == "TinyNet" and row["test_accuracy"] >= 0


def test_only_constructors_that_take_include_top_and_input_shape_are_backbones():
    assert registry.is_backbone(keras.applications.ResNet50)
    assert registry.is_backbone(tiny_backbone)
    assert not registry.is_backbone(perceptual_similarity)
    assert not registry.is_backbone(len)  # a builtin without a readable signature
