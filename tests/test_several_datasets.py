"""A suite naming several data sets: each is a comparison of its own, with the run ids and the
settings hash it has when run alone; a bad name among them stops everything before anything is
written; the dry run lists each; the folder's across-datasets report follows the runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.datasets import load_digits

import bench
from bench import api
from bench.execution.suite import dataset_passes
from bench.settings import Settings
from bench.settings.loading import ROOT_CONFIG, load_config, resolve
from tests.helpers import CIFAR_MINI, TINY, bench_main, cli_error

MINI = f"folder:{CIFAR_MINI}"
CHEAP = {"weights": "none", "limit": 100, "test_limit": 50, "epochs_scratch": 1}
CHEAP |= {"batch_size": 32, "executor": "in-process"}
# Two whole classifiers beside simple_cnn: the Friedman test needs three models.
MODELS = """
import keras
from keras import layers


def conv(input_shape, num_classes, filters):
    inputs = keras.Input(input_shape)
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.MaxPooling2D()(layers.Conv2D(filters, 3, padding="same", activation="relu")(x))
    x = layers.Dense(128, activation="relu")(layers.Flatten()(x))
    return keras.Model(inputs, layers.Dense(num_classes)(x))


def conv8(input_shape, num_classes):
    return conv(input_shape, num_classes, 8)


def conv16(input_shape, num_classes):
    return conv(input_shape, num_classes, 16)
"""


def run_ids(dataset) -> set[str]:
    frame, _ = bench.dry_run("simple_cnn", dataset=dataset, **CHEAP)
    return set(frame["run_id"])


def test_a_list_a_comma_string_and_a_flag_name_the_same_data_sets(tmp_path):
    config = tmp_path / "bench.toml"
    config.write_text(f'[suites.two]\ndataset = ["digits", "{MINI}"]\n')
    from_file = resolve(load_config(config), "two", {})
    from_flag = resolve(load_config(config), None, {"dataset": f"digits, {MINI}"})
    assert from_file.datasets() == from_flag.datasets() == ["digits", MINI]
    assert [s.dataset for s in dataset_passes(from_file)] == ["digits", MINI]


def test_one_data_set_keeps_its_settings_hash_however_it_is_named():
    alone = Settings(dataset="digits").validate()
    for named in (["digits"], " digits"):
        (one,) = dataset_passes(Settings(dataset=named).validate())
        assert one.settings_hash() == alone.settings_hash() and one.dataset == "digits"
    assert Settings().settings_hash() == Settings().on_dataset("cifar10").settings_hash()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("digits,,cifar10", "names an empty data set"),
        ("digits,digits", "names one twice"),
        ([], "must name at least one data set"),
    ],
)
def test_an_impossible_list_is_one_line(value, message):
    with pytest.raises(bench.BenchError, match=message):
        Settings(dataset=value).validate()


def test_an_unknown_name_in_the_list_is_one_line_and_nothing_is_written(tmp_path, capsys):
    out = tmp_path / "results"
    args = ["run", "--models", "simple_cnn", "--out", str(out), *TINY]
    line = cli_error(capsys, *args, "--dataset", f"digits,{MINI},cifar11")
    assert "unknown data set 'cifar11'" in line and "did you mean cifar10" in line
    assert not out.exists(), "the first data sets did not run either"


@pytest.mark.parametrize("last", ["folder:/no/such/folder", "tfds:cifar1O"])
def test_what_a_source_can_check_is_checked_before_the_first_data_set_runs(
    last, tmp_path, capsys
):
    """A missing folder, or a TFDS name TFDS does not know (or TFDS not installed): found by
    the source's check before digits runs, not when the list reaches it."""
    out = tmp_path / "results"
    args = ["run", "--models", "simple_cnn", "--out", str(out), *TINY]
    line = cli_error(capsys, *args, "--dataset", f"digits,{last}")
    assert "data folder not found" in line or "tfds:" in line
    assert not out.exists()


def test_the_dry_run_lists_each_data_sets_runs(tmp_path, capsys):
    out = tmp_path / "results"
    args = ["run", "--models", "simple_cnn", "--out", str(out), *TINY, "--seeds", "0,1"]
    code, printed, err = bench_main(capsys, *args, "--dataset", f"digits,{MINI}", "--dry-run")
    assert code == 0, err[-2000:]
    assert "data set" in printed.splitlines()[0] and not out.exists()
    frame, description = bench.dry_run("simple_cnn", dataset=["digits", MINI], **CHEAP)
    assert frame.groupby("dataset").size().to_dict() == {"digits": 1, "folder:cifar10-mini": 1}
    assert "data set digits:" in description and "data set folder:cifar10-mini:" in description
    assert "2 of 2 runs would start, over 2 data sets" in description


def test_each_data_set_is_its_own_comparison_with_the_ids_it_has_alone(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(api, "write_report", lambda *_: None)  # the slow test below writes it
    out = tmp_path / "results"
    frame = bench.run("simple_cnn", dataset=["digits", MINI], out=str(out), **CHEAP)
    printed = capsys.readouterr().out
    runs = pd.read_csv(out / "runs.csv", dtype={"run_id": str, "settings_hash": str})
    assert set(runs["run_id"]) == set(frame["run_id"]) == run_ids("digits") | run_ids(MINI)
    hashes = runs.groupby("dataset")["settings_hash"].unique().to_dict()
    assert {d: len(h) for d, h in hashes.items()} == {"digits": 1, "folder:cifar10-mini": 1}
    assert hashes["digits"][0] == Settings(dataset="digits", **CHEAP).validate().settings_hash()
    assert "data set 1 of 2: digits" in printed and f"data set 2 of 2: {MINI}" in printed
    assert "no across-datasets report: " in printed, "one model: the folder cannot be ranked"
    assert not (out / "across.md").exists()


def digits_folder(root):
    """The digits as a folder of class folders: a second data set a tiny model learns."""
    digits = load_digits()
    for index, (image, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        split = "test" if index % 5 == 0 else "train"
        folder = root / split / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.kron(image * 255 / 16, np.ones((4, 4))).astype(np.uint8)
        Image.fromarray(pixels).convert("RGB").save(folder / f"{index}.png")
    return root


@pytest.mark.slow
def test_the_run_ranks_the_models_across_the_data_sets(tmp_path, capsys):
    models = tmp_path / "my_models.py"
    models.write_text(MODELS)
    out, other = tmp_path / "results", f"folder:{digits_folder(tmp_path / 'digits-png')}"
    chosen = f"simple_cnn,{models}:conv8,{models}:conv16"
    args = ["run", "--models", chosen, "--out", str(out), *TINY, "--in-process"]
    args += ["--limit", "400", "--batch-size", "16"]  # enough steps for each to learn
    code, printed, err = bench_main(capsys, *args, "--dataset", f"digits,{other}")
    assert code == 0, err[-2000:]
    assert "Across 2 data sets" in printed and (out / "across.md").exists()
    assert (out / "plots" / "critical_difference.png").exists()
    assert 'id="across"' in (out / "report.html").read_text()
    code, printed, err = bench_main(capsys, "report", "--results", str(out), "--across-datasets")
    assert code == 0, err[-2000:]
    assert "Friedman test over 3 models and 2 data sets" in printed


def test_the_transfer_suite_names_real_settings_and_the_transfer_studies_data_sets():
    """load_config checks every key of every suite; the suite's own values here."""
    transfer = resolve(load_config(ROOT_CONFIG), "transfer", {})
    names = transfer.datasets()
    assert len(names) == 7 and all(n.startswith("tfds:") for n in names)
    assert {"tfds:oxford_flowers102", "tfds:food101", "tfds:cifar100"} <= set(names)
    assert transfer.image_size == 224 and transfer.frozen_mode == "features"
    assert len(transfer.models) >= 5 and "ResNet50" in transfer.models
    assert "description" in load_config(ROOT_CONFIG).suites["transfer"]
    from bench.data import DATASETS

    if "tfds" in DATASETS:  # the source may be added after this suite: then its names check
        assert len(dataset_passes(transfer)) == 7
