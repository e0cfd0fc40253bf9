"""`bench compare`: two results folders (or two settings of one) with known values
(tests/helpers.py); differences, ratios and Welch's p-values checked against a hand
computation."""

from __future__ import annotations

import io
import math
import statistics

import pandas as pd
import pytest
from scipy import stats

from tests.helpers import bench_main, runs, write_fixture


@pytest.fixture
def two_folders(tmp_path):
    """B: ResNet50 fine-tuned 5 points better, every epoch twice as long, on JAX; MobileNetV2
    only in A, DenseNet121 renamed Xception (only in B)."""
    write_fixture(tmp_path / "A")
    rows = []
    for row in runs():
        if row["model"] == "MobileNetV2":
            continue
        row = dict(row, backend="jax")
        if row["model"] == "DenseNet121":
            row.update(model="Xception", run_id=row["run_id"].replace("DenseNet121", "Xception"))
        if row["model"] == "ResNet50" and row["phase"] == "finetune":
            row["test_accuracy"] += 0.05
        if row["time_per_epoch_s"] is not None:
            row["time_per_epoch_s"] *= 2
        rows.append(row)
    write_fixture(tmp_path / "B", rows)
    return tmp_path / "A", tmp_path / "B"


def welch_by_hand(x: list[float], y: list[float]) -> float:
    va, vb = statistics.variance(x) / len(x), statistics.variance(y) / len(y)
    t = (statistics.mean(y) - statistics.mean(x)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(x) - 1) + vb**2 / (len(y) - 1))
    return 2 * stats.t.sf(abs(t), df)


def test_compare_two_folders_against_a_hand_computation(two_folders, capsys):
    a, b = two_folders
    code, out, err = bench_main(capsys, "compare", str(a), str(b), "--format", "csv")
    assert code == 0, err
    frame = pd.read_csv(io.StringIO(out)).set_index(["model", "phase"])
    resnet = frame.loc[("ResNet50", "finetune")]
    assert resnet["test_accuracy_diff"] == pytest.approx(0.05)
    expected = welch_by_hand([0.90, 0.92, 0.94], [0.95, 0.97, 0.99])
    assert resnet["test_accuracy_p"] == pytest.approx(expected) and expected < 0.05
    assert frame.loc[("ResNet50", "frozen"), "test_accuracy_p"] == pytest.approx(1.0)
    assert (frame["time_per_epoch_s_ratio"] == 2.0).all()
    assert (frame["train_images_per_s_ratio"] == 1.0).all()
    assert frame["peak_gpu_mem_mb_ratio"].isna().all()  # a CPU: no GPU memory either side
    assert pd.isna(frame.loc[("ResNet50", "scratch"), "test_accuracy_p"])  # one seed a side
    models = set(frame.index.get_level_values("model"))
    assert models == {"ResNet50", "VGG16", "simple_cnn"}
    assert "only in A: DenseNet121, MobileNetV2" in err and "only in B: Xception" in err
    assert "differs: backend: tensorflow -> jax" in err

    code, out, _ = bench_main(capsys, "compare", str(a), str(b))
    assert code == 0
    line = next(x for x in out.splitlines() if "ResNet50" in x and "finetune" in x)
    assert "+5.00*" in line and f"{expected:.3f}" in line and "2.00x" in line
    assert "92.00 ± 2.00" in line and "97.00 ± 2.00" in line


def test_compare_two_settings_of_one_folder_and_every_format(two_folders, capsys):
    a, _ = two_folders
    args = ["compare", "aaaa", "cccc", "--results", str(a)]
    code, out, err = bench_main(capsys, *args, "--format", "md")
    assert code == 0, err
    assert "differs: dataset: cifarlike -> digits" in out
    row = next(x for x in out.splitlines() if x.startswith("| simple_cnn"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[:7] == ["simple_cnn", "scratch", "3/1", "76.00 ± 1.00", "95.00", "+19.00", ""]
    code, out, _ = bench_main(capsys, *args, "--format", "tex")
    assert code == 0 and "\\toprule" in out and "simple\\_cnn" in out
    code, out, _ = bench_main(capsys, *args, "--format", "html")
    assert out.count("<table") == 1 and out.count("<tr") == 2  # the header and simple_cnn
    assert "<td>simple_cnn</td>" in out and "<td>+19.00</td>" in out


def test_compare_says_what_it_cannot_compare(two_folders, tmp_path, capsys):
    a, b = two_folders
    code, _, err = bench_main(capsys, "compare", str(a), "nope", "--results", str(b))
    assert code != 0 and "no results folder nope (and 'nope' is no settings hash)" in err
    code, _, err = bench_main(capsys, "compare", str(a), "eeee", "--results", str(tmp_path))
    assert code != 0 and "'eeee' is neither a results folder nor a settings hash" in err
    code, _, err = bench_main(capsys, "compare", str(a), "eeee", "--results", str(b))
    assert code != 0 and "no runs with settings 'eeee' here; these exist: aaaa" in err
    code, _, err = bench_main(capsys, "compare", "dddd", "aaaa", "--results", str(a))
    assert code != 0 and "no runs with settings 'dddd'" in err
    code, _, err = bench_main(capsys, "compare", str(a), str(b), "--models", "MobileNetV2")
    assert code != 0 and "no runs of MobileNetV2" in err
