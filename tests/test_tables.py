"""bench report: aggregates over seeds, ranks and ties equal a hand computation on a fixture with
known values (tests/helpers.py); the Markdown file parses as the right table (ranking.tex:
tests/test_latex.py)."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from bench.errors import BenchError
from bench.reports import statistics, tables
from bench.reports.comparison import Comparison, load_comparison
from bench.results import ResultsStore
from tests.helpers import run_here, run_row, write_fixture

T_975_2DF = 4.302653  # Student's t, 97.5th percentile, 2 degrees of freedom (from a t table)


@pytest.fixture
def store(tmp_path) -> ResultsStore:
    return write_fixture(tmp_path)


@pytest.fixture
def comparison(store) -> Comparison:
    return load_comparison(store)


def by_model(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index("model")


def test_mean_std_n_and_interval_equal_a_hand_computation(comparison):
    table = by_model(statistics.ranking(comparison))
    # ResNet50 fine-tuned: .90 .92 .94 -> mean .92, std .02
    resnet = table.loc["ResNet50"]
    half = T_975_2DF * 0.02 / math.sqrt(3)
    assert resnet["score_mean"] == pytest.approx(0.92)
    assert resnet["score_std"] == pytest.approx(0.02)
    assert resnet["score_n"] == 3
    assert resnet["score_ci_low"] == pytest.approx(0.92 - half, abs=1e-6)
    assert resnet["score_ci_high"] == pytest.approx(0.92 + half, abs=1e-6)
    # MobileNetV2 fine-tuned: .88 .91 .88 -> mean .89, std sqrt(.0003)
    mobile = table.loc["MobileNetV2"]
    std = math.sqrt((0.01**2 + 0.02**2 + 0.01**2) / 2)
    assert mobile["score_mean"] == pytest.approx(0.89)
    assert mobile["score_std"] == pytest.approx(std)
    assert mobile["score_ci_low"] == pytest.approx(0.89 - T_975_2DF * std / math.sqrt(3), abs=1e-6)
    # A single seed has a mean and nothing else.
    dense = table.loc["DenseNet121"]
    assert dense["score_mean"] == pytest.approx(0.85) and dense["score_n"] == 1
    assert pd.isna(dense["score_std"]) and pd.isna(dense["score_ci_low"])


def test_each_phase_the_gain_and_a_joined_scratch_run(comparison):
    table = by_model(statistics.ranking(comparison))
    assert table.loc["ResNet50", "frozen_mean"] == pytest.approx(0.82)
    assert table.loc["MobileNetV2", "gain_mean"] == pytest.approx(0.18)  # .18 .20 .16
    assert table.loc["MobileNetV2", "gain_std"] == pytest.approx(0.02)
    # The --weights none run of ResNet50 (another settings hash, same protocol otherwise).
    assert table.loc["ResNet50", "scratch_mean"] == pytest.approx(0.50)
    assert table.loc["ResNet50", "scratch_n"] == 1
    assert table.loc["simple_cnn", "phase"] == "scratch"
    assert pd.isna(table.loc["simple_cnn", "frozen_mean"])
    assert table.loc["VGG16", "params_m_mean"] == pytest.approx(138.4)


def test_ranks_and_ties(comparison):
    table = statistics.ranking(comparison)
    assert list(table["model"]) == ["ResNet50", "MobileNetV2", "DenseNet121", "simple_cnn", "VGG16"]
    assert list(table["rank"]) == [1, 2, 3, 4, 5]
    # MobileNetV2's interval [.847, .933] overlaps ResNet50's [.870, .970]; VGG16's and
    # simple_cnn's end below .870; DenseNet121 has one seed, hence no interval.
    assert dict(zip(table["model"], table["tied"], strict=True)) == {
        "ResNet50": False,
        "MobileNetV2": True,
        "DenseNet121": False,
        "simple_cnn": False,
        "VGG16": False,
    }


def test_rank_another_phase_and_a_lower_is_better_metric(comparison):
    frozen = statistics.ranking(comparison, phase="frozen")
    assert list(frozen["model"]) == [
        "ResNet50",
        "DenseNet121",
        "MobileNetV2",
        "VGG16",
        "simple_cnn",
    ]
    assert pd.isna(frozen["rank"].iloc[-1])  # simple_cnn has no frozen phase: listed, unranked
    assert not frozen["tied"].any()  # [.770, .870] against MobileNetV2's [.685, .735]
    fastest = statistics.ranking(comparison, metric="time_per_epoch_s")
    assert fastest["model"].iloc[0] == "DenseNet121"  # 1.0 s against 2.0 s for the others
    assert list(fastest["rank"]) == [1, 2, 2, 2, 2]


def test_summary_has_one_row_per_model_phase_and_settings(comparison):
    summary = statistics.summary(comparison)
    assert len(summary) == 10  # 4 backbones x 2 phases, simple_cnn, ResNet50 from scratch
    row = summary[(summary["model"] == "ResNet50") & (summary["phase"] == "frozen")].iloc[0]
    assert row["test_accuracy_mean"] == pytest.approx(0.82)
    assert row["test_accuracy_std"] == pytest.approx(0.02)
    assert row["test_accuracy_n"] == 3 and row["seeds"] == 3
    assert row["test_accuracy_ci_high"] == pytest.approx(0.82 + T_975_2DF * 0.02 / 3**0.5, 1e-6)
    assert row["settings_hash"] == "aaaa" and row["params_total"] == 25_600_000


def test_the_latest_comparison_by_default_others_on_request(store, comparison):
    assert set(comparison.runs["settings_hash"]) == {"aaaa", "bbbb"}
    assert comparison.others == ["digits, 32 px, weights none, tensorflow, 1 seed, settings cccc"]
    digits = load_comparison(store, settings="cc")
    assert list(digits.ok["model"]) == ["simple_cnn"]
    assert load_comparison(store, dataset="digits").runs.equals(digits.runs)
    some = load_comparison(store, models=["family:resnet", "VGG16"])
    assert set(some.runs["model"]) == {"ResNet50", "VGG16"}


@pytest.mark.parametrize(
    "choice, message",
    [
        ({"settings": "zzzz"}, "no runs with settings 'zzzz'"),
        ({"dataset": "mnist"}, "no runs on data set 'mnist'"),
        ({"models": ["Xception"]}, "no runs of Xception"),
    ],
)
def test_a_selection_that_matches_nothing_says_what_exists(store, choice, message):
    with pytest.raises(BenchError, match=re.escape(message)):
        load_comparison(store, **choice)


def test_unknown_metric_or_phase_is_refused_with_a_suggestion(comparison):
    with pytest.raises(BenchError, match="did you mean test_accuracy"):
        statistics.ranking(comparison, metric="test_acuracy")
    with pytest.raises(BenchError, match="unknown phase"):
        statistics.ranking(comparison, phase="warmup")


def markdown_table(text: str) -> tuple[list[str], list[list[str]]]:
    lines = [line for line in text.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    assert set(lines[1]) <= set("|-: "), "the second line separates header and rows"
    return cells[0], cells[2:]


EXPECTED_HEADER = [
    "rank",
    "model",
    "family",
    "seeds",
    "params (M)",
    "GMACs",
    "frozen acc (%)",
    "fine-tuned acc (%)",
    "gain (pp)",
    "scratch acc (%)",
    "efficiency (%/M)",
    "overfit gap (pp)",
    "time/epoch (s)",
    "train img/s",
]  # no "peak GPU mem (MiB)": no run had a GPU, and the notes say so


def test_markdown_parses_as_the_ranked_table_with_failures_below(comparison):
    made = tables.build(comparison)
    text = tables.markdown(made)
    header, rows = markdown_table(text)
    assert header == EXPECTED_HEADER
    assert [r[1] for r in rows] == ["ResNet50", "MobileNetV2", "DenseNet121", "simple_cnn", "VGG16"]
    assert all(len(r) == len(header) for r in rows)
    assert rows[0][0] == "1" and rows[1][0] == "2†" and rows[2][0] == "3"
    assert rows[0][7] == "**92.00 ± 2.00**"  # best fine-tuned accuracy, in bold
    assert rows[2][7] == "85.00"  # one seed: no spread
    assert rows[3][9] == "**76.00 ± 1.00**" and rows[3][6] == "–"
    assert rows[1][8] == "**18.00 ± 2.00**"  # the largest gain
    assert "peak GPU mem (MiB) (no GPU in these runs)" in text
    assert "- EfficientNetB0 seed=0 setup: ValueError: boom" in text


def test_a_model_without_the_ranked_phase_is_listed_unranked_not_flagged(comparison):
    made = tables.build(comparison, phase="frozen")
    assert made.rows[-1][:2] == ["–", "simple_cnn"], "no frozen phase: no rank, no ‡"


def test_all_equal_columns_have_no_bold(comparison):
    made = tables.build(comparison)
    gap = made.header.index("overfit gap (pp)")
    assert not any(flags[gap] for flags in made.bold)  # 5.00 everywhere


def test_bench_report_writes_the_three_files_and_prints_the_table(store, capsys):
    result = run_here(capsys, "report", "--results", str(store.folder))
    assert result.returncode == 0, result.stderr
    assert "| 2†     | MobileNetV2" in result.stdout or "2†" in result.stdout
    assert "failed run: EfficientNetB0" in result.stdout
    assert "1 other comparison(s)" in result.stderr
    for name in ("summary.csv", "ranking.md", "ranking.tex"):
        assert (store.folder / name).stat().st_size > 0
    assert len(pd.read_csv(store.folder / "summary.csv")) == 10
    printed = run_here(capsys, "report", "--results", str(store.folder), "--format", "tex")
    assert printed.stdout == (store.folder / "ranking.tex").read_text()


def test_bench_report_filters_and_writes_elsewhere(store, tmp_path, capsys):
    out = tmp_path / "paper"
    result = run_here(
        capsys,
        "report",
        "--results",
        str(store.folder),
        "--models",
        "ResNet50,simple_cnn",
        "--out",
        str(out),
        "--format",
        "md",
    )
    assert result.returncode == 0, result.stderr
    _, rows = markdown_table((out / "ranking.md").read_text())
    assert [r[1] for r in rows] == ["ResNet50", "simple_cnn"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--metric", "acuracy"], "cannot rank by 'acuracy'"),
        (["--dataset", "mnist"], "no runs on data set 'mnist'"),
        (["--models", "ResNet5O"], "did you mean"),
    ],
)
def test_bench_report_bad_input_is_one_clear_line(store, args, message, capsys):
    result = run_here(capsys, "report", "--results", str(store.folder), *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_bench_report_on_a_folder_without_results(tmp_path, capsys):
    result = run_here(capsys, "report", "--results", str(tmp_path / "nothing"))
    assert result.returncode == 2 and "no runs in" in result.stderr


def test_results_of_an_older_version_still_report(store):
    """runs.csv without later columns (gmacs) and no confusion.csv: reported, nothing invented."""
    runs = pd.read_csv(store.path("runs")).drop(columns=["gmacs"])
    runs.to_csv(store.path("runs"), index=False)
    store.path("confusion").unlink()
    made = tables.build(load_comparison(store))
    assert "GMACs" not in made.header and "GMACs (not measured)" in " ".join(made.notes)


def test_a_csv_that_is_not_a_results_file_is_refused(tmp_path, capsys):
    (tmp_path / "runs.csv").write_text("a,b\n1,2\n")
    result = run_here(capsys, "report", "--results", str(tmp_path))
    assert result.returncode == 2 and "not a bench results file" in result.stderr


def test_a_comparison_of_rows_from_different_devices_is_warned_about(tmp_path):
    rows = [
        run_row("simple_cnn", "scratch", seed, 0.7, weights="none", device=device)
        for seed, device in enumerate(["NVIDIA H100", "NVIDIA A100", "NVIDIA H100"])
    ]
    write_fixture(tmp_path, rows)
    made, _, _ = tables.make(tmp_path, tmp_path / "out")
    (warning,) = [n for n in made.notes if n.startswith("Warning")]
    assert "2 different devices (NVIDIA A100; NVIDIA H100)" in warning
    same = [run_row("simple_cnn", "scratch", s, 0.7, weights="none") for s in (0, 1)]
    write_fixture(tmp_path / "same", same)
    made, _, _ = tables.make(tmp_path / "same", tmp_path / "out2")
    assert not [n for n in made.notes if n.startswith("Warning")]
