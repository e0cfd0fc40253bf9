"""Runs that learned nothing (chance level, a diverged loss) are flagged in runs.csv, warned
about at the end of the run, marked and left unranked in every table, drawn hollow off the
Pareto front, and given no p-value by bench compare."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection

from bench.measure import health
from bench.reports import statistics, tables
from bench.reports.comparison import load_comparison
from bench.reports.plots.bars import phases, throughput
from bench.reports.plots.base import FLAGGED_COLOR
from bench.reports.plots.scatter import accuracy_vs
from bench.results import ResultsStore
from tests.helpers import TINY, bench_main, run_cli, run_here, runs, write_fixture


def confusion(correct: int, classes: int = 10, per_class: int = 10) -> np.ndarray:
    """`correct` right answers among classes * per_class test images, balanced classes."""
    matrix = np.zeros((classes, classes), int)
    for i in range(classes):
        right = min(per_class, max(0, correct - i * per_class))
        matrix[i, i], matrix[i, (i + 1) % classes] = right, per_class - right
    return matrix


def test_chance_is_the_most_frequent_class_and_the_binomial_test_draws_the_line():
    assert health.chance_accuracy(confusion(50)) == pytest.approx(0.1)
    skewed = np.array([[70, 0], [30, 0]])  # always guessing class 0 scores 70%
    assert health.chance_accuracy(skewed) == pytest.approx(0.7)
    assert health.flag(skewed, [0.6, 0.5]) == "chance"
    # 100 images of 10 classes: 18 right is p = 0.0100 (chance), 19 right p = 0.0046.
    assert health.flag(confusion(18), [2.0]) == "chance"
    assert health.flag(confusion(19), [2.0]) == ""
    assert health.above_chance_p(confusion(19)) == pytest.approx(0.004581, abs=1e-5)


@pytest.mark.parametrize("losses", [[2.3, math.nan], [math.inf], [2.3, 8.6e12], [24.0]])
def test_a_loss_not_finite_or_above_ten_uniform_guesses_has_diverged(losses):
    assert health.diverged(losses, num_classes=10)  # 10 ln 10 = 23.0
    assert health.flag(confusion(90), losses) == "diverged", "the cause, whatever the accuracy"


def test_a_loss_that_falls_as_training_does_has_not_diverged():
    assert not health.diverged([2.9, 2.1, 1.2, 0.4], num_classes=10)


@pytest.fixture
def flagged_folder(tmp_path):
    """The fixture with ResNet50, its best model, flagged at chance in all three seeds."""
    rows = []
    for row in runs():
        if row["model"] == "ResNet50" and row["phase"] == "finetune":
            row = dict(row, flag="chance", chance_accuracy=0.34, above_chance_p=0.5)
        rows.append(row)
    write_fixture(tmp_path, rows)
    return tmp_path


def test_a_flagged_model_is_listed_marked_and_not_ranked(flagged_folder):
    comparison = load_comparison(ResultsStore(flagged_folder, create=False))
    table = statistics.ranking(comparison).set_index("model")
    assert pd.isna(table.loc["ResNet50", "rank"]) and table.loc["ResNet50", "flagged"] == 3
    assert table.loc["MobileNetV2", "rank"] == 1, "the best of the unflagged models"
    assert not table.loc["ResNet50", "tied"]

    report = tables.build(comparison)
    row = next(r for r in report.rows if r[1].startswith("ResNet50"))
    assert row[:2] == ["–", f"ResNet50 {tables.FLAG_MARK}"]
    assert report.rows[-1] == row, "after the ranked models"
    note = next(n for n in report.notes if n.startswith(tables.FLAG_MARK))
    assert "ResNet50 (chance: 3 of 3 runs)" in note and "binomial" in note
    assert "diverged" not in note, "only the flags present are explained"
    assert "$^\\ddagger$" in tables.latex(report) and tables.FLAG_MARK in tables.markdown(report)


def test_report_html_marks_and_explains_the_flagged_model(flagged_folder, capsys):
    code, _, err = bench_main(capsys, "report", "--results", str(flagged_folder), "--html")
    assert code == 0, err
    page = (flagged_folder / "report.html").read_text()
    assert f"ResNet50 {tables.FLAG_MARK}" in page and "Not ranked: ResNet50" in page


def test_flagged_points_are_hollow_and_off_the_pareto_front(flagged_folder):
    table = statistics.ranking(load_comparison(ResultsStore(flagged_folder, create=False)))
    figure = accuracy_vs(table, "params_m", "parameters")
    ax = figure.axes[0]
    drawn = [c for c in ax.collections if isinstance(c, PathCollection)]
    hollow = [c for c in drawn if c.get_label().startswith("not ranked")]
    assert len(hollow) == 1 and len(hollow[0].get_offsets()) == 1
    assert hollow[0].get_facecolors().size == 0 or hollow[0].get_facecolors()[0][3] == 0
    front = next(line for line in ax.lines if line.get_label() == "Pareto front")
    resnet = table.set_index("model").loc["ResNet50"]
    assert resnet["params_m_mean"] not in list(front.get_xdata())


def test_per_model_charts_grey_and_mark_the_flagged_model(flagged_folder):
    comparison = load_comparison(ResultsStore(flagged_folder, create=False))
    table = statistics.ranking(comparison)
    for draw in (phases, throughput):
        labels = {
            t.get_text(): t.get_color() for t in draw(comparison, table).axes[0].get_yticklabels()
        }
        assert labels[f"ResNet50 {tables.FLAG_MARK}"] == FLAGGED_COLOR
        assert labels["MobileNetV2"] != FLAGGED_COLOR


def test_compare_gives_flagged_runs_no_p_value(flagged_folder, tmp_path, capsys):
    other = write_fixture(tmp_path / "other").folder
    code, out, err = bench_main(capsys, "compare", str(other), str(flagged_folder))
    assert code == 0, err
    line = next(x for x in out.splitlines() if "ResNet50" in x and "finetune" in x)
    assert tables.FLAG_MARK in line and "0.000" not in line and "1.000" not in line
    assert "no p-value" in out


def test_a_real_diverged_run_is_flagged_warned_and_not_ranked(tmp_path, capsys, caplog):
    """--lr-scratch 50: the loss reaches 1e13, the test accuracy 10%, and the run says why."""
    out = tmp_path / "results"
    args = ["run", "--models", "simple_cnn", "--out", str(out), *TINY, "--lr-scratch", "50"]
    result = run_here(capsys, *args, "--executor", "in-process")
    assert result.returncode == 0, result.stderr
    row = pd.read_csv(out / "runs.csv").iloc[0]
    assert row["flag"] == "diverged" and row["chance_accuracy"] == pytest.approx(0.1, abs=0.03)
    assert "loss exploded" in caplog.text and "try --lr-scratch 5" in caplog.text
    ranking = (out / "ranking.md").read_text()
    assert f"| – | simple_cnn {tables.FLAG_MARK} |" in " ".join(ranking.split())
    assert "simple_cnn (diverged: 1 of 1 runs)" in ranking


@pytest.mark.slow
def test_a_mobilenet_from_scratch_at_chance_is_flagged_with_its_likely_cause(tmp_path):
    """The issue's case: MobileNetV3Small from scratch, two epochs, predicts one class at test
    time (its BatchNormalization statistics lag), at exactly 10%."""
    out = tmp_path / "results"
    args = ["run", "--models", "MobileNetV3Small", "--out", str(out), *TINY, "--image-size", "32"]
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    row = pd.read_csv(out / "runs.csv").iloc[0]
    assert row["flag"] == "chance" and row["above_chance_p"] >= health.ALPHA
    warning = next(line for line in result.stderr.splitlines() if "WARNING" in line)
    assert "BatchNormalization" in warning and "--epochs-scratch" in warning
    assert "Not ranked: MobileNetV3Small (chance: 1 of 1 runs)" in (out / "ranking.md").read_text()
