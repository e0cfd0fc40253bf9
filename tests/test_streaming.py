"""The data path that keeps memory flat in the data set's size: decoding straight into the
memory-mapped cache, splits as views of it, batches read as training asks for them."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from bench.data import load_dataset
from bench.data.images import Images
from bench.data.shared_memory import SharedDataset, load_shared
from bench.data.splits import make_splits
from bench.training.batches import Batches
from tests.helpers import write_images


@pytest.fixture
def base(tmp_path) -> Images:
    pixels = np.arange(10 * 2 * 2 * 3, dtype=np.uint8).reshape(10, 2, 2, 3)
    np.save(tmp_path / "images.npy", pixels)
    return Images.mapped(tmp_path / "images.npy")


def test_a_view_reads_the_rows_it_takes_and_nothing_else(base):
    pixels = np.asarray(base)
    view = base.take([7, 2, 9, 4]).take([3, 0, 1])  # rows 4, 7, 2 of the file
    assert view.shape == (3, 2, 2, 3) and view.dtype == np.uint8 and len(view) == 3
    np.testing.assert_array_equal(np.asarray(view), pixels[[4, 7, 2]])
    np.testing.assert_array_equal(view[np.array([2, 0])], pixels[[2, 4]])  # order as asked
    np.testing.assert_array_equal(view[1], pixels[7])
    np.testing.assert_array_equal(view[1:], pixels[[7, 2]])
    assert isinstance(base.base, np.memmap), "the file is mapped, not read"


def test_a_view_of_a_file_pickles_as_its_path_and_rows(base):
    view = base.take(np.arange(10)[::-1])
    sent = pickle.dumps(view)
    assert len(sent) < 1000 + view.index.nbytes, "the pixels do not travel"
    received = pickle.loads(sent)
    assert isinstance(received.base, np.memmap) and received.path == base.path
    np.testing.assert_array_equal(np.asarray(received), np.asarray(view))


def test_a_view_in_memory_pickles_only_the_rows_it_takes():
    big = Images(np.zeros((1000, 8, 8, 3), np.uint8)).take([1, 2])
    assert len(pickle.dumps(big)) < 2000


def test_a_folder_is_views_of_one_cache_file_and_its_splits_copy_no_pixels(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    for name in ("a", "b", "c"):
        write_images(tmp_path / "data" / name, 10, 8)
    dataset = load_dataset(f"folder:{tmp_path / 'data'}", test_fraction=0.2)
    files = {dataset.x_train.path, dataset.x_test.path}
    assert len(files) == 1 and str(tmp_path / "cache") in str(files.pop())
    splits = make_splits(dataset, 0.2, 0)
    for x in (splits.x_train, splits.x_val, splits.x_test):
        assert isinstance(x, Images) and isinstance(x.base, np.memmap)
    rows = [set(x.index) for x in (splits.x_train, splits.x_val, splits.x_test)]
    assert sum(map(len, rows)) == 30 and len(set.union(*rows)) == 30, "disjoint, all 30 images"
    # A run's process receives the views as paths: the suite's copy holds no pixels of them.
    with SharedDataset(dataset) as shared:
        assert not list(shared.folder.glob("*.npy"))
        received = load_shared(shared.folder)
    np.testing.assert_array_equal(np.asarray(received.x_train), np.asarray(dataset.x_train))


def test_a_data_set_in_memory_is_shared_once_as_files(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    dataset = load_dataset("digits")
    with SharedDataset(dataset) as shared:
        assert sorted(p.name for p in shared.folder.glob("*.npy")) == ["x_test.npy", "x_train.npy"]
        received = load_shared(shared.folder)
        assert isinstance(received.x_train.base, np.memmap)
        np.testing.assert_array_equal(np.asarray(received.x_test), dataset.x_test)


def test_an_unreadable_file_leaves_no_hole_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    for name in ("a", "b"):
        write_images(tmp_path / "data" / "train" / name, 4, 8)
        write_images(tmp_path / "data" / "test" / name, 2, 8)
    (tmp_path / "data" / "train" / "a" / "broken.png").write_bytes(b"not an image")
    dataset = load_dataset(f"folder:{tmp_path / 'data'}")
    assert len(dataset.y_train) == 8 and list(np.bincount(dataset.y_train)) == [4, 4]
    assert np.asarray(dataset.x_train).reshape(8, -1).any(axis=1).all(), "no all-zero row"


def batches_of(data: Batches, epochs: int = 2) -> list[list[np.ndarray]]:
    out = []
    for _ in range(epochs):
        out.append([data[i] for i in range(len(data))])
        data.on_epoch_end()
    return out


def test_batches_cover_every_image_once_an_epoch_in_a_new_seeded_order():
    images = np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1).repeat(3, axis=-1)
    labels = np.arange(10)
    first, second = batches_of(Batches(images, labels, 4, seed=7))
    assert [len(x) for x, _ in first] == [4, 4, 2]
    for epoch in (first, second):
        seen = np.concatenate([y for _, y in epoch])
        assert sorted(seen) == list(range(10))
        np.testing.assert_array_equal(np.concatenate([x[:, 0, 0, 0] for x, _ in epoch]), seen)
    assert not np.array_equal(np.concatenate([y for _, y in first]), np.arange(10))
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(first, second, strict=True))
    again = batches_of(Batches(images, labels, 4, seed=7, threads=1))
    for epoch, repeated in zip((first, second), again, strict=True):
        for (x, y), (x2, y2) in zip(epoch, repeated, strict=True):
            np.testing.assert_array_equal(y, y2)
            np.testing.assert_array_equal(x, x2)


def test_prediction_batches_keep_order_and_pad_the_last_to_one_shape():
    images = np.arange(5, dtype=np.uint8).reshape(5, 1, 1, 1)
    data = Batches(images, None, 2, pad_last=True)
    parts = [data[i][0][:, 0, 0, 0] for i in range(len(data))]
    assert [list(p) for p in parts] == [[0, 1], [2, 3], [4, 4]]


def test_a_cluster_with_another_host_gets_the_pixels_not_the_paths(tmp_path, monkeypatch):
    import socket

    from bench.data.shared_memory import for_hosts

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    for name in ("a", "b"):
        write_images(tmp_path / "data" / name, 5, 8)
    dataset = load_dataset(f"folder:{tmp_path / 'data'}")
    assert for_hosts(dataset, [socket.gethostname()] * 2) is dataset, "one machine: the views"
    shipped = for_hosts(dataset, [socket.gethostname(), "another-machine"])
    assert isinstance(shipped.x_train, np.ndarray) and isinstance(shipped.x_test, np.ndarray)
    np.testing.assert_array_equal(shipped.x_train, np.asarray(dataset.x_train))
