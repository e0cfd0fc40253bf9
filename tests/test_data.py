"""Data sets load as uint8 RGB with labels and classes; splits are disjoint, stratified, seeded."""

from __future__ import annotations

import io
import logging
import pickle
import shutil
import socket
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.data import load_dataset
from bench.data.splits import make_splits
from bench.errors import BenchError
from tests.helpers import CIFAR_MINI, split_layout, write_images


def test_digits_is_uint8_rgb_with_ten_classes():
    data = load_dataset("digits")
    assert data.x_train.dtype == np.uint8 and data.x_train.shape[1:] == (32, 32, 3)
    assert data.num_classes == 10 and len(data.y_train) + len(data.y_test) == 1797
    assert data.x_train.max() > 200, "pixels span 0-255, not the raw 0-16"


def test_splits_are_disjoint_stratified_and_reproducible():
    data = load_dataset("digits")
    a = make_splits(data, 0.1, seed=3)
    b = make_splits(data, 0.1, seed=3)
    c = make_splits(data, 0.1, seed=4)
    np.testing.assert_array_equal(a.y_val, b.y_val)
    np.testing.assert_array_equal(a.x_val, b.x_val)
    assert not np.array_equal(a.x_val, c.x_val), "another seed gives another validation split"
    assert len(a.y_train) + len(a.y_val) == len(data.y_train)  # disjointness: next test
    val_share = np.bincount(a.y_val, minlength=10) / np.bincount(data.y_train, minlength=10)
    assert np.all(np.abs(val_share - 0.1) < 0.03), "validation is 10% of every class"


def test_split_indices_never_overlap():
    labels = np.repeat(np.arange(5), 40)
    fake = type(
        "D",
        (),
        {
            "x_train": np.arange(200)[:, None],
            "y_train": labels,
            "x_test": np.arange(200, 250)[:, None],
            "y_test": np.repeat(np.arange(5), 10),
            "y_val": None,  # no validation split of its own: carved from train
        },
    )
    s = make_splits(fake, 0.2, seed=0, limit=100)
    train, val, test = (set(np.asarray(x).ravel()) for x in (s.x_train, s.x_val, s.x_test))
    assert not train & val and not train & test and not val & test
    assert len(train) + len(val) == 100
    assert set(np.bincount(s.y_val)) == {4}, "stratified: 4 validation images per class"


def test_folder_with_train_and_test_converts_gray_and_rgba(tmp_path):
    write_images(tmp_path / "train" / "cat", 6, 20, "L")
    write_images(tmp_path / "train" / "dog", 6, 20, "RGBA")
    write_images(tmp_path / "test" / "cat", 2, 20, "RGB")
    write_images(tmp_path / "test" / "dog", 2, 20, "L")
    (tmp_path / "train" / "cat" / ".DS_Store").write_text("hidden")
    data = load_dataset(f"folder:{tmp_path}")
    assert data.class_names == ["cat", "dog"]
    assert data.x_train.shape == (12, 20, 20, 3) and data.x_test.shape == (4, 20, 20, 3)
    assert list(np.bincount(data.y_train)) == [6, 6]


def test_single_folder_is_split_stratified_and_resized(tmp_path):
    write_images(tmp_path / "a", 10, 40)
    write_images(tmp_path / "b", 10, 24)
    data = load_dataset(f"folder:{tmp_path}", storage_size=16, test_fraction=0.2)
    assert data.x_train.shape == (16, 16, 16, 3)
    assert list(np.bincount(data.y_test)) == [2, 2]


def test_real_cifar10_jpeg_fixture():
    data = load_dataset(f"folder:{CIFAR_MINI}")
    assert data.num_classes == 10 and "airplane" in data.class_names
    assert data.x_train.shape == (120, 32, 32, 3) and data.x_test.shape == (60, 32, 32, 3)
    assert data.x_val is None, "no val/ folder: validation is carved from train"


@pytest.mark.parametrize("val", ["val", "valid", "validation"])
def test_a_validation_folder_is_the_validation_split(tmp_path, val):
    data = load_dataset(f"folder:{split_layout(tmp_path / 'data', val)}")
    assert data.class_names[:2] == ["airplane", "automobile"], "never classes 'train', 'val'"
    assert len(data.y_train) == 90 and len(data.y_val) == 30 and len(data.y_test) == 60
    splits = make_splits(data, 0.1, seed=0)
    assert len(splits.y_val) == 30 and len(splits.y_train) == 90, "nothing carved from train"
    assert np.array_equal(splits.x_val, data.x_val)


def test_train_and_val_without_test_carve_the_test_split_from_train(tmp_path):
    data = load_dataset(f"folder:{split_layout(tmp_path / 'data', test=False)}", test_fraction=0.2)
    assert len(data.y_val) == 30 and len(data.y_train) == 72 and len(data.y_test) == 18


def test_split_names_that_form_no_layout_are_an_error(tmp_path):
    data = split_layout(tmp_path / "data", test=False)
    (data / "val").rename(data / "other")  # train/ beside a class-like folder
    with pytest.raises(BenchError, match="look like splits but form no layout"):
        load_dataset(f"folder:{data}")
    only_val = split_layout(tmp_path / "no-train", test=True)
    shutil.rmtree(only_val / "train")
    with pytest.raises(BenchError, match="look like splits"):
        load_dataset(f"folder:{only_val}")


def test_the_fingerprint_follows_the_images(tmp_path):
    data = split_layout(tmp_path / "data")
    first = load_dataset(f"folder:{data}").fingerprint
    assert load_dataset(f"folder:{data}").fingerprint == first, "stable when nothing changed"
    extra = next((data / "train" / "cat").iterdir())
    shutil.copy(extra, data / "train" / "cat" / "extra.jpg")
    assert load_dataset(f"folder:{data}").fingerprint != first
    assert load_dataset("digits").fingerprint == load_dataset("digits").fingerprint


def test_an_image_too_big_to_decode_safely_is_skipped_and_counted(tmp_path, monkeypatch, caplog):
    """Pillow refuses images above twice MAX_IMAGE_PIXELS (a 14000x14000 JPEG by default)."""

    root = tmp_path / "data"
    for name in ("a", "b"):
        write_images(root / name, 3, 8)
    Image.new("RGB", (40, 40)).save(root / "a" / "huge.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # 40x40 = 1600 > 2 * 500
    with caplog.at_level(logging.WARNING, logger="bench"):
        data = load_dataset(f"folder:{root}", storage_size=8)
    assert len(data.y_train) + len(data.y_test) == 6
    assert "skipped 1 unreadable image files" in caplog.text


def fake_cifar_archive(path: Path, inner="cifar-10-batches-py", extra: dict | None = None):
    """A small archive in the official python format (the tests write their own)."""
    rng = np.random.default_rng(0)

    def batch(n):
        return pickle.dumps(
            {
                b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                b"labels": [i % 10 for i in range(n)],
            },
            protocol=2,
        )

    members = {f"data_batch_{i}": batch(20) for i in range(1, 6)}
    members["test_batch"] = batch(10)
    members["batches.meta"] = pickle.dumps(
        {b"label_names": [f"c{i}".encode() for i in range(10)]}, protocol=2
    )
    members.update(extra or {})
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name if name.startswith(("/", "..")) else f"{inner}/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return path


def test_cifar10_from_the_official_archive_format(tmp_path):
    fake_cifar_archive(tmp_path / "cifar-10-python.tar.gz")
    data = load_dataset("cifar10", data_dir=str(tmp_path))
    assert data.x_train.shape == (100, 32, 32, 3) and data.x_test.shape == (10, 32, 32, 3)
    assert data.class_names[:2] == ["c0", "c1"] and data.y_train.max() == 9


class WritesAFile:
    def __reduce__(self):
        import os

        return (os.system, ("touch pwned-by-pickle",))


def test_crafted_pickle_is_refused_and_runs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = pickle.dumps({b"data": WritesAFile()}, protocol=2)
    fake_cifar_archive(tmp_path / "cifar-10-python.tar.gz", extra={"test_batch": evil})
    with pytest.raises(BenchError, match="refused to load"):
        load_dataset("cifar10", data_dir=str(tmp_path))
    assert not (tmp_path / "pwned-by-pickle").exists()


def test_archive_with_parent_members_is_refused(tmp_path):
    fake_cifar_archive(tmp_path / "cifar-10-python.tar.gz", extra={"../escape": b"x"})
    with pytest.raises(BenchError, match="unsafe archive member"):
        load_dataset("cifar10", data_dir=str(tmp_path))
    assert not (tmp_path.parent / "escape").exists()


def test_offline_cifar_says_which_file_to_put_where(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(BenchError) as err:
        load_dataset("cifar100")
    message = str(err.value)
    assert "cifar-100-python.tar.gz" in message and str(tmp_path / "datasets") in message


def test_an_unreachable_server_gives_the_clear_error_at_once(tmp_path, monkeypatch, capsys):
    """Offline without BENCH_OFFLINE: no download is tried (Keras would print "Downloading
    data from ..." before failing), the one line says what to put where."""
    from bench.data import cifar

    monkeypatch.delenv("BENCH_OFFLINE")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with socket.socket() as closed:  # a port nothing listens on: refused at once
        closed.bind(("127.0.0.1", 0))
        url = f"https://127.0.0.1:{closed.getsockname()[1]}/cifar-10-python.tar.gz"
    monkeypatch.setitem(cifar.FORMATS["cifar10"], "url", url)
    tried = []
    monkeypatch.setattr(cifar, "_download", tried.append)
    with pytest.raises(BenchError, match="cifar-10-python.tar.gz"):
        load_dataset("cifar10")
    assert not tried and "Downloading" not in capsys.readouterr().out


def test_a_server_that_answers_is_reachable():
    from bench.data.cifar import reachable

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert reachable(f"https://127.0.0.1:{server.getsockname()[1]}/x.tar.gz")


def test_unknown_dataset_names_the_choices():
    with pytest.raises(BenchError, match="choose from: cifar10, cifar100, digits"):
        load_dataset("mnist")


def test_decoded_folders_are_cached_reused_and_invalidated(tmp_path, monkeypatch):
    from bench.data import folder

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "data"
    for name in ("a", "b"):
        write_images(root / "train" / name, 4, 8)
        write_images(root / "test" / name, 2, 8)
    decoded = []
    real = folder.decode_into
    monkeypatch.setattr(folder, "decode_into", lambda *a: decoded.append(a) or real(*a))

    first = load_dataset(f"folder:{root}")
    assert len(decoded) == 2  # train and test, decoded once each
    again = load_dataset(f"folder:{root}")
    assert len(decoded) == 2, "the second load decodes nothing"
    np.testing.assert_array_equal(again.x_train, first.x_train)
    np.testing.assert_array_equal(again.y_test, first.y_test)

    write_images(root / "train" / "b" / "more", 1, 8)  # a new training image
    changed = load_dataset(f"folder:{root}")
    assert len(decoded) == 3 and len(changed.y_train) == 9  # train decoded again, test not
    load_dataset(f"folder:{root}", storage_size=16)
    assert len(decoded) == 5, "another storage size is another entry"
    entries = list((tmp_path / "cache" / "decoded").iterdir())
    assert len(entries) == 5 and not any(e.name.startswith(".") for e in entries)
