"""Building the classifier: clear errors for weights that cannot be had or do not fit."""

from __future__ import annotations

import dataclasses

import pytest

from bench.errors import BenchError
from bench.models import registry
from bench.models.classifier import build_classifier, load_backbone
from tests.helpers import random_weights


def test_offline_imagenet_weights_name_the_file_and_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    url = "https://storage.googleapis.com/x/mobilenet_v2_weights_no_top.h5"

    def offline(**kwargs):  # what keras.utils.get_file raises without a network
        raise Exception(f"URL fetch failure on {url}: None -- [Errno -3] name resolution")

    spec = dataclasses.replace(registry.get("MobileNetV2"), build=offline)
    with pytest.raises(BenchError) as err:
        load_backbone(spec, 32, "imagenet")
    assert "put mobilenet_v2_weights_no_top.h5 in" in str(err.value)
    assert str(tmp_path / "models") in str(err.value)


def test_weights_of_another_architecture_are_refused(tmp_path):
    path = random_weights("MobileNetV3Small", tmp_path)
    with pytest.raises(BenchError, match=f"cannot load weights {path} into MobileNetV2"):
        load_backbone(registry.get("MobileNetV2"), 32, str(path))


def test_missing_weights_file_and_too_small_images(tmp_path):
    with pytest.raises(BenchError, match="weights file not found"):
        load_backbone(registry.get("MobileNetV2"), 32, str(tmp_path / "nope.h5"))
    with pytest.raises(BenchError, match="InceptionV3 needs images of at least 75x75"):
        build_classifier(
            registry.get("InceptionV3"), (32, 32, 3), 10, image_size=64, weights="none"
        )
