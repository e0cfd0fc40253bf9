"""Data sets, as a table: a name and the function that loads it.

`load_dataset("cifar10" | "cifar100" | "digits" | "folder:PATH" | "tfds:NAME", settings)`
returns a `Dataset`; `bench.data.splits` carves the validation split from its training images,
unless the data set brings a validation split of its own (a folder's `val/`). Images are views
(`images`): rows of an array, or of a memory-mapped file of the decoded image cache (`cache`),
which worker processes fill straight from the image files (`decoding`), so memory does not
grow with the data set. Also here: the suite's data set as every run's process maps it
(`shared_memory`), and the common corruptions of test images that the robustness measurement
applies (`corruptions`; adding one is a function and a line there).

May import: `bench.common`, `bench.errors`, `bench.settings`.

Adding a data set is one loader, `load(*, argument, settings) -> Dataset`, and one line in
`DATASETS` (with a cheap `check` if it can fail before loading): the `--dataset` help, the
error for an unknown name and the reference's list all come from this table. A loader that
reads many images streams them into the cache: `cache.cached_images(key, make)`.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Protocol

from bench.data import cifar, digits, folder, tfds
from bench.data.dataset import Dataset, as_dataset
from bench.errors import BenchError, did_you_mean
from bench.settings import Settings

__all__ = ["DATASETS", "DataSource", "Dataset", "as_dataset", "dataset_help", "load_dataset"]


class Loader(Protocol):
    def __call__(self, *, argument: str | None, settings: Settings) -> Dataset:
        """`argument`: what follows the name's colon (folder:PATH), else None."""


class Check(Protocol):
    def __call__(self, *, argument: str | None, settings: Settings) -> None:
        """Raise BenchError if the data set cannot load; cheap: nothing decoded or fetched."""


@dataclass(frozen=True)
class DataSource:
    load: Loader
    description: str  # one line, for --dataset help and the reference
    argument: str | None = None  # "PATH": the data set is named NAME:PATH
    check: Check | None = None  # run for every data set of a suite before anything is written


DATASETS: dict[str, DataSource] = {
    "cifar10": DataSource(
        functools.partial(cifar.load, "cifar10"),
        "CIFAR-10: 50,000 training and 10,000 test images, 32x32, 10 classes; downloaded once "
        "through `keras.datasets`, or read from the archive in the Keras cache or `data_dir`",
    ),
    "cifar100": DataSource(
        functools.partial(cifar.load, "cifar100"),
        "CIFAR-100: as CIFAR-10, with 100 classes",
    ),
    "digits": DataSource(
        digits.load,
        "scikit-learn's 1,797 handwritten digits, 8x8 scaled to 32x32, 10 classes; built in, no "
        "download (the embedded default of the smoke suite and the tests)",
    ),
    "folder": DataSource(
        folder.load,
        "your images: one folder per class under PATH, or `train/`, `val/` and `test/` folders "
        "of class folders",
        argument="PATH",
        check=folder.check,
    ),
    "tfds": DataSource(
        tfds.load,
        "a TensorFlow Datasets image classification set by TFDS's name, config and version "
        "(`tfds:oxford_flowers102`, `tfds:eurosat/rgb`), with its own splits; `data_dir` is "
        "TFDS's data folder (the `tfds` extra)",
        argument="NAME",
        check=tfds.check,
    ),
}


def dataset_names() -> list[str]:
    return [f"{name}:{s.argument}" if s.argument else name for name, s in DATASETS.items()]


def dataset_help() -> str:
    return ", ".join(dataset_names())


def source_of(name: str) -> tuple[DataSource, str | None]:
    """The source of the data set `name` and its argument (folder:PATH's PATH); an unknown
    name is a one-line error with the closest one."""
    key, colon, argument = name.partition(":")
    source = DATASETS.get(key)
    if source is None or bool(colon) != bool(source.argument) or (colon and not argument):
        hint = did_you_mean(key, DATASETS)
        hint = f"{hint} " if hint else ""
        raise BenchError(f"unknown data set '{name}'; {hint}(choose from: {dataset_help()})")
    return source, argument or None


def check_dataset(name: str, settings: Settings) -> None:
    """What can be known of `name` without loading it: a known source, and what its check
    finds (a folder that exists, TFDS installed and the name known to it)."""
    source, argument = source_of(name)
    if source.check:
        source.check(argument=argument, settings=settings)


def load_dataset(name: str, settings: Settings | None = None, **overrides) -> Dataset:
    """Load a data set by name, with the data settings of `settings` (default: the built-in
    ones) and `overrides`. Raises BenchError with what to do when it is not available."""
    source, argument = source_of(name)
    settings = dataclasses.replace(settings or Settings(), **overrides)
    return source.load(argument=argument, settings=settings)


def corruption_names(asked: list[str]) -> list[str]:
    """The `corruptions` setting's names, `all` spelt out (so the settings hash names them),
    each checked: an unknown one is a one-line error with a suggestion."""
    from bench.data.corruptions import CORRUPTIONS

    names = list(CORRUPTIONS) if "all" in asked else list(dict.fromkeys(asked))
    for name in names:
        if name not in CORRUPTIONS:
            hint = did_you_mean(name, CORRUPTIONS) or f"one of all, {', '.join(CORRUPTIONS)}"
            raise BenchError(f"invalid setting corruptions: unknown corruption {name!r}; {hint}")
    return names


def corruption_help() -> str:
    from bench.data.corruptions import CORRUPTIONS

    return ", ".join(CORRUPTIONS)
