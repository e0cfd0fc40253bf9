"""Settings: defaults <- file <- suite <- flags, and every bad value named in one line."""

from __future__ import annotations

import pytest

from bench.errors import BenchError
from bench.settings import Settings
from bench.settings.loading import ROOT_CONFIG, load_config, resolve


def write(tmp_path, text: str):
    path = tmp_path / "bench.toml"
    path.write_text(text)
    return path


def test_project_file_has_the_required_suites():
    config = load_config(ROOT_CONFIG)
    smoke = resolve(config, "smoke", {})
    reviewer = resolve(config, "reviewer", {})
    assert reviewer.probe and reviewer.train_per_class == [1, 5, 10, 50, "all"]
    assert reviewer.corruptions == ["all"] and not smoke.probe and not smoke.corruptions
    assert smoke.dataset == "digits" and smoke.weights == "none" and "simple_cnn" in smoke.models
    cifar = resolve(config, "cifar10", {})
    assert len(cifar.models) == 10 and cifar.image_size >= 224


def test_precedence_defaults_file_suite_flags(tmp_path):
    path = write(
        tmp_path,
        """
[defaults]
batch_size = 16
epochs_frozen = 4
[suites.quick]
epochs_frozen = 2
models = ["simple_cnn"]
""",
    )
    settings = resolve(load_config(path), "quick", {"epochs_frozen": 1, "patience": None})
    assert settings.batch_size == 16 and settings.epochs_frozen == 1
    assert settings.patience == Settings().patience and settings.suite == "quick"


@pytest.mark.parametrize(
    "text, message",
    [
        ("[defaults]\nbatch_sise = 3", "unknown setting 'batch_sise'; did you mean batch_size?"),
        ("[defaults]\nepochs_frozen = 'ten'", "setting 'epochs_frozen' must be of type int"),
        ("[defaults]\naugment = 1", "setting 'augment' must be of type bool"),
        ("[suites.x]\nseeds = [0, 'a']", "[suites.x]: setting 'seeds' must be of type int"),
        ("[defaults\n", "not valid TOML"),
        ("[protocol]\nx = 1", "unknown section 'protocol'"),
    ],
)
def test_invalid_files_name_the_problem(tmp_path, text, message):
    with pytest.raises(BenchError) as err:
        load_config(write(tmp_path, text))
    assert message in str(err.value)


@pytest.mark.parametrize(
    "override, message",
    [
        ({"epochs_frozen": -1}, "epochs_frozen=-1"),
        ({"val_fraction": 1.5}, "val_fraction=1.5"),
        ({"unfreeze": 1.5}, "unfreeze"),
        ({"image_size": 16}, "image_size=16"),
    ],
)
def test_impossible_values_are_rejected(override, message):
    with pytest.raises(BenchError, match=message):
        resolve(load_config(ROOT_CONFIG), None, override)


def test_unknown_suite_lists_the_known_ones():
    with pytest.raises(BenchError, match="unknown suite 'smok'.*smoke"):
        resolve(load_config(ROOT_CONFIG), "smok", {})


def test_unfreeze_keeps_counts_and_fractions_apart(tmp_path):
    assert (
        resolve(load_config(write(tmp_path, "[defaults]\nunfreeze = 20")), None, {}).unfreeze == 20
    )
    assert isinstance(resolve(load_config(ROOT_CONFIG), None, {"unfreeze": 1.0}).unfreeze, float)
