"""Trained weights kept per phase (`--save-weights`), loaded back with `--weights PATH`, and
a folder of weights files with one per model (`--weights DIR`)."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from bench.data import load_dataset
from bench.models import registry
from bench.models.classifier import build_classifier, load_backbone
from tests.helpers import bench_main, random_weights

SMALL = ["--dataset", "digits", "--limit", "120", "--test-limit", "60", "--image-size", "32"]
SMALL += ["--batch-size", "32", "--epochs-frozen", "1", "--in-process"]


@pytest.mark.slow
def test_kept_backbone_weights_load_back_and_predict_bitwise_the_same(tmp_path, capsys):
    weights = random_weights("MobileNetV3Small", tmp_path)
    out = tmp_path / "results"
    args = ["run", "--models", "MobileNetV3Small", "--weights", str(weights), *SMALL]
    code, _, err = bench_main(
        capsys, *args, "--epochs-finetune", "1", "--save-weights", "--out", str(out)
    )
    assert code == 0, err[-2000:]
    runs = pd.read_csv(out / "runs.csv").set_index("phase")
    files = {phase: runs.loc[phase, "weights_files"].split(";") for phase in runs.index}
    assert set(files) == {"frozen", "finetune"}
    run_id = runs["run_id"].iloc[0]
    assert files["finetune"] == [
        f"weights/{run_id}-finetune.weights.h5",
        f"weights/{run_id}-finetune-backbone.weights.h5",
    ]
    assert not list((out / "weights").glob(".*")), "no temporary file is left"

    spec = registry.get("MobileNetV3Small")
    classifier = build_classifier(spec, (32, 32, 3), 10, image_size=32, weights="none")
    classifier.model.load_weights(out / files["finetune"][0])
    backbone = load_backbone(spec, 32, str(out / files["finetune"][1]))
    images = load_dataset("digits").x_test[:16].astype("float32")
    expected = classifier.backbone.predict(images, verbose=0)
    assert np.array_equal(backbone.predict(images, verbose=0), expected)

    reused = ["run", "--models", "MobileNetV3Small", *SMALL, "--epochs-finetune", "0"]
    reused += ["--weights", str(out / files["finetune"][1]), "--out", str(tmp_path / "again")]
    code, _, err = bench_main(capsys, *reused)
    assert code == 0, err[-2000:]


def test_a_weights_folder_gives_each_model_its_own_file(tmp_path, capsys):
    folder = tmp_path / "weights"
    folder.mkdir()
    shutil.copy(
        random_weights("MobileNetV3Small", tmp_path), folder / "MobileNetV3Small.weights.h5"
    )
    out = tmp_path / "results"
    args = ["run", "--models", "MobileNetV3Small,MobileNetV2,simple_cnn", "--weights", str(folder)]
    args += [*SMALL, "--epochs-finetune", "0", "--epochs-scratch", "1", "--out", str(out)]
    code, _, err = bench_main(capsys, *args)
    assert code == 1  # MobileNetV2's run failed; the others went on
    runs = pd.read_csv(out / "runs.csv").set_index("model")
    assert runs.loc["MobileNetV3Small", "status"] == "ok"
    assert runs.loc["simple_cnn", "status"] == "ok"
    assert runs.loc["MobileNetV2", "status"] == "failed"
    expected = folder / "MobileNetV2.weights.h5"
    assert (
        f"no weights file for MobileNetV2 in {folder}: expected {expected}"
        in (runs.loc["MobileNetV2", "error"])
    )
    assert "run failed: MobileNetV2" in err and "Traceback" not in err


def digits_folders(root, labels, per_class=None):
    """Digits of the given labels as class folders: all of them, or train/val/test with
    per_class training and 10 validation images a class (the rest is the test split)."""
    from PIL import Image

    digits = load_dataset("digits")
    images = np.concatenate([digits.x_train, digits.x_test])
    targets = np.concatenate([digits.y_train, digits.y_test])
    for label in labels:
        chosen = np.flatnonzero(targets == label)
        splits = (
            {"": chosen}
            if per_class is None
            else {
                "train": chosen[:per_class],
                "val": chosen[per_class : per_class + 10],
                "test": chosen[per_class + 10 :],
            }
        )
        for split, index in splits.items():
            folder = root / split / str(label)
            folder.mkdir(parents=True)
            for i in index:
                Image.fromarray(images[i]).save(folder / f"{i}.png")
    return root


@pytest.mark.slow
def test_weights_trained_on_digits_0_to_4_transfer_to_5_to_9(tmp_path, capsys):
    """The offline transfer of the README: a backbone trained from scratch on one data set,
    kept, and loaded frozen for another. EfficientNetV2B0: its BatchNormalization (momentum
    0.9) has usable statistics after a few epochs; MobileNets (0.999) do not, and a frozen
    transfer from them is at chance."""
    source = digits_folders(tmp_path / "digits-0-4", range(5))
    target = digits_folders(tmp_path / "digits-5-9", range(5, 10), per_class=20)
    common = ["--models", "EfficientNetV2B0", "--image-size", "32", "--batch-size", "16"]
    common += ["--in-process", "--quiet"]
    out = tmp_path / "pretrain"
    pretrain = [*common, "--dataset", f"folder:{source}", "--weights", "none"]
    pretrain += ["--epochs-scratch", "5", "--save-weights", "--out", str(out)]
    code, _, err = bench_main(capsys, "run", *pretrain)
    assert code == 0, err[-2000:]
    row = pd.read_csv(out / "runs.csv").iloc[0]
    assert row["test_accuracy"] > 0.6, "pretraining on digits 0-4 learned"
    backbone = out / row["weights_files"].split(";")[1]

    transfer = [*common, "--dataset", f"folder:{target}", "--weights", str(backbone)]
    transfer += ["--epochs-frozen", "10", "--lr-frozen", "1e-2", "--epochs-finetune", "0"]
    code, _, err = bench_main(capsys, "run", *transfer, "--out", str(tmp_path / "transfer"))
    assert code == 0, err[-2000:]
    row = pd.read_csv(tmp_path / "transfer" / "runs.csv").iloc[0]
    assert row["weights"] == str(backbone) and row["phase"] == "frozen"
    assert row["train_size"] == 100
    assert row["test_accuracy"] > 0.4, "frozen transfer to 5 new classes: twice chance or more"
