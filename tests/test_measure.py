"""Every measured figure is what the README (Measurements) defines, checked against known values."""

from __future__ import annotations

import itertools
import time
import types

import keras
import numpy as np
import pytest
from keras import layers

from bench.data import load_dataset
from bench.data.splits import make_splits
from bench.execution.progress import SilentReporter
from bench.measure import cost, gpu, memory
from bench.models import registry
from bench.models.classifier import build_classifier
from bench.results import schema
from bench.results.rows import add_phase_rows
from bench.settings import Settings
from bench.training import prediction
from bench.training.callbacks import EpochRecorder
from bench.training.phases import run_phase

# timm's published GMACs at 224 (its benchmark results).
PUBLISHED_GMACS = {"MobileNetV2": 0.30, "EfficientNetB0": 0.39, "VGG16": 15.5}


def imagenet_model(name: str) -> keras.Model:
    """The full ImageNet classifier (with its 1000-class head), as the published figures count."""
    return registry.get(name).build(weights=None, include_top=True, input_shape=(224, 224, 3))


@pytest.mark.parametrize("name", sorted(PUBLISHED_GMACS))
def test_gmacs_within_five_percent_of_published(name):
    assert cost.gmacs(imagenet_model(name)) == pytest.approx(PUBLISHED_GMACS[name], rel=0.05)


def resnet50_v15() -> keras.Model:
    """ResNet50 as timm and torchvision build it (v1.5): the stride of each downsampling
    block sits in its 3x3 convolution. Keras keeps the original layout (stride in the first
    1x1), which is why timm's 4.1 GMACs describes a slightly different network."""

    def block(x, filters, stride, shortcut):
        skip = layers.Conv2D(4 * filters, 1, strides=stride)(x) if shortcut else x
        x = layers.Conv2D(filters, 1)(x)
        x = layers.Conv2D(filters, 3, strides=stride, padding="same")(x)
        x = layers.Conv2D(4 * filters, 1)(x)
        return layers.Add()([skip, x])

    inputs = keras.Input((224, 224, 3))
    x = layers.ZeroPadding2D(3)(inputs)
    x = layers.Conv2D(64, 7, strides=2)(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    for filters, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        x = block(x, filters, stride, shortcut=True)
        for _ in range(blocks - 1):
            x = block(x, filters, 1, shortcut=False)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(1000)(x))


def test_resnet50_gmacs_against_published_and_keras_layout():
    v15 = cost.macs(resnet50_v15())
    assert v15 / 1e9 == pytest.approx(4.1, rel=0.05)
    # Keras's ResNet50 runs the reducing 1x1 conv of its three downsampling blocks at half
    # resolution: 3/4 of H*W*C_in*filters saved in each, by hand 3 * 0.75*56*56*256*128.
    keras_layout = cost.macs(imagenet_model("ResNet50"))
    assert v15 - keras_layout == 3 * 3 * 56 * 56 * 256 * 128 // 4
    assert keras_layout / 1e9 == pytest.approx(3.858, abs=0.001)


def test_macs_of_each_layer_kind_by_hand():
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same")(inputs)  # 8*8*4 * 3*3*3 = 6912
    x = layers.DepthwiseConv2D(3, padding="same")(x)  # 8*8*4 * 3*3 = 2304
    x = layers.SeparableConv2D(6, 3, strides=2, padding="same")(x)  # 4*4*4*9 + 4*4*4*6 = 960
    x = layers.Conv2D(6, 1, groups=2)(x)  # 4*4*6 * 1*1*6/2 = 288
    x = layers.BatchNormalization()(x)  # elementwise: 0
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(5)(x)  # 6*5 = 30
    model = keras.Model(inputs, outputs)
    assert cost.macs(model) == 6912 + 2304 + 960 + 288 + 30
    # Nested in a wrapper (as bench.models.layers.Backbone nests the backbone), counted once.
    outer_in = keras.Input((8, 8, 3))
    assert cost.macs(keras.Model(outer_in, layers.Dense(2)(model(outer_in)))) == 10494 + 10


def test_classifier_gmacs_params_and_run_size():
    spec = registry.get("MobileNetV2")
    classifier = build_classifier(spec, (32, 32, 3), 10, image_size=224, weights="none")
    headless = spec.build(include_top=False, weights=None, input_shape=(224, 224, 3))
    head = 1280 * 10
    assert cost.macs(classifier.model) == cost.macs(headless) + head
    assert classifier.model.count_params() == headless.count_params() + head + 10


class AdvanceClock(keras.callbacks.Callback):
    """A controlled clock: each training batch takes 3 s in epoch 1 (tracing) and 1 s after;
    each validation batch takes 0.5 s. Nothing actually sleeps."""

    def __init__(self):
        super().__init__()
        self.now, self.epoch = 100.0, 0

    def __call__(self) -> float:
        return self.now

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.now += 3.0 if self.epoch == 0 else 1.0

    def predicting(self, real):
        """bench.training.prediction.predict, taking 0.5 s per batch (the validation pass of an
        epoch)."""

        def predict(model, x, batch_size):
            self.now += 0.5 * -(-len(x) // batch_size)
            return real(model, x, batch_size)

        return predict


def test_epoch_times_on_a_controlled_clock(monkeypatch):
    clock = AdvanceClock()
    monkeypatch.setattr(EpochRecorder, "clock", staticmethod(clock))
    monkeypatch.setattr(prediction, "predict", clock.predicting(prediction.predict))
    settings = Settings(models=["simple_cnn"], batch_size=32, epochs_scratch=4, patience=10)
    dataset = load_dataset("digits")
    splits = make_splits(dataset, 0.2, seed=0, limit=80)  # 64 train images: 2 batches of 32
    assert len(splits.x_train) == 64
    val_batches = -(-len(splits.x_val) // 32)
    keras.utils.set_random_seed(0)
    classifier = build_classifier(
        registry.get("simple_cnn"), (32, 32, 3), 10, image_size=32, weights="none"
    )
    result = run_phase(classifier, "scratch", splits, settings, SilentReporter(), callbacks=[clock])

    assert result.epoch_seconds == [6.0, 2.0, 2.0, 2.0]  # validation kept out
    assert [e["val_time_s"] for e in result.epochs] == [0.5 * val_batches] * 4
    assert result.train_time_s == 12.0 + 4 * 0.5 * val_batches  # the whole of fit

    tables = {table: [] for table in schema.FILES}
    base = {"run_id": "x", "train_size": len(splits.x_train), "gmacs": 0.0077}
    add_phase_rows(tables, base, result, settings, dataset.class_names)
    row = tables["runs"][0]
    assert row["time_per_epoch_s"] == 2.0  # median of the epochs after the first
    assert row["first_epoch_s"] == 6.0
    assert row["train_images_per_s"] == 64 / 2.0
    assert row["infer_batch_size"] == 32 and row["infer_images_per_s"] > 0
    assert row["params_total"] == classifier.model.count_params()


class StepAndWait(keras.callbacks.Callback):
    """A controlled clock: each training step takes 0.75 s and fetching the next batch 0.25 s
    (the recorder reads the clock before this callback moves it, at both hooks)."""

    def __init__(self):
        super().__init__()
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def on_train_batch_begin(self, batch, logs=None):
        self.now += 0.75

    def on_train_batch_end(self, batch, logs=None):
        self.now += 0.25


def test_data_wait_share_on_a_controlled_clock(monkeypatch):
    clock = StepAndWait()
    monkeypatch.setattr(EpochRecorder, "clock", staticmethod(clock))
    settings = Settings(models=["simple_cnn"], batch_size=32, epochs_scratch=3, patience=10)
    splits = make_splits(load_dataset("digits"), 0.2, seed=0, limit=80)  # 2 batches per epoch
    keras.utils.set_random_seed(0)
    classifier = build_classifier(
        registry.get("simple_cnn"), (32, 32, 3), 10, image_size=32, weights="none"
    )
    result = run_phase(classifier, "scratch", splits, settings, SilentReporter(), callbacks=[clock])
    # Per epoch: steps 2 x 0.75 s, one wait of 0.25 s between them, and 0.25 s after the last.
    assert result.epoch_seconds == [2.0, 2.0, 2.0]
    assert [e["data_wait_s"] for e in result.epochs] == [0.25] * 3
    assert result.data_wait_share == 0.25 / 2.0


def test_gpu_memory_is_empty_on_a_cpu_and_host_memory_is_positive():
    if gpu.backend_gpu() is not None:
        pytest.skip("a GPU is present")
    with memory.PhaseMemory() as measured:
        np.ones(10**6)
    assert measured.peak_gpu_mem_mb is None and measured.peak_gpu_mem_nvml_mb is None
    assert measured.peak_host_rss_mb > 0


@pytest.mark.skipif(not memory.reset_host_peak(), reason="needs Linux /proc/self/clear_refs")
def test_host_peak_is_reset_between_phases():
    with memory.PhaseMemory() as big:
        block = np.ones(300 * 2**20, dtype=np.uint8)  # 300 MiB, touched
        del block
    with memory.PhaseMemory() as small:
        pass
    assert big.peak_host_rss_mb - small.peak_host_rss_mb > 250


def test_nvml_sampler_keeps_the_peak(monkeypatch):
    """NVML cannot be exercised on a CPU; a stand-in driver checks the sampler's logic."""
    readings = itertools.chain([100, 900, 300], itertools.repeat(200))
    fake = types.SimpleNamespace(
        nvmlDeviceGetHandleByIndex=lambda i: i,
        nvmlDeviceGetMemoryInfo=lambda h: types.SimpleNamespace(used=next(readings) * 2**20),
    )
    monkeypatch.setattr(gpu, "nvml", lambda: fake)
    sampler = memory.NvmlSampler(interval_s=0.001)
    sampler.start()
    deadline = time.monotonic() + 30
    while (sampler.peak_bytes or 0) < 900 * 2**20 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert sampler.stop() == 900.0  # later, lower readings do not lower the peak
