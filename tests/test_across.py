"""`bench report --across-datasets`: mean ranks over data sets, the Friedman test and the Nemenyi
critical difference (bench.reports.across), checked against Demšar's published example."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from bench.reports import across
from tests.helpers import bench_main, cli_error, run_row, write_fixture

# Demšar 2006, Table 6: AUC of C4.5 and its variants (m: tuned minimal examples in a leaf, cf:
# tuned confidence for pruning) on 14 data sets. Values as recalled; where a value was not
# certain (voting, C4.5+m+cf), one was chosen that gives the rank the table prints, so every
# rank, and the statistics the paper derives from them, are the paper's.
DEMSAR = pd.DataFrame(
    [
        [0.763, 0.768, 0.771, 0.798],  # adult (sample)
        [0.599, 0.591, 0.590, 0.569],  # breast cancer
        [0.954, 0.971, 0.968, 0.967],  # breast cancer wisconsin
        [0.628, 0.661, 0.654, 0.657],  # cmc
        [0.882, 0.888, 0.886, 0.898],  # ionosphere
        [0.936, 0.931, 0.916, 0.931],  # iris
        [0.661, 0.668, 0.609, 0.685],  # liver disorders
        [0.583, 0.583, 0.563, 0.625],  # lung cancer
        [0.775, 0.838, 0.866, 0.875],  # lymphography
        [1.000, 1.000, 1.000, 1.000],  # mushroom
        [0.940, 0.962, 0.965, 0.962],  # primary tumor
        [0.619, 0.666, 0.614, 0.669],  # rheum
        [0.972, 0.981, 0.975, 0.974],  # voting
        [0.957, 0.978, 0.946, 0.970],  # wine
    ],
    columns=["C4.5", "C4.5+m", "C4.5+cf", "C4.5+m+cf"],
).T  # models x data sets, as bench.reports.across holds scores


@pytest.fixture(scope="module")
def demsar() -> across.Across:
    return across.analyse(DEMSAR)


def test_mean_ranks_are_demsars(demsar):
    # The paper: 3.143, 2.000, 2.893, 1.964 (rank sums 44, 28, 40.5, 27.5 over 14 data sets).
    expected = {"C4.5": 44 / 14, "C4.5+m": 2.0, "C4.5+cf": 40.5 / 14, "C4.5+m+cf": 27.5 / 14}
    assert demsar.mean_ranks.to_dict() == pytest.approx(expected)
    assert list(demsar.mean_ranks.round(3)) == [1.964, 2.000, 2.893, 3.143]
    assert demsar.ranks.loc["C4.5", 5] == 1 and demsar.ranks.loc["C4.5+m", 5] == 2.5  # iris tie


def test_friedman_statistic_is_demsars_corrected_for_ties(demsar):
    n, k = 14, 4
    ranks = demsar.mean_ranks
    # Demšar's equation: chi2_F = 12N/(k(k+1)) [sum R_j^2 - k(k+1)^2/4] = 9.28 (no tie term).
    chi2_f = 12 * n / (k * (k + 1)) * ((ranks**2).sum() - k * (k + 1) ** 2 / 4)
    assert round(chi2_f, 2) == 9.28
    # scipy divides by 1 - sum(t^3 - t)/(N k (k^2 - 1)) over the groups of t tied values:
    # iris, lung cancer, primary tumor a pair each (6 each), mushroom all four (60).
    correction = 1 - (3 * 6 + 60) / (n * k * (k * k - 1))
    chi2, p = demsar.friedman
    assert chi2 == pytest.approx(chi2_f / correction) and chi2 == pytest.approx(10.2283, abs=1e-4)
    assert p < 0.05
    # Iman-Davenport from the paper's chi2_F: F_F = 13 * 9.28 / (14 * 3 - 9.28) = 3.69.
    f, f_p = across.iman_davenport(chi2_f, n, k)
    assert round(f, 2) == 3.69 and f_p < 0.05


def test_critical_difference_is_demsars(demsar):
    # q_0.05 = 2.569 for k = 4 (Demšar's Table 5); CD = 2.569 sqrt(4 * 5 / (6 * 14)) = 1.25.
    assert round(demsar.q_alpha, 3) == 2.569
    assert demsar.cd == pytest.approx(demsar.q_alpha * math.sqrt(20 / 84))
    assert round(demsar.cd, 2) == 1.25
    assert across.critical_difference(4, 14, alpha=0.10)[1] == pytest.approx(1.12, abs=0.005)


def test_nemenyi_pairs_are_those_farther_apart_than_the_cd(demsar):
    # C4.5 vs C4.5+m+cf differ by 1.179 < 1.25: no pair at 0.05 (at 0.10, CD 1.12, they would).
    assert demsar.pairs() == []
    ranks = demsar.mean_ranks
    for a in ranks.index:
        for b in ranks.index.drop(a):
            far = abs(ranks[a] - ranks[b]) > demsar.cd
            assert (demsar.nemenyi.loc[a, b] < across.ALPHA) == far
    assert 0.05 < demsar.nemenyi.loc["C4.5", "C4.5+m+cf"] < 0.10


# Test accuracy of the ranked phase on three data sets (two seeds: +-0.01). Ranks per data set:
#   ResNet50 1, 2, 1 (mean 1.333); MobileNetV2 2, 1, 2 (1.667); VGG16 3, 3, 3 (3.000).
#   DenseNet121 has no run on "mnistlike": listed, left out of the ranks and tests.
SCORES = {
    "cifarlike": {"ResNet50": 0.90, "MobileNetV2": 0.80, "VGG16": 0.70, "DenseNet121": 0.85},
    "svhnlike": {"ResNet50": 0.85, "MobileNetV2": 0.88, "VGG16": 0.60, "DenseNet121": 0.70},
    "mnistlike": {"ResNet50": 0.95, "MobileNetV2": 0.90, "VGG16": 0.50},
}


def rows_of(datasets: list[str], models: int = 4) -> list[dict]:
    rows = []
    for number, dataset in enumerate(datasets):
        for model, accuracy in list(SCORES[dataset].items())[:models]:
            for seed, step in enumerate((-0.01, 0.01)):
                fields = {"dataset": dataset, "data_fingerprint": f"fp-{dataset}"}
                fields["settings_hash"] = f"s{number}"
                rows.append(run_row(model, "finetune", seed, accuracy + step, **fields))
    return rows


def test_bench_report_across_datasets_writes_the_files_and_prints_the_table(tmp_path, capsys):
    write_fixture(tmp_path, rows_of(list(SCORES)))
    code, out, err = bench_main(capsys, "report", "--results", str(tmp_path), "--across-datasets")
    assert code == 0, err
    assert all((tmp_path / name).is_file() for name in across.FILES), err
    assert (tmp_path / "plots" / "critical_difference.png").read_bytes()[:4] == b"\x89PNG"
    lines = [line for line in out.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    assert cells[0] == ["model", "mean rank", "cifarlike (%)", "mnistlike (%)", "svhnlike (%)"]
    body = {row[0]: row[1:] for row in cells[2:]}
    assert body["ResNet50"] == ["1.333", "90.00", "95.00", "85.00"]
    assert body["MobileNetV2"][0] == "1.667" and body["VGG16"][0] == "3.000"
    assert body["DenseNet121"] == ["–", "85.00", "–", "70.00"]
    assert "Left out of the ranks and the tests: DenseNet121 (no ranked result on mnistlike)" in out
    markdown = (tmp_path / "across.md").read_text()
    assert "| **ResNet50** " not in markdown and "**1.333**" in markdown  # best mean rank bold
    assert "Friedman test over 3 models and 3 data sets: chi-square = 4.667" in markdown
    assert "CD = q_alpha sqrt(k(k+1)/(6N)) = 2.344" in markdown  # q_0.05 for k = 3
    tex = (tmp_path / "across.tex").read_text()
    assert "\\toprule" in tex and "S[table-format=1.3]" in tex and "resizebox" not in tex
    assert "\\label{tab:bench-across}" in tex and "ResNet50 & \\bfseries 1.333" in tex


def test_the_friedman_statistic_of_the_fixture_is_a_hand_computation():
    # Mean ranks 4/3, 5/3, 3 over N = 3, k = 3, no ties: 12*3/12 * (16/9 + 25/9 + 9 - 12) = 4.667.
    scores = pd.DataFrame(SCORES).drop("DenseNet121")
    made = across.analyse(scores)
    assert made.friedman[0] == pytest.approx(14 / 3)
    assert made.cd == pytest.approx(made.q_alpha * math.sqrt(3 * 4 / 18))


def test_one_data_set_is_one_clear_error(tmp_path, capsys):
    write_fixture(tmp_path, rows_of(["cifarlike"]))
    line = cli_error(capsys, "report", "--results", str(tmp_path), "--across-datasets")
    assert "needs runs on at least two data sets; here: cifarlike" in line


def test_fewer_than_three_models_in_common_is_one_clear_error(tmp_path, capsys):
    write_fixture(tmp_path, rows_of(["cifarlike", "svhnlike"], models=2))
    line = cli_error(capsys, "report", "--results", str(tmp_path), "--across-datasets")
    assert "at least 3 models with results on every data set" in line and "k >= 3" in line
