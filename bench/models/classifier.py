"""Builds the classifier of the protocol (docs/protocol.md) around a registry entry.

uint8 image -> float -> augmentation (training only, at the stored size) -> Resizing(image_size)
-> the backbone's own preprocess_input -> backbone(training=False) -> GlobalAveragePooling ->
Dropout -> logits.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import keras
from keras import layers

from bench.common.paths import keras_home
from bench.errors import BenchError
from bench.models.augmentation import FlipShift
from bench.models.layers import Backbone, Preprocess, ToFloat
from bench.models.spec import ModelSpec


@dataclass
class Classifier:
    model: keras.Model
    backbone: keras.Model  # the part the phases freeze and unfreeze (the whole net for baselines)
    image_size: int  # the size the backbone actually sees
    transfer: bool  # True: pretrained backbone, BatchNormalization held in inference mode


def input_size(spec: ModelSpec, image_size: int) -> int:
    """The size a model runs at: baselines keep the size they are defined at."""
    size = spec.native_size or image_size
    if size < spec.min_size:
        raise BenchError(
            f"{spec.name} needs images of at least {spec.min_size}x{spec.min_size}"
            f" (image_size={size})"
        )
    return size


def is_transfer(spec: ModelSpec, weights: str) -> bool:
    """Transfer learning: a pretrained architecture given weights (imagenet or a file)."""
    return spec.pretrained and weights != "none"


def build_classifier(
    spec: ModelSpec,
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    image_size: int,
    weights: str,
    augment: bool = True,
    augment_shift: float = 0.1,
    dropout: float = 0.2,
    seed: int = 0,
) -> Classifier:
    size = input_size(spec, image_size)
    inputs = keras.Input(input_shape, dtype="uint8", name="image")
    x = ToFloat(name="to_float")(inputs)
    if augment:  # before resizing: the same shift fraction, on fewer pixels
        x = FlipShift(augment_shift, seed=seed, name="augment")(x)
    x = layers.Resizing(size, size, name="resize")(x)

    if not spec.pretrained:
        net = spec.build((size, size, 3), num_classes)
        return Classifier(keras.Model(inputs, net(x), name=spec.name), net, size, False)

    transfer = is_transfer(spec, weights)
    if spec.module is not None:
        x = Preprocess(spec.module, name="preprocess")(x)
    backbone = load_backbone(spec, size, weights)
    # Transfer learning keeps the backbone (BatchNormalization, dropout) in inference mode in
    # every phase; from scratch BN must learn its statistics, so it follows the phase.
    x = Backbone(backbone, inference=transfer, name="backbone")(x)
    # "pool" names the pooled features (frozen_mode=features caches them); a source whose
    # backbone pools as its own classifier does gives them as they are.
    pool = layers.Identity if spec.pooled else layers.GlobalAveragePooling2D
    x = pool(name="pool")(x)
    x = layers.Dropout(dropout, seed=seed, name="dropout")(x)
    outputs = layers.Dense(num_classes, dtype="float32", name="logits")(x)
    # TensorFlow takes a model's name as a name scope: "hub:vit_base" would not do as one.
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", spec.name)
    return Classifier(keras.Model(inputs, outputs, name=name), backbone, size, transfer)


def check_weights_file(path: str) -> None:
    """A weights file must exist and be a Keras weights file (HDF5, or a .keras zip archive)."""
    import h5py

    file = Path(path)
    if not file.is_file():
        raise BenchError(f"weights file not found: {path}")
    try:
        readable = h5py.is_hdf5(file) or zipfile.is_zipfile(file)
    except OSError as err:
        raise BenchError(f"cannot read weights file {path}: {err.strerror}") from None
    if not readable:
        raise BenchError(f"{path} is not a Keras weights file (an HDF5 .h5 or a .keras archive)")


# Keras's warning when a weights file lacks part of the model: those layers keep random weights.
PARTIAL_LOAD = ("freshly-initialized", "Skipping nested container", "Skipping variable loading")


def load_backbone(spec: ModelSpec, size: int, weights: str) -> keras.Model:
    """The backbone without its ImageNet head, with the weights asked for, all of them: a file
    that fits only part of the backbone is an error, not a warning."""
    source = {"imagenet": "imagenet", "none": None}.get(weights, weights)
    if source not in ("imagenet", None):
        check_weights_file(source)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            backbone = spec.build(include_top=False, weights=source, input_shape=(size, size, 3))
        except BenchError:
            raise
        except Exception as err:  # Keras raises bare Exception/ValueError for these
            raise BenchError(_weights_error(spec, source, size, err)) from err
    partial = [w for w in caught if any(p in str(w.message) for p in PARTIAL_LOAD)]
    if partial:
        text = " ".join(str(partial[0].message).split())
        raise BenchError(f"weights {source} fit only part of {spec.name}: {text}")
    for w in caught:  # the others (e.g. which weights size Keras chose) still reach the user
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return backbone


def _weights_error(spec: ModelSpec, source: str | None, size: int, err: Exception) -> str:
    text = " ".join(str(err).split())
    url = re.search(r"https?://\S+?\.h5", text)
    if source == "imagenet" and ("URL fetch failure" in text or url):
        cache = keras_home() / "models"
        name = url.group(0).rsplit("/", 1)[-1] if url else "the weights file"
        return (
            f"cannot download ImageNet weights for {spec.name} (offline?): put {name} in"
            f" {cache}/, or use --weights none or --weights PATH"
        )
    if source == "imagenet":
        return f"{spec.name} has no ImageNet weights at {size}x{size}: {text}"
    if source is None:
        return f"cannot build {spec.name} at {size}x{size}: {text}"
    return f"cannot load weights {source} into {spec.name} at {size}x{size}: {text}"
