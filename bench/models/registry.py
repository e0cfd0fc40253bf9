"""The registry of models: every `keras.applications` backbone, plus from-scratch baselines.

Backbones are discovered from `keras.applications` itself (as timm discovers its registered
models), so a Keras upgrade that adds a constructor shows up here and in `bench list` at once;
the tables below only add what Keras does not expose: the input size its weights were trained
at, its published ImageNet top-1, and the family's preprocessing mode, which a test checks
against each module's own `preprocess_input`.

A future Keras cannot break this: what is not an image backbone (a constructor without
`include_top` and `input_shape`, such as `keras.applications.LPIPS`, a perceptual-similarity
network) is left out, and a backbone from a module these tables do not know is still usable,
with its module's own `preprocess_input`, and a one-line warning when it is chosen that says
what bench does not know about it.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable, Iterable

import keras

from bench.errors import BenchError, did_you_mean
from bench.models import baselines, efficientnet_lite, hub
from bench.models.spec import ModelSpec

__all__ = ["FAMILIES", "GROUPS", "REGISTRY", "SOURCES", "ModelSpec", "discover", "get", "select"]

log = logging.getLogger("bench")

# How each `keras.applications` module's preprocess_input transforms raw 0-255 RGB.
# "built-in": the model rescales inside itself and preprocess_input is a pass-through.
PREPROCESSING = {
    "vgg16": "caffe",
    "vgg19": "caffe",
    "resnet": "caffe",
    "resnet_v2": "tf",
    "inception_v3": "tf",
    "inception_resnet_v2": "tf",
    "xception": "tf",
    "mobilenet": "tf",
    "mobilenet_v2": "tf",
    "nasnet": "tf",
    "densenet": "torch",
    "efficientnet": "built-in",
    "efficientnet_v2": "built-in",
    "mobilenet_v3": "built-in",
    "convnext": "built-in",
    "regnet": "built-in",
}

# Input size the ImageNet weights were trained at, where it is not 224 (Keras documentation).
DEFAULT_SIZE = {
    "Xception": 299,
    "InceptionV3": 299,
    "InceptionResNetV2": 299,
    "NASNetLarge": 331,
    "EfficientNetB1": 240,
    "EfficientNetB2": 260,
    "EfficientNetB3": 300,
    "EfficientNetB4": 380,
    "EfficientNetB5": 456,
    "EfficientNetB6": 528,
    "EfficientNetB7": 600,
    "EfficientNetV2B1": 240,
    "EfficientNetV2B2": 260,
    "EfficientNetV2B3": 300,
    "EfficientNetV2S": 384,
    "EfficientNetV2M": 480,
    "EfficientNetV2L": 480,
}

# Smallest input the constructor accepts, where it is not 32 (keras obtain_input_shape).
MIN_SIZE = {"Xception": 71, "InceptionV3": 75, "InceptionResNetV2": 75}

# ImageNet top-1 (%) from the Keras Applications table; absent where the table gives none.
IMAGENET_TOP1 = {
    "Xception": 79.0,
    "VGG16": 71.3,
    "VGG19": 71.3,
    "ResNet50": 74.9,
    "ResNet50V2": 76.0,
    "ResNet101": 76.4,
    "ResNet101V2": 77.2,
    "ResNet152": 76.6,
    "ResNet152V2": 78.0,
    "InceptionV3": 77.9,
    "InceptionResNetV2": 80.3,
    "MobileNet": 70.4,
    "MobileNetV2": 71.3,
    "DenseNet121": 75.0,
    "DenseNet169": 76.2,
    "DenseNet201": 77.3,
    "NASNetMobile": 74.4,
    "NASNetLarge": 82.5,
    "EfficientNetB0": 77.1,
    "EfficientNetB1": 79.1,
    "EfficientNetB2": 80.1,
    "EfficientNetB3": 81.6,
    "EfficientNetB4": 82.9,
    "EfficientNetB5": 83.6,
    "EfficientNetB6": 84.0,
    "EfficientNetB7": 84.3,
    "EfficientNetV2B0": 78.7,
    "EfficientNetV2B1": 79.8,
    "EfficientNetV2B2": 80.5,
    "EfficientNetV2B3": 82.0,
    "EfficientNetV2S": 83.9,
    "EfficientNetV2M": 85.3,
    "EfficientNetV2L": 85.7,
    "ConvNeXtTiny": 81.3,
    "ConvNeXtSmall": 82.3,
    "ConvNeXtBase": 85.3,
    "ConvNeXtLarge": 86.3,
    "ConvNeXtXLarge": 86.7,
}


def is_backbone(constructor: Callable) -> bool:
    """An image backbone's constructor takes `include_top` and `input_shape`, as every
    `keras.applications` classifier does; anything else there is not one (LPIPS, say)."""
    try:
        parameters = inspect.signature(constructor).parameters
    except (TypeError, ValueError):
        return False
    return {"include_top", "input_shape"} <= set(parameters)


def _family(module: str) -> str:
    return "vgg" if module.startswith("vgg") else module


def _discover_backbones() -> dict[str, ModelSpec]:
    specs = {}
    for name, ctor in vars(keras.applications).items():
        if not (callable(ctor) and name[:1].isupper() and is_backbone(ctor)):
            continue
        module = ctor.__module__.rsplit(".", 1)[-1]  # keras.src.applications.resnet -> resnet
        if module in PREPROCESSING:
            specs[name] = ModelSpec(
                name=name,
                family=_family(module),
                build=ctor,
                preprocessing=PREPROCESSING[module],
                module=module,
                default_size=DEFAULT_SIZE.get(name, 224),
                min_size=MIN_SIZE.get(name, 32),
                imagenet_top1=IMAGENET_TOP1.get(name),
            )
        else:
            specs[name] = _unknown_backbone(name, ctor, module)
    return specs


def _unknown_backbone(name: str, ctor: Callable, module: str) -> ModelSpec:
    """A backbone from a module the tables above do not know: its module's own
    preprocess_input if it has one (else none: the model must rescale by itself), input size
    224, no published top-1."""
    own = hasattr(importlib.import_module(ctor.__module__), "preprocess_input")
    preprocessing = "its module's preprocess_input" if own else "none"
    return ModelSpec(
        name=name,
        family=module,
        build=ctor,
        preprocessing="unknown",
        module=ctor.__module__ if own else None,
        default_size=DEFAULT_SIZE.get(name, 224),
        unknown=(
            f"keras.applications.{name} comes from module {ctor.__module__}, which bench does "
            f"not know: preprocessing {preprocessing} (mode unchecked), input size 224 assumed, "
            "no ImageNet top-1"
        ),
    )


def _baselines() -> dict[str, ModelSpec]:
    return {
        name: ModelSpec(
            name=name,
            family="baseline",
            build=build,
            preprocessing="built-in",
            module=None,
            default_size=native_size or 224,
            pretrained=False,
            native_size=native_size,
            source="baseline",
        )
        for name, (build, native_size) in baselines.BASELINES.items()
    }


def _key(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


REGISTRY: dict[str, ModelSpec] = {}
_BY_KEY: dict[str, ModelSpec] = {}
FAMILIES: list[str] = []


def discover() -> None:
    """(Re)build the registry from `keras.applications` as it is now, in place."""
    REGISTRY.clear()
    # EfficientNetLite0: bench's own Keras build, with ImageNet weights ported from PyTorch.
    REGISTRY.update({**_discover_backbones(), **efficientnet_lite.specs(), **_baselines()})
    _BY_KEY.clear()
    _BY_KEY.update({_key(n): s for n, s in REGISTRY.items()})
    FAMILIES[:] = sorted({s.family for s in REGISTRY.values()})


discover()


# Sources of models beyond the registry's tables, each a function from a name to its ModelSpec,
# or None when the name is not one of its own (a prefix such as `hub:`). A run's process gets
# its spec by the same name, so a source's `build` must survive pickling (no closures).
SOURCES: list[Callable[[str], ModelSpec | None]] = []
# Groups of a source's models (`hub:all`, `hub:family:resnet`): each a function from a pattern
# to its specs, or None when the pattern is not one of its own.
GROUPS: list[Callable[[str], list[ModelSpec] | None]] = []


def get(name: str) -> ModelSpec:
    """A model by name: a source's (`SOURCES`), else the registry's, ignoring case, '-' and
    '_'; suggest the closest on a miss."""
    for source in SOURCES:
        found = source(name)
        if found is not None:
            return found
    spec = _BY_KEY.get(_key(name))
    if spec is None:
        hint = did_you_mean(name, REGISTRY, n=3, key=_key) or "`bench list` shows every model"
        raise BenchError(f"unknown model '{name}'; {hint}")
    return spec


def select(patterns: Iterable[str]) -> list[ModelSpec]:
    """Resolve `all`, `family:NAME` and model names, in order, without duplicates."""
    chosen: dict[str, ModelSpec] = {}
    for pattern in (p.strip() for p in patterns):
        if not pattern:
            continue
        if pattern.lower() == "all":
            found = list(REGISTRY.values())
        elif pattern.lower().startswith("family:"):
            family = pattern.split(":", 1)[1].lower()
            found = [s for s in REGISTRY.values() if s.family == family]
            if not found:
                hint = did_you_mean(family, FAMILIES, n=3) or f"families: {', '.join(FAMILIES)}"
                raise BenchError(f"unknown family '{family}'; {hint}")
        else:
            found = _group(pattern) or [get(pattern)]
        for spec in found:
            same = chosen.get(spec.name)
            if same is not None and same.source != spec.source:  # one name, two models
                raise BenchError(
                    f"two models named {spec.name}: from {same.source} and {spec.source}; "
                    "rename one (a table cannot tell them apart)"
                )
            chosen[spec.name] = spec
    if not chosen:
        raise BenchError(
            "no models chosen: give --models (e.g. all, family:resnet, ResNet50) or --suite"
        )
    for spec in chosen.values():
        if spec.unknown:
            log.warning(spec.unknown)
    return list(chosen.values())


def _group(pattern: str) -> list[ModelSpec] | None:
    for group in GROUPS:
        found = group(pattern)
        if found is not None:
            return found
    return None


def _user_models(name: str) -> ModelSpec | None:
    from bench.models.user import user_spec  # a user's file is loaded only when named

    spec = user_spec(name)
    if spec is not None and _key(spec.name) in _BY_KEY:  # two rows of one name in a table
        raise BenchError(f"{name}: {spec.name} is the name of a registry model; rename it")
    return spec


SOURCES.append(_user_models)


# KerasHub presets, first: `hub:name` would also read as a module's function. KerasHub itself
# is imported only when a hub: name is given.
SOURCES.insert(0, hub.hub_spec)
GROUPS.append(hub.hub_group)
