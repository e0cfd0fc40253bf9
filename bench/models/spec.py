"""What bench knows of a model: how to build it, how to feed it, where it came from. Every
source of models (`keras.applications`, the baselines, KerasHub presets, a user's file) makes
these, and everything after the registry reads only these."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import keras


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the registry: how to build a model and how to feed it."""

    name: str
    family: str
    build: Callable[..., keras.Model]
    # caffe | tf | torch | lite | built-in | unknown (a module bench does not know), or a
    # source's own description (a KerasHub preset's converter, a user file's function)
    preprocessing: str
    module: str | None  # module whose preprocess_input applies (short: keras.applications.NAME)
    default_size: int
    min_size: int = 32
    imagenet_top1: float | None = None
    pretrained: bool = True  # False: a from-scratch baseline with no ImageNet weights
    native_size: int | None = None  # baselines defined at one input size always run at it
    unknown: str | None = None  # what bench does not know of a backbone from a new module
    # Where the model came from, recorded in every row: keras.applications, baseline, or the
    # source's prefix and handle (kerashub:..., file:...).
    source: str = "keras.applications"
    pooled: bool = False  # the backbone's output is already pooled features (a vector)

    def preprocess_input(self) -> Callable | None:
        """The module's own preprocess_input, or None where the model rescales by itself."""
        if self.module is None:
            return None
        return preprocess_function(self.module)


def preprocess_function(module: str) -> Callable:
    """`preprocess_input` of a `keras.applications` module (short name) or of any module."""
    path = module if "." in module else f"keras.applications.{module}"
    return importlib.import_module(path).preprocess_input
