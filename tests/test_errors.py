"""Every bad input is one clear line and a non-zero exit, never a traceback, and nothing is
written: bad data, models, sizes, weights, settings, output folders."""

from __future__ import annotations

import logging
import os

import pytest

import bench
from bench import cli
from bench.errors import BenchError
from tests.helpers import (
    TINY,
    bench_main,
    class_folders,
    cli_error,
    run_cli,
    run_row,
    write_fixture,
)


def test_bad_data_is_one_clear_line(tmp_path, capsys, run_args):
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = {
        "unknown data set 'imagenet'": ["--dataset", "imagenet"],
        "needs at least two class folders, found 0": ["--dataset", f"folder:{empty}"],
        "holds no images": [
            "--dataset",
            f"folder:{class_folders(tmp_path / 'one_empty', {'a': 3, 'b': 0})}",
        ],
        "needs at least two class folders, found 1": [
            "--dataset",
            f"folder:{class_folders(tmp_path / 'single', {'a': 3})}",
        ],
        "data folder not found": ["--dataset", f"folder:{tmp_path / 'nowhere'}"],
    }
    different = tmp_path / "differ"
    class_folders(different / "train", {"cat": 3, "dog": 3})
    class_folders(different / "test", {"cat": 3, "cow": 3})
    cases["train and test class folders differ"] = ["--dataset", f"folder:{different}"]
    for message, extra in cases.items():
        assert message in cli_error(capsys, *run_args(*extra)), message
    assert not (tmp_path / "out" / "runs.csv").exists()


def test_unreadable_hidden_and_non_image_files_are_skipped_and_counted(tmp_path, caplog):
    from bench.data import load_dataset

    root = class_folders(tmp_path / "data", {"a": 4, "b": 4})
    (root / "a" / "truncated.png").write_bytes((root / "a" / "0.png").read_bytes()[:40])
    (root / "a" / "notes.txt").write_text("not an image")
    (root / "b" / ".hidden.png").write_bytes((root / "b" / "0.png").read_bytes())
    (root / ".cache").mkdir()
    with caplog.at_level(logging.WARNING, logger="bench"):
        data = load_dataset(f"folder:{root}", test_fraction=0.25)
    assert len(data.y_train) + len(data.y_test) == 8  # the eight real images only
    assert data.class_names == ["a", "b"]
    assert "skipped 1 non-image files" in caplog.text
    assert "skipped 1 unreadable image files" in caplog.text


def test_the_warning_that_explains_an_error_comes_before_it(tmp_path):
    """A folder of text files: "skipped 3 non-image files" first, then the error, as a user's
    terminal shows them (a fresh process: its standard error goes through bench's filter)."""
    root = tmp_path / "data"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(3):
            (root / name / f"{i}.txt").write_text("not an image")
    args = ["run", "--models", "simple_cnn", "--dataset", f"folder:{root}"]
    result = run_cli(*args, "--out", str(tmp_path / "out"))
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("bench:")]
    assert "skipped 3 non-image files" in lines[0] and "holds no images" in lines[-1], lines


def test_bad_models_sizes_and_weights_are_one_clear_line(tmp_path, capsys, run_args):
    garbage = tmp_path / "garbage.weights.h5"
    garbage.write_bytes(os.urandom(2048))
    base = ["run", "--dataset", "digits", "--out", str(tmp_path / "out")]
    cases = {
        "unknown model 'resnet05'": ["--models", "resnet05"],
        "unknown family": ["--models", "family:resnt"],
        "InceptionV3 needs images of at least 75x75": [
            "--models",
            "InceptionV3",
            "--image-size",
            "64",
        ],
        "invalid setting image_size=16": ["--models", "simple_cnn", "--image-size", "16"],
        "weights file not found": ["--models", "MobileNetV2", "--weights", "/nowhere.h5"],
        "is not a Keras weights file": ["--models", "MobileNetV2", "--weights", str(garbage)],
    }
    for message, extra in cases.items():
        assert message in cli_error(capsys, *base, *extra), message


def test_bad_settings_are_one_clear_line(tmp_path, capsys, run_args):
    files = {
        "not valid TOML": "[defaults\n",
        "unknown setting 'epoch_frozen'; did you mean epochs_frozen?": "[defaults]\n"
        "epoch_frozen = 3\n",
        "setting 'batch_size' must be of type int": "[defaults]\nbatch_size = 'big'\n",
        "invalid setting epochs_scratch=-1": "[defaults]\nepochs_scratch = -1\n",
        "invalid setting val_fraction=1.5": "[defaults]\nval_fraction = 1.5\n",
    }
    for message, text in files.items():
        config = tmp_path / "bad.toml"
        config.write_text(text)
        run = ["run", "--config", str(config), "--models", "simple_cnn"]
        assert message in cli_error(capsys, *run, "--out", str(tmp_path / "o")), message
    assert "settings file not found" in cli_error(
        capsys, "run", "--config", str(tmp_path / "none.toml"), "--models", "simple_cnn"
    )


def test_an_output_folder_that_cannot_be_written_is_refused_first(tmp_path, capsys, run_args):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder should be")
    message = cli_error(capsys, *run_args("--out", str(blocked / "results")))
    assert "cannot write results to" in message


def test_debug_lets_the_error_through_with_its_traceback(tmp_path):
    with pytest.raises(BenchError, match="unknown model 'resnet05'"):
        cli.main(["--debug", "run", "--models", "resnet05", "--dataset", "digits"])


def test_what_a_run_would_only_meet_later_is_refused_first_and_writes_nothing(
    tmp_path, capsys, run_args
):
    out = tmp_path / "out"
    cases = {
        "limit=3: 3 images cannot hold all 10 classes": ["--limit", "3"],
        "test_limit=3: 3 images cannot hold all 10 classes": ["--test-limit", "3"],
        "validation split (val_fraction): 0.1 of 50 images": ["--limit", "50"],
        "invalid setting seeds=[-1]": ["--seeds", "-1"],
        "invalid setting seeds=[0, 0]: names a seed twice": ["--seeds", "0,0"],
        "nothing to run": ["--epochs-scratch", "0"],
    }
    for message, extra in cases.items():
        assert message in cli_error(capsys, *run_args(*extra)), message
    assert not out.exists(), "a refused run creates no results folder"
    out.mkdir()
    (out / "env.json").write_text("{}")  # a refused run leaves what is there alone
    cli_error(capsys, *run_args("--limit", "3"))
    assert (out / "env.json").read_text() == "{}" and sorted(out.iterdir()) == [out / "env.json"]


def test_a_refused_run_is_one_line_through_the_bench_command(tmp_path, run_args):
    result = run_cli(*run_args("--limit", "3"))
    assert result.returncode == 2 and "Traceback" not in result.stderr + result.stdout
    assert result.stderr.strip().splitlines() == [
        "bench: error: limit=3: 3 images cannot hold all 10 classes"
    ]
    assert not (tmp_path / "out").exists()


def test_empty_runs_csv_missing_backend_and_overlong_names_are_one_line(
    tmp_path, capsys, run_args, monkeypatch
):
    (tmp_path / "runs.csv").write_text("")
    assert "no runs in" in cli_error(capsys, "report", "--results", str(tmp_path))
    long_name = "a" * 300
    message = cli_error(capsys, *run_args("--out", str(tmp_path / long_name / "results")))
    assert "File name too long" in message and len(message) < 400
    config = tmp_path / "huge.toml"
    config.write_text(f'[defaults]\nout = "{tmp_path}/{"b" * 5_000_000}"\n')
    message = cli_error(capsys, "run", "--config", str(config), "--models", "simple_cnn", *TINY)
    assert "File name too long" in message and len(message) < 400
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "jax" else real(name, *a)
    )
    message = cli_error(capsys, *run_args("--backend", "jax"))
    assert "backend='jax': is not installed (pip install -e '.[jax]')" in message


def test_a_report_with_nothing_to_rank_is_refused_and_writes_nothing(tmp_path, capsys):

    write_fixture(tmp_path, [run_row("simple_cnn", "scratch", 0, 0.7, weights="none")])
    message = cli_error(capsys, "report", "--results", str(tmp_path), "--phase", "frozen")
    assert "nothing to rank" in message and "frozen phase" in message
    assert not (tmp_path / "ranking.md").exists() and not (tmp_path / "summary.csv").exists()


def one_line(err: str) -> str:
    """argparse's error, alone on its line (no usage block before it)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_flag_errors_are_one_line_with_a_suggestion_and_no_abbreviations(capsys):
    code, _, err = bench_main(capsys, "run", "--seeds", "0-x")
    assert code == 2 and "expected a comma list of int (0,1,2 or 0-2)" in one_line(err)
    code, _, err = bench_main(capsys, "run", "--epoch-scratch", "1")
    assert code == 2 and "did you mean --epochs-scratch?" in one_line(err)
    code, _, err = bench_main(capsys, "run", "--lim", "200")  # not silently --limit
    assert code == 2 and "unrecognized arguments: --lim" in one_line(err)


def test_seeds_take_ranges(capsys):
    from bench.cli import build_parser

    parsed = build_parser().parse_args(["run", "--seeds", "0-2,5"])
    assert parsed.seeds == [0, 1, 2, 5]
    code, _, err = bench_main(capsys, "run", "--seeds", "3-1")
    assert code == 2 and "got '3-1'" in one_line(err)


def test_a_mistyped_compare_folder_is_named_as_a_missing_folder(tmp_path, capsys):
    write_fixture(tmp_path / "a")
    missing = str(tmp_path / "resutls")
    code, _, err = bench_main(capsys, "compare", str(tmp_path / "a"), missing)
    assert code == 2 and f"no results folder {missing}" in err and "runs.csv" not in err


def test_an_unknown_keyword_of_bench_run_is_not_called_a_command_line(tmp_path):
    with pytest.raises(BenchError, match="given settings .*unknown setting 'epoch_scratch'") as e:
        bench.run("simple_cnn", epoch_scratch=1, out=str(tmp_path))
    assert "command line" not in str(e.value) and "epochs_scratch" in str(e.value)
