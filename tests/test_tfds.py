"""`--dataset tfds:NAME`: TensorFlow Datasets by name, on TFDS's own mock data (no download).

`tfds.testing.mock_data` makes random examples from a builder's features; the split names and
sizes come from metadata files written here into a data folder (its USE_FILES policy), as a
prepared data set has them. It patches this process only, so the run goes in-process.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.data import load_dataset
from tests.helpers import TINY, bench_main, cli_error

needs_tfds = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow_datasets") is None,
    reason="TensorFlow Datasets not installed (pip install -e .[tfds])",
)
CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_metadata(root: Path, name: str, splits: dict[str, int], classes=None) -> None:
    """The dataset_info.json (split names and sizes) of a prepared `name` under `root`."""
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=str(root))
    infos = [tfds.core.SplitInfo(name=s, shard_lengths=[n], num_bytes=0) for s, n in splits.items()]
    builder.info.set_splits(tfds.core.SplitDict(infos))
    if classes:
        builder.info.features["label"].names = classes
    Path(builder.data_dir).mkdir(parents=True)
    builder.info.write_to_directory(builder.data_dir)


@contextmanager
def mocked(root: Path, examples: int, **datasets: dict[str, int]):
    """TFDS mocked: `examples` random examples in every split of the data sets named (their
    metadata says as many), none downloaded. Keywords: a data set's name, / as __."""
    import tensorflow_datasets as tfds

    for name, splits in datasets.items():
        classes = CIFAR10 if name == "cifar10" else None
        write_metadata(root, name.replace("__", "/"), dict.fromkeys(splits, examples), classes)
    policy = tfds.testing.MockPolicy.USE_FILES
    with tfds.testing.mock_data(num_examples=examples, policy=policy, data_dir=str(root)):
        yield


def run_args(tmp_path, dataset: str) -> list[str]:
    out = str(tmp_path / "out")
    return ["run", "--models", "simple_cnn", "--dataset", dataset, "--out", out]


@needs_tfds
def test_cifar10_has_its_train_and_test_splits_and_class_names(tmp_path):
    with mocked(tmp_path, 30, cifar10=["train", "test"]):
        data = load_dataset("tfds:cifar10", data_dir=str(tmp_path))
        again = load_dataset("tfds:cifar10", data_dir=str(tmp_path))
    assert data.name == "tfds:cifar10" and data.class_names == CIFAR10
    assert data.x_train.shape == (30, 32, 32, 3) and data.x_test.shape == (30, 32, 32, 3)
    assert data.x_train.dtype == np.uint8 and data.y_train.dtype == np.int32
    assert data.x_val is None, "no validation split of its own: it is carved from train"
    assert data.y_train.max() < 10 and len(data.y_test) == 30
    assert again.fingerprint == data.fingerprint and np.array_equal(again.x_test, data.x_test)


@needs_tfds
def test_a_split_is_streamed_into_the_decoded_cache_once_then_read_as_a_view(
    tmp_path, monkeypatch
):
    from bench.data import tfds as source

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    with mocked(tmp_path / "tfds", 40, cifar10=["train", "test"]):
        data = load_dataset("tfds:cifar10", data_dir=str(tmp_path / "tfds"))
    assert str(tmp_path / "cache") in str(data.x_train.path), "a view of the cache's file"
    monkeypatch.setattr(source, "chunks", lambda *a: pytest.fail("TFDS read a second time"))
    with mocked(tmp_path / "tfds", 40):
        again = load_dataset("tfds:cifar10", data_dir=str(tmp_path / "tfds"))
    np.testing.assert_array_equal(np.asarray(again.x_train), np.asarray(data.x_train))
    np.testing.assert_array_equal(again.y_test, data.y_test)


@needs_tfds
def test_a_validation_split_of_its_own_is_the_validation_split(tmp_path):
    splits = ["train", "validation", "test"]
    with mocked(tmp_path, 12, oxford_flowers102=splits):
        native = load_dataset("tfds:oxford_flowers102", data_dir=str(tmp_path))
        stored = load_dataset("tfds:oxford_flowers102", data_dir=str(tmp_path), storage_size=40)
    assert len(native.class_names) == 102 and native.class_names[0] == "pink primrose"
    # Images of differing sizes are stored at 224 unless storage_size says otherwise.
    for data, size in ((native, 224), (stored, 40)):
        for x in (data.x_train, data.x_val, data.x_test):
            assert x.shape == (12, size, size, 3) and x.dtype == np.uint8
    assert len(native.y_val) == 12
    assert native.fingerprint == stored.fingerprint  # storage_size is in the settings hash


@needs_tfds
def test_without_a_test_split_one_is_carved_from_train(tmp_path):
    with mocked(tmp_path, 100, eurosat__rgb=["train"]):
        data = load_dataset("tfds:eurosat/rgb", data_dir=str(tmp_path))
        other = load_dataset("tfds:eurosat/rgb", data_dir=str(tmp_path), test_fraction=0.3)
    assert (len(data.y_train), len(data.y_test)) == (80, 20)  # test_fraction 0.2
    assert (len(other.y_train), len(other.y_test)) == (70, 30)
    assert data.x_train.shape[1:] == (64, 64, 3) and data.class_names[0] == "AnnualCrop"
    assert data.fingerprint != other.fingerprint, "the carved split is part of the fingerprint"


@needs_tfds
def test_configs_have_their_own_fingerprints_and_grayscale_becomes_rgb(tmp_path):
    names = ["imagenette/160px-v2", "imagenette/320px-v2"]
    splits = {n.replace("/", "__"): ["train", "validation"] for n in names}
    with mocked(tmp_path, 60, mnist=["train", "test"], **splits):
        small, large = (load_dataset(f"tfds:{n}", data_dir=str(tmp_path)) for n in names)
        digits = load_dataset("tfds:mnist", data_dir=str(tmp_path))
    assert small.fingerprint != large.fingerprint != digits.fingerprint
    assert len(small.y_val) == 60 and (len(small.y_train), len(small.y_test)) == (48, 12)
    assert digits.x_train.shape == (60, 28, 28, 3)
    assert np.array_equal(digits.x_train[..., 0], digits.x_train[..., 2]), "gray repeated"


@needs_tfds
def test_a_data_set_without_train_split_is_refused(tmp_path, capsys):
    with mocked(tmp_path, 5, cifar10_corrupted__brightness_1=["test"]):
        line = cli_error(capsys, *run_args(tmp_path, "tfds:cifar10_corrupted/brightness_1"))
    assert "has no train split (its splits: test)" in line


@functools.cache  # TFDS registers a builder class by its name, once a session
def tiny_builder():
    """A TFDS data set defined here, which TFDS prepares from this code (nothing to download):
    the path a real data set takes, files written and read back. Label 1 is light, 0 dark."""
    import tensorflow_datasets as tfds

    class TinyShapes(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            image = tfds.features.Image(shape=(None, None, 1))  # gray, of three sizes
            label = tfds.features.ClassLabel(names=["dark", "light"])
            features = tfds.features.FeaturesDict({"image": image, "label": label})
            return tfds.core.DatasetInfo(builder=self, features=features)

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(30), "test": self._generate_examples(10)}

        def _generate_examples(self, count):
            for i in range(count):
                pixels = np.full((8 + i % 3,) * 2 + (1,), 200 * (i % 2), np.uint8)
                yield i, {"image": pixels, "label": i % 2}

    return TinyShapes


@needs_tfds
def test_a_data_set_is_prepared_once_then_read_from_its_files(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    tiny_builder()
    monkeypatch.delenv("BENCH_OFFLINE")  # it downloads nothing: TFDS generates it here
    data = load_dataset("tfds:tiny_shapes", data_dir=str(tmp_path), storage_size=12)
    assert (tmp_path / "tiny_shapes" / "1.0.0" / "dataset_info.json").is_file()

    def again(self, *args, **kwargs):
        raise AssertionError("prepared a second time")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", again)
    native = load_dataset("tfds:tiny_shapes", data_dir=str(tmp_path))
    assert data.class_names == ["dark", "light"] and data.fingerprint == native.fingerprint
    assert data.x_train.shape == (30, 12, 12, 3) and data.x_test.shape == (10, 12, 12, 3)
    assert native.x_train.shape == (30, 224, 224, 3), "sizes differ: stored at 224"
    for x, y in ((data.x_train, data.y_train), (native.x_test, native.y_test)):
        assert np.array_equal(np.asarray(x).max(axis=(1, 2, 3)), 200 * y), "each image, its label"


@needs_tfds
@pytest.mark.slow
def test_a_run_on_a_tfds_data_set(tmp_path, capsys):
    out = tmp_path / "results"
    args = ["run", "--models", "simple_cnn", "--out", str(out), *TINY, "--in-process"]
    args += ["--dataset", "tfds:cifar10", "--data-dir", str(tmp_path / "tfds"), "--quiet"]
    args += ["--limit", "150", "--test-limit", "50"]
    with mocked(tmp_path / "tfds", 200, cifar10=["train", "test"]):
        code, _, err = bench_main(capsys, *args)
    assert code == 0, err[-2000:]
    runs = pd.read_csv(out / "runs.csv")
    assert list(runs["status"]) == ["ok"] and list(runs["dataset"]) == ["tfds:cifar10"]
    assert list(runs["test_size"]) == [50]


# Errors: one line, exit 2 --------------------------------------------------------------------


def test_without_tfds_installed_it_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # import fails
    line = cli_error(capsys, *run_args(tmp_path, "tfds:cifar10"))
    assert "pip install -e '.[tfds]'" in line and not (tmp_path / "out").exists()


@needs_tfds
def test_an_unknown_name_suggests_the_closest(tmp_path, capsys):
    line = cli_error(capsys, *run_args(tmp_path, "tfds:cifar11"))
    assert "unknown data set 'cifar11'" in line and "did you mean cifar10" in line
    line = cli_error(capsys, *run_args(tmp_path, "tfds:nope"))
    assert "unknown data set 'nope'" in line and "tfds.list_builders()" in line
    line = cli_error(capsys, *run_args(tmp_path, "tfds:eurosat/nope"))
    assert "eurosat/nope" in line and "BuilderConfig nope not found" in line
    assert "not an image classification" in cli_error(capsys, *run_args(tmp_path, "tfds:squad"))


@needs_tfds
def test_not_prepared_offline_says_how_to_prepare_it(tmp_path, capsys):
    args = [*run_args(tmp_path, "tfds:cifar10"), "--data-dir", str(tmp_path / "tfds")]
    line = cli_error(capsys, *args)  # BENCH_OFFLINE=1 in the tests
    assert f"not prepared in {tmp_path / 'tfds'}" in line
    assert "tfds.builder('cifar10', data_dir=" in line and ".download_and_prepare()" in line
    assert str(tmp_path / "tfds" / "cifar10" / "3.0.2") in line


@needs_tfds
def test_a_failed_download_is_one_line(tmp_path, capsys, monkeypatch):
    import tensorflow_datasets as tfds

    def unreachable(self, *args, **kwargs):
        raise ConnectionError("Failed to resolve 'www.cs.toronto.edu'")

    monkeypatch.delenv("BENCH_OFFLINE")
    monkeypatch.setattr("bench.data.tfds.reachable", lambda url: True)
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", unreachable)
    args = [*run_args(tmp_path, "tfds:cifar10"), "--data-dir", str(tmp_path / "tfds")]
    line = cli_error(capsys, *args)
    assert "not prepared" in line and "ConnectionError: Failed to resolve" in line


@needs_tfds
def test_a_manual_download_says_where_its_files_go(tmp_path, capsys):
    args = [*run_args(tmp_path, "tfds:imagenet2012"), "--data-dir", str(tmp_path / "tfds")]
    line = cli_error(capsys, *args)
    assert f"put its files in {tmp_path / 'tfds' / 'downloads' / 'manual'}/" in line
    assert "ILSVRC2012_img_train.tar" in line
