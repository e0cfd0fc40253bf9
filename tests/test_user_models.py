"""Your own model in the same table: a file's function, run by the same protocol as every
model (a whole classifier from scratch, a backbone frozen then fine-tuned), in a process of its
own; an edited file is a new run; a mistake in the file is one line naming it."""

from __future__ import annotations

import pandas as pd
import pytest

import bench
from bench.models import registry
from tests.helpers import ROOT, cli_error, run_here

MODELS = """
import keras
from keras import layers


def tiny_cnn(input_shape, num_classes):
    inputs = keras.Input(input_shape)
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Conv2D(8, 3, activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(num_classes)(x))


def tiny_backbone(input_shape, weights="imagenet"):
    inputs = keras.Input(input_shape)
    x = layers.Conv2D(8, 3, strides=2, use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    model = keras.Model(inputs, layers.ReLU()(x))
    if weights not in (None, "imagenet"):
        model.load_weights(weights)
    return model


def preprocess_input(x):
    return x / 127.5 - 1.0
"""
DATA = ["--dataset", "digits", "--limit", "120", "--test-limit", "60", "--batch-size", "32"]


@pytest.fixture
def models_file(tmp_path):
    path = tmp_path / "my_models.py"
    path.write_text(MODELS)
    return path


def test_a_file_names_a_classifier_and_a_backbone_by_their_parameters(models_file):
    whole = registry.get(f"{models_file}:tiny_cnn")
    backbone = registry.get(f"{models_file}:tiny_backbone")
    assert (whole.name, whole.pretrained, whole.module) == ("tiny_cnn", False, None)
    assert (backbone.name, backbone.pretrained) == ("tiny_backbone", True)
    assert backbone.module == str(models_file), "its file's preprocess_input"
    assert backbone.source.startswith(f"file:{models_file}:tiny_backbone@")


def test_a_users_backbone_runs_frozen_and_fine_tuned_in_a_process_of_its_own(
    models_file, tmp_path, capsys
):
    out = tmp_path / "results"
    args = ["run", "--models", f"{models_file}:tiny_backbone,{models_file}:tiny_cnn", *DATA]
    args += ["--weights", "imagenet", "--image-size", "32", "--out", str(out)]
    args += ["--epochs-frozen", "1", "--epochs-finetune", "1", "--epochs-scratch", "1"]
    result = run_here(capsys, *args)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    rows = pd.read_csv(out / "runs.csv").set_index(["model", "phase"])
    assert set(rows.index) == {
        ("tiny_backbone", "frozen"),
        ("tiny_backbone", "finetune"),
        ("tiny_cnn", "scratch"),
    }
    assert (rows["status"] == "ok").all() and (rows["family"] == "user").all()
    assert rows["source"].str.startswith(f"file:{models_file}:").all()


def test_an_edited_file_is_a_new_run(models_file):
    def planned_id() -> str:
        frame, _ = bench.dry_run(f"{models_file}:tiny_cnn", dataset="digits", weights="none")
        return frame.iloc[0]["run_id"]

    before = planned_id()
    assert planned_id() == before, "the same file: the same run"
    models_file.write_text(MODELS.replace("Conv2D(8, 3, activation", "Conv2D(16, 3, activation"))
    assert planned_id() != before


@pytest.mark.parametrize(
    ("content", "model", "message"),
    [
        (None, "missing.py:f", "model file not found: missing.py"),
        ("def f(:\n", "bad.py:f", "bad.py, line 1: "),
        ("raise RuntimeError('no GPU here')\n", "bad.py:f", "bad.py raised RuntimeError on "),
        (MODELS, "bad.py:tiny_cn", "bad.py has no function tiny_cn; did you mean tiny_cnn"),
        (MODELS.replace("def tiny_cnn", "def ResNet50"), "bad.py:ResNet50", "name of a registry"),
        ("x = 1\n", "no_such_package.models:f", "cannot import no_such_package.models"),
    ],
)
def test_a_mistake_in_the_users_file_is_one_line_naming_it(
    content, model, message, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    if content is not None:
        (tmp_path / "bad.py").write_text(content)
    line = cli_error(capsys, "run", "--models", model, *DATA, "--out", str(tmp_path / "r"))
    assert message in line
    assert not (tmp_path / "r").exists()


def test_a_backbone_without_a_weights_parameter_says_how_to_train_it_from_scratch(tmp_path, capsys):
    path = tmp_path / "m.py"
    path.write_text(
        MODELS.replace('tiny_backbone(input_shape, weights="imagenet")', "b(input_shape)")
    )
    out = tmp_path / "r"
    args = ["run", "--models", f"{path}:b", *DATA, "--weights", "none", "--out", str(out)]
    result = run_here(capsys, *args, "--executor", "in-process", "--epochs-scratch", "1")
    assert result.returncode == 1
    error = pd.read_csv(out / "runs.csv").iloc[0]["error"]
    assert "cannot build it from random weights" in error and "`weights` parameter" in error


def test_the_documented_example_file_defines_both_kinds():
    example = ROOT / "examples" / "my_models.py"
    assert not registry.get(f"{example}:student_cnn").pretrained
    assert registry.get(f"{example}:small_mobilenet").module == str(example)


def test_two_models_of_one_name_from_different_files_are_refused(models_file, tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    (other / "my_models.py").write_text(MODELS + "\n# another file, the same function name\n")
    models = f"{models_file}:tiny_cnn,{other / 'my_models.py'}:tiny_cnn"
    line = cli_error(capsys, "run", "--models", models, *DATA, "--out", str(tmp_path / "r"))
    assert "two models named tiny_cnn" in line
