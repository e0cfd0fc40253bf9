"""Builds a KerasHub preset's backbone as bench runs it, in the run's own process: its image
converter (scale, offset, and resizing to the size the backbone takes) -> the backbone ->
pooling as KerasHub's own image classifier pools it. One `keras.Model`, which bench freezes,
fine-tunes and counts as it does a `keras.applications` backbone.

Pooling: the preset's classifier task says how (`task.json`'s `pooling`: `avg`, `max`, `token`,
`gap`) where it has one; otherwise the class token for the ViTs (ViT, DeiT, DINOv2, DINOv3),
as their classifiers default to, and the global average of the last feature map or of the
tokens (Swin) for every other backbone.
"""

from __future__ import annotations

import inspect
import logging
import os
from pathlib import Path

import keras

from bench.errors import BenchError

log = logging.getLogger("bench")

# Backbones defined at one input size (position embeddings, Swin's attention windows): they
# keep their own, and the converter resizes the run's images to it. Every other backbone is
# built at the run's size (CNNs take any; DINOv2 and DINOv3 interpolate their embeddings).
FIXED_SIZE = ("ViTBackbone", "DeiTBackbone", "SwinTransformerBackbone")
CLASS_TOKEN = ("ViTBackbone", "DeiTBackbone", "DINOV2Backbone", "DINOV3Backbone")
POOLINGS = ("avg", "max", "token", "gap")


class HubBackbone:
    """`spec.build` of a KerasHub preset: a picklable callable (a run's process gets it)."""

    def __init__(self, handle: str):
        self.handle = handle

    def __repr__(self) -> str:
        return f"HubBackbone({self.handle!r})"

    def __call__(self, include_top=False, weights="imagenet", input_shape=(224, 224, 3)):
        """`weights`: "imagenet" (the preset's own pretrained weights), None (its architecture
        from random initialization) or the path of a weights file of this whole model."""
        from keras_hub.src.utils import preset_utils

        loader = fetch(self.handle)
        cls = loader.check_backbone_class()
        backbone = cls.from_preset(
            self.handle, load_weights=weights == "imagenet", **_size_argument(cls, input_shape)
        )
        size = tuple(backbone.input.shape[1:3])
        if None in size:
            size = tuple(input_shape[:2])
        elif size != tuple(input_shape[:2]):
            log.warning("%s runs at its own %dx%d: images are resized to it", self.handle, *size)
        converter = _converter(self.handle, size)
        task = _task_config(self.handle, preset_utils)
        model = assemble(backbone, converter, pooling(cls.__name__, task), input_shape)
        if weights not in ("imagenet", None):
            model.load_weights(weights)
        return model


def fetch(handle: str):
    """The preset's loader (its config.json fetched and cached), or a BenchError naming the
    handle and the folder that would cache it."""
    from keras_hub.src.utils.preset_utils import get_preset_loader

    try:
        return get_preset_loader(handle)
    except Exception as err:  # noqa: BLE001 - KerasHub and its fetchers raise many kinds
        text = f"{type(err).__name__}: {' '.join(str(err).split())}"
        text = text if len(text) <= 200 else text[:200] + "..."
        if Path(handle).is_dir():
            raise BenchError(f"cannot read KerasHub preset {handle}: {text}") from err
        raise BenchError(
            f"cannot fetch KerasHub preset {handle}, which would be cached in "
            f"{cache_folder(handle)} (offline?): {text}"
        ) from err


def cache_folder(handle: str) -> str:
    """Where KerasHub's fetchers keep a preset: kagglehub's cache for KerasHub's own presets
    and kaggle:// handles, Hugging Face's for hf:// ones."""
    if handle.lower().startswith("hf://"):
        from huggingface_hub import constants

        repo = handle.split("://", 1)[1].strip("/")
        return os.path.join(constants.HF_HUB_CACHE, "models--" + repo.replace("/", "--"))
    if "://" in handle and not handle.lower().startswith("kaggle://"):
        return "the cache of its scheme's fetcher"
    from keras_hub.src.utils.preset_utils import BUILTIN_PRESETS

    kaggle = BUILTIN_PRESETS.get(handle, {}).get("kaggle_handle", handle)
    return _kagglehub_path(kaggle.split("://", 1)[-1])


def _kagglehub_path(handle: str) -> str:
    from kagglehub import cache, config

    try:
        from kagglehub.handle import parse_model_handle

        parsed = parse_model_handle(handle)
        path = cache.get_cached_path(parsed)
        return path if parsed.version is not None else os.path.dirname(path)  # its versions
    except Exception:  # noqa: BLE001 - an odd handle: the cache's root says enough
        return os.path.join(config.get_cache_folder(), "models", handle)


def _size_argument(cls: type, input_shape: tuple) -> dict:
    """Build the backbone at the run's size (fixed input shapes let bench count its MACs),
    unless it is defined at one size of its own."""
    if cls.__name__ in FIXED_SIZE:
        return {}
    parameters = inspect.signature(cls.__init__).parameters
    for name in ("image_shape", "input_shape"):  # EfficientNet calls it input_shape
        if name in parameters:
            return {name: tuple(input_shape)}
    return {}


def _converter(handle: str, size: tuple) -> keras.Layer:
    from keras_hub.layers import ImageConverter

    try:
        return ImageConverter.from_preset(handle, image_size=size)
    except (FileNotFoundError, ValueError) as err:
        raise BenchError(
            f"KerasHub preset {handle} has no image converter, so its preprocessing is unknown: "
            f"{' '.join(str(err).split())[:200]}"
        ) from err


def _task_config(handle: str, preset_utils) -> dict:
    """The preset's classifier task config (what pooling it uses), or {} if it has none."""
    if not preset_utils.check_file_exists(handle, preset_utils.TASK_CONFIG_FILE):
        return {}
    return preset_utils.load_json(handle, preset_utils.TASK_CONFIG_FILE).get("config", {})


def pooling(backbone_class: str, task: dict) -> str:
    """How KerasHub's classifier pools this backbone (module docstring)."""
    chosen = task.get("pooling") or task.get("global_pool")
    if chosen in POOLINGS:
        return chosen
    return "token" if backbone_class in CLASS_TOKEN else "avg"


def assemble(backbone, converter, mode: str, input_shape: tuple) -> keras.Model:
    inputs = keras.Input(input_shape, name="images")
    features = backbone(converter(inputs))
    if isinstance(features, dict):  # feature maps by stage (HGNetV2): the last stage's
        stages = getattr(backbone, "stage_names", None) or list(features)
        features = features[stages[-1]]
    pooled = PoolFeatures(mode, name=f"pool_{mode}")(features)
    model = keras.Model(inputs, pooled, name="kerashub_backbone")
    # What fine-tuning unfreezes the top of (bench.training.phases.unfrozen_layers): the
    # backbone's layers, not this model's one nested backbone. Set past Keras's attribute
    # tracking, which would count these layers twice.
    object.__setattr__(model, "fine_tune_layers", tuple(weighted_layers(backbone)))
    return model


def weighted_layers(layer: keras.Layer) -> list[keras.Layer]:
    """The layers with weights that `layer` is made of, in order: itself, or, where all its
    weights belong to its sublayers (a nested model, a transformer's encoder and its blocks),
    theirs, opened up in turn. Unfreezing a ViT's encoder whole would fine-tune every block."""
    parts = (
        layer.layers
        if isinstance(layer, keras.Model)
        else layer._flatten_layers(include_self=False, recursive=False)
    )
    parts = [part for part in parts if part.weights]
    inside = {id(w) for part in parts for w in part.weights}
    if not parts or any(id(w) not in inside for w in layer.weights):  # weights of its own
        return [layer] if layer.weights else []
    return [leaf for part in parts for leaf in weighted_layers(part)]


@keras.saving.register_keras_serializable(package="bench")
class PoolFeatures(keras.layers.Layer):
    """A feature map or a sequence of tokens to one vector: `token` takes the first token
    (the class token), `max` the maximum, `avg` and `gap` the mean over every axis between the
    batch and the channels (space, or tokens)."""

    def __init__(self, mode: str, **kwargs):
        super().__init__(**kwargs)
        self.mode = mode

    def call(self, inputs):
        if self.mode == "token" and len(inputs.shape) == 3:
            return inputs[:, 0]
        axes = list(range(1, len(inputs.shape) - 1))
        if not axes:
            return inputs
        if self.mode == "max":
            return keras.ops.max(inputs, axis=axes)
        return keras.ops.mean(inputs, axis=axes)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
