"""TensorFlow Datasets by name: `tfds:NAME`, with a config and a version as TFDS spells them
(`tfds:eurosat/rgb`, `tfds:cifar10:3.0.2`). Any data set with an image and a class label.

Splits: TFDS's `train` is train, its `validation` (or `val`) the validation split (instead of
the one carved from train), its `test` the test split; a data set without `test` has one
carved from train (`test_fraction`, `split_seed`). `data_dir` is TFDS's data folder (default
TFDS's own, `~/tensorflow_datasets`). A data set not prepared there is downloaded and prepared
by TFDS when online; offline, or when it must be downloaded by hand, the run stops with one
line saying what to put where.

Each split is read as chunks of uint8 RGB images at one size (`storage_size`; 0 keeps the
native size of a data set whose images all have one, else 224, as for a folder), streamed into
the decoded cache the first time (`assemble`), and read back as views of it, as a folder is.
TensorFlow Datasets is an optional extra: pip install -e '.[tfds]'.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from bench.common.hashing import stable_hash
from bench.data.cache import cached_images, filler_of
from bench.data.cifar import reachable
from bench.data.dataset import Dataset, as_dataset
from bench.data.decoding import FALLBACK_SIZE  # the size a folder's differing images get
from bench.data.images import take
from bench.data.splits import stratified_split
from bench.errors import BenchError, did_you_mean, shorten
from bench.settings import Settings

log = logging.getLogger("bench")

INSTALL = "tfds: data sets need TensorFlow Datasets: pip install -e '.[tfds]'"
CHUNK = 256  # images per chunk: what is held at once before the chunk is stored
VALIDATION_NAMES = ("validation", "val")

Chunk = tuple[np.ndarray, np.ndarray]  # uint8 images (n, H, W, 3), int32 labels (n,)
# A split: how many images, their shape, and what reads its chunks (as bench.data.cache takes)
Made = tuple[int, tuple[int, int, int], Callable[[], Iterator[Chunk]]]


def _import_tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise BenchError(INSTALL) from None
    return tfds


def open_builder(tfds, name: str, data_dir: str | None):
    """TFDS's builder of `name` (NAME/CONFIG:VERSION); a wrong name, config or version is a
    one-line error, with the closest name TFDS knows."""
    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        base = name.split("/")[0].split(":")[0]
        known = tfds.list_builders(with_community_datasets=False)  # local: no network
        hint = did_you_mean(base, known) or (
            "list them with: python -c 'import tensorflow_datasets as tfds; "
            "print(tfds.list_builders())'"
        )
        raise BenchError(f"tfds: unknown data set '{name}'; {hint}") from None
    except (ValueError, AssertionError) as err:  # an unknown config or version
        raise BenchError(f"tfds: cannot open '{name}': {_reason(err)}") from None


def _reason(err: BaseException) -> str:
    """TFDS's message without its "Failed to construct dataset ..." prefix and its lists."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    text = text.split('": ', 1)[-1] if text.startswith("Failed to construct") else text
    return shorten(text.split(". Here are")[0], 200)


def prepare(tfds, builder, name: str, data_dir: str | None) -> None:
    """Make sure `builder`'s data is in its data folder: download and prepare it when it can
    be (online, nothing to download by hand), else a one-line error saying what to do."""
    absl = logging.getLogger("absl")  # TFDS warns of a missing folder: the error says more
    level = absl.level
    absl.setLevel(logging.ERROR)
    try:
        if builder.is_prepared():
            return
    finally:
        absl.setLevel(level)
    root = str(getattr(builder, "_data_dir_root", None) or data_dir or "~/tensorflow_datasets")
    command = (
        'python -c "import tensorflow_datasets as tfds; '
        f"tfds.builder('{name}', data_dir='{root}').download_and_prepare()\""
    )
    todo = (
        f"online, run {command} (it writes {builder.data_dir}), or pass --data-dir DIR where it is"
    )
    manual = " ".join((builder.MANUAL_DOWNLOAD_INSTRUCTIONS or "").split())
    manual_dir = Path(root) / "downloads" / "manual"
    if manual and not (manual_dir.is_dir() and any(manual_dir.iterdir())):
        raise BenchError(
            f"tfds: {name} is downloaded by hand: put its files in {manual_dir}/ "
            f"({_first(manual)}), then run again"
        )
    if not manual and not _online(builder):
        raise BenchError(f"tfds: {name} is not prepared in {root} and cannot be downloaded; {todo}")
    try:
        builder.download_and_prepare()
    except Exception as err:  # a network failure, above all: TFDS raises many kinds
        why = f"{type(err).__name__}: {_reason(err)}"
        raise BenchError(f"tfds: {name} is not prepared in {root} ({why}); {todo}") from None


def _first(text: str, limit: int = 240) -> str:
    """The head of TFDS's manual download instructions, cut at a word."""
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def _online(builder) -> bool:
    """Whether TFDS's download can work: offline it retries for minutes before failing."""
    if os.environ.get("BENCH_OFFLINE"):
        return False
    try:
        urls = list(builder.url_infos or {})
    except Exception:  # no checksums file: nothing known to check, so let TFDS try
        return True
    return not urls or reachable(urls[0])


def supervised_keys(tfds, info, name: str) -> tuple[str, str]:
    """The keys of the image and of the class label: TFDS's supervised keys when they are an
    image and a class label, else the features named image and label, else the first ones."""
    features = dict(getattr(info.features, "items", dict)())
    images = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
    labels = [k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)]
    if not images or not labels:
        raise BenchError(
            f"tfds: {name} is not an image classification data set: it needs an Image and a "
            f"ClassLabel feature, it has {', '.join(features) or 'none'}"
        )
    keys = info.supervised_keys
    if not (isinstance(keys, tuple) and len(keys) == 2 and keys[0] in images and keys[1] in labels):
        pick = lambda found, named: named if named in found else found[0]  # noqa: E731
        keys = pick(images, "image"), pick(labels, "label")
    dtype = np.dtype(getattr(features[keys[0]], "np_dtype", np.uint8))
    if dtype != np.uint8:  # 16-bit scans: what they mean as 8-bit RGB is the data set's to say
        raise BenchError(f"tfds: {name}'s images are {dtype}; bench takes uint8 images")
    return keys


def split_names(info, name: str) -> dict[str, str]:
    """bench's splits (train, val, test) by TFDS's names of them; test or val may be absent."""
    names = list(info.splits)
    if "train" not in names:
        listed = ", ".join(names) or "none in its metadata"
        raise BenchError(f"tfds: {name} has no train split (its splits: {listed})")
    chosen = {"train": "train", "test": "test" if "test" in names else None}
    chosen["val"] = next((n for n in VALIDATION_NAMES if n in names), None)
    return {ours: theirs for ours, theirs in chosen.items() if theirs}


def stored_size(feature, storage_size: int, name: str) -> tuple[int, int] | None:
    """(height, width) to store images at; None keeps the native size (a fixed one)."""
    if storage_size:
        return storage_size, storage_size
    height, width = feature.shape[:2]
    if height and width:
        return None
    log.warning(
        "tfds %s: images differ in size: storing them at %dx%d (set storage_size)",
        name,
        FALLBACK_SIZE,
        FALLBACK_SIZE,
    )
    return FALLBACK_SIZE, FALLBACK_SIZE


def rgb(image: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """One image as uint8 RGB at `size` (grayscale repeated, alpha dropped)."""
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    image = image[..., :3]
    if size and image.shape[:2] != size:
        image = np.asarray(Image.fromarray(image).resize(size[::-1], Image.BILINEAR))
    return image


def chunks(tfds, builder, split: str, keys: tuple[str, str], size) -> Iterator[Chunk]:
    """The images and labels of one split, CHUNK at a time, in TFDS's order."""
    image_key, label_key = keys
    skipped = {  # other images (a segmentation mask) are never decoded
        k: tfds.decode.SkipDecoding()
        for k, f in builder.info.features.items()
        if k != image_key and isinstance(f, tfds.features.Image | tfds.features.Video)
    }
    read = builder.as_dataset(split=split, as_supervised=False, decoders=skipped or None)
    images, labels = [], []
    for example in tfds.as_numpy(read):
        images.append(rgb(example[image_key], size))
        labels.append(example[label_key])
        if len(images) == CHUNK:
            yield np.stack(images), np.asarray(labels, np.int32)
            images, labels = [], []
    if images:
        yield np.stack(images), np.asarray(labels, np.int32)


def assemble(
    name: str, made: dict[str, Made], classes: list[str], fingerprint: str, carve
) -> Dataset:
    """The splits as one Dataset of views of the decoded cache, each split streamed into it
    chunk by chunk the first time (keyed by the data set's fingerprint, the split and the
    storage shape), so no process holds a split. `carve`: (test_fraction, split_seed) to carve
    the test split from train, or None."""
    views = {}
    for split, (count, shape, read) in made.items():
        key = stable_hash({"tfds": fingerprint, "split": split, "shape": shape}, 24)
        views[split] = cached_images(key, lambda c=count, s=shape, r=read: (c, s, filler_of(r)))
        if not len(views[split][1]):
            raise BenchError(f"tfds: {name}'s {split} split holds no images")
    x_train, y_train = views["train"]
    if carve is None:
        x_test, y_test = views["test"]
    else:
        keep, test = stratified_split(y_train, *carve, what=f"tfds {name}: test split")
        x_train, y_train, x_test, y_test = (
            take(x_train, keep),
            y_train[keep],
            take(x_train, test),
            y_train[test],
        )
    return as_dataset(
        f"tfds:{name}",
        x_train,
        y_train,
        x_test,
        y_test,
        classes,
        val=views.get("val"),
        fingerprint=fingerprint,
    )


def _use_gpu_memory_sparingly(tf) -> None:
    """TensorFlow reads the data: it must not take every GPU's memory in a process that only
    loads data (each run's process trains on its own)."""
    try:
        for gpu in tf.config.list_physical_devices("GPU"):
            tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError:  # TensorFlow already started in this process: it keeps its settings
        pass


def check(*, argument: str | None, settings: Settings) -> None:
    """TFDS installed, and the name, config and version known to it (nothing downloaded)."""
    open_builder(_import_tfds(), str(argument), settings.data_dir)


def load(*, argument: str | None, settings: Settings) -> Dataset:
    """The TFDS data set named `argument`, prepared in `settings.data_dir` if needed."""
    tfds = _import_tfds()
    name = str(argument)
    builder = open_builder(tfds, name, settings.data_dir)
    keys = supervised_keys(tfds, builder.info, name)  # known from the code: before a download
    prepare(tfds, builder, name, settings.data_dir)
    info = builder.info
    splits = split_names(info, name)
    size = stored_size(info.features[keys[0]], settings.storage_size, name)
    shape = (*(size or info.features[keys[0]].shape[:2]), 3)
    import tensorflow as tf  # TFDS's own dependency; it reads the files

    _use_gpu_memory_sparingly(tf)
    made = {
        ours: (
            info.splits[theirs].num_examples,
            shape,
            partial(chunks, tfds, builder, theirs, keys, size),
        )
        for ours, theirs in splits.items()
    }
    carve = None if "test" in splits else (settings.test_fraction, settings.split_seed)
    config = builder.builder_config.name if builder.builder_config else None
    identity = {
        "tfds": builder.name,
        "config": config,
        "version": str(builder.version),
        "splits": {theirs: info.splits[theirs].num_examples for theirs in splits.values()},
    }
    if carve:
        identity |= {"test_fraction": carve[0], "split_seed": carve[1]}
    classes = list(info.features[keys[1]].names)
    unreadable = (AssertionError, tfds.core.registered.DatasetNotFoundError, tf.errors.OpError)
    try:
        return assemble(name, made, classes, stable_hash(identity), carve)
    except unreadable as err:  # files missing or damaged in the data folder
        raise BenchError(f"tfds: cannot read {name}: {_reason(err)}") from None
