"""bench plot: every figure is written and non-empty, also with missing figures (no GPU memory,
one seed, a failed model, nothing but failures); the Pareto front and epoch axis are right."""

from __future__ import annotations

import itertools

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.patches import Rectangle
from PIL import Image

from bench.common.files import write_atomically
from bench.reports import plots, statistics
from bench.reports.comparison import Comparison, load_comparison
from bench.reports.plots.bars import gpu_memory, phases, throughput
from bench.reports.plots.base import Missing, plain_log_axis, short_label
from bench.reports.plots.classes import per_class_accuracy
from bench.reports.plots.curves import continuous_epochs, training_curves
from bench.reports.plots.scatter import accuracy_vs, pareto_front
from tests import helpers
from tests.helpers import run_here, run_row, runs, write_fixture

matplotlib.use("Agg")


def assert_figures(paths, folder, formats=("png",)) -> None:
    expected = {folder / f"{name}.{fmt}" for name in plots.FIGURES for fmt in formats}
    assert set(paths) == expected | {folder / "captions.md"}
    captions = (folder / "captions.md").read_text()
    for name in plots.FIGURES:
        assert f"## {name}\n" in captions and f"`{name}.{formats[0]}`" in captions, name
    for path in expected:
        assert path.stat().st_size > 1000, path
        if path.suffix == ".png":
            with Image.open(path) as image:
                assert image.width > 300 and image.height > 150
        if path.suffix == ".pdf":
            assert path.read_bytes().startswith(b"%PDF")


def test_every_figure_in_png_and_pdf(tmp_path):
    comparison = load_comparison(write_fixture(tmp_path / "results"))
    out = tmp_path / "new" / "plots"  # made by draw_all, as bench plot makes it
    paths = plots.draw_all(comparison, out, formats=("png", "pdf"))
    assert_figures(paths, out, ("png", "pdf"))


def test_one_seed_with_gpu_memory_and_a_failed_model(tmp_path):
    rows = [r for r in runs() if r["seed"] == 0 and r["settings_hash"] == "aaaa"]
    for row in rows:
        if row["status"] == "ok":
            row["peak_gpu_mem_mb"] = 1000.0 + len(row["model"])
    comparison = load_comparison(write_fixture(tmp_path, rows))
    assert comparison.runs["seed"].nunique() == 1 and len(comparison.failed) == 1
    table = statistics.ranking(comparison)
    figure = gpu_memory(comparison, table)  # drawn, not "Missing"
    assert len(figure.axes[0].patches) >= 2 * 4  # frozen and finetune bars of 4 backbones
    assert_figures(plots.draw_all(comparison, tmp_path, formats=("png",)), tmp_path)


def test_titles_are_the_figures_alone_and_the_files_say_which_runs(tmp_path):
    """The settings hash is provenance, not a title: it is in each file's metadata."""
    comparison = load_comparison(write_fixture(tmp_path / "results"))
    runs = comparison.describe()
    assert "settings aaaa + bbbb" in runs
    titles = {}
    for name, figure, *_ in plots.figures(comparison):
        titles[name] = figure.get_suptitle()
        plt.close(figure)
    assert titles["throughput"] == "Training and inference throughput"
    for name, title in titles.items():
        assert "settings" not in title and "aaaa" not in title and runs not in title, name
        assert title == plots.FIGURES[name].title
    out = tmp_path / "plots"
    plots.draw_all(comparison, out, formats=("png", "pdf", "svg", "jpg"))
    with Image.open(out / "throughput.png") as image:
        text = image.text
    assert text["Title"] == "Training and inference throughput" and text["Source"] == runs
    assert text["Description"].startswith("Training and inference throughput. One row per")
    assert f"Runs: {runs}; models ranked by test accuracy" in text["Description"]
    pdf = (out / "throughput.pdf").read_bytes()
    assert f"/Keywords ({runs})".encode() in pdf and b"/Subject (Training and" in pdf
    assert f"<dc:source>{runs}</dc:source>" in (out / "throughput.svg").read_text()
    assert (out / "throughput.jpg").stat().st_size > 1000, "a format without metadata: drawn"


def test_captions_md_gives_every_figure_its_caption_and_its_runs(tmp_path):
    comparison = load_comparison(write_fixture(tmp_path / "results"))
    plots.draw_all(comparison, tmp_path, formats=("png", "pdf"))
    text = (tmp_path / "captions.md").read_text()
    sections = text.split("\n## ")[1:]
    assert [s.split("\n")[0] for s in sections] == list(plots.FIGURES)
    for section, (name, figure) in zip(sections, plots.FIGURES.items(), strict=True):
        assert f"Files: `{name}.png`, `{name}.pdf`" in section
        assert f"{figure.title}. {figure.caption}" in section
        assert f"Runs: {comparison.describe()}; models ranked by test accuracy of" in section
    assert "Not drawn: no GPU memory recorded" in sections[list(plots.FIGURES).index("gpu_memory")]


def bar_lengths(ax) -> list[float]:
    return [p.get_width() for p in ax.patches if isinstance(p, Rectangle) and p.get_width() > 0]


def test_throughput_is_points_on_a_log_axis_and_bars_start_at_zero(tmp_path):
    """A bar's length is its value: on a log axis it has no zero to start from."""
    rows = runs()
    for row in rows:
        row["peak_gpu_mem_mb"] = 1000.0 + len(row["model"])
    comparison = load_comparison(write_fixture(tmp_path, rows))
    table = statistics.ranking(comparison)
    figure = throughput(comparison, table)
    (ax,) = figure.axes
    assert ax.get_xscale() == "log" and bar_lengths(ax) == [], "no bars on the log axis"
    assert len(ax.get_legend().get_texts()) == 4, "training in three phases, and inference"
    points = [
        line for line in ax.lines if line.get_marker() != "None" and line.get_label()[0] == "_"
    ]
    assert len(points) == 4, "a point per model and mode"
    assert {len(line.get_xdata()) for line in points} == {len(table)}, "one per model"
    for draw in (phases, gpu_memory):
        ax = draw(comparison, table).axes[0]
        assert ax.get_xscale() == "linear" and ax.get_xlim()[0] == 0, draw.__name__
        assert len(bar_lengths(ax)) >= 5, draw.__name__
    plt.close("all")


def test_without_gpu_the_memory_figure_says_why():
    comparison = Comparison(
        runs=pd.DataFrame(runs()),
        epochs=pd.DataFrame(),
        classes=pd.DataFrame(),
        confusion=pd.DataFrame(),
    )
    with pytest.raises(Missing, match="no GPU memory recorded: these runs had no GPU"):
        gpu_memory(comparison, statistics.ranking(comparison))


def test_only_failed_runs_still_give_every_file(tmp_path):
    rows = [r for r in runs() if r["status"] == "failed"]
    comparison = load_comparison(write_fixture(tmp_path, rows))
    assert comparison.ok.empty
    assert_figures(plots.draw_all(comparison, tmp_path, formats=("png",)), tmp_path)


def test_pareto_front_keeps_the_points_nothing_beats():
    points = pd.DataFrame(
        {"model": list("abcdef"), "x": [1, 2, 2, 3, 4, 5], "y": [70, 80, 75, 80, 90, 85]}
    )
    # b beats c (same cost, more accurate) and d (cheaper, as accurate); e beats f.
    assert list(pareto_front(points, "x", "y")["model"]) == ["a", "b", "e"]


def test_epochs_run_on_from_the_frozen_phase_into_fine_tuning():
    epochs = pd.DataFrame(
        {
            "run_id": ["r"] * 5 + ["s"] * 2,
            "phase": ["finetune", "finetune", "frozen", "frozen", "frozen", "scratch", "scratch"],
            "epoch": [1, 2, 1, 2, 3, 1, 2],
        }
    )
    assert list(continuous_epochs(epochs)) == [4, 5, 1, 2, 3, 1, 2]


def test_point_labels_do_not_overlap(tmp_path):
    """Twelve models crowded together: after adjustText no two labels' boxes intersect."""
    names = ["ResNet50", "ResNet101", "ResNet152", "ResNet50V2", "ResNet101V2", "ResNet152V2"]
    names += ["MobileNetV2", "DenseNet121", "DenseNet169", "DenseNet201", "VGG16", "VGG19"]
    rows = []
    for i, name in enumerate(names):
        family = name.rstrip("0123456789V").lower()
        accuracy, params = 0.90 + 0.002 * i, 20e6 + 1e5 * i
        rows.append(run_row(name, "finetune", 0, accuracy, params_total=params, family=family))
    comparison = load_comparison(write_fixture(tmp_path, rows))
    figure = accuracy_vs(statistics.ranking(comparison), "params_m", "parameters")
    figure.savefig(tmp_path / "crowded.png")
    renderer = figure.canvas.get_renderer()
    texts = [t for t in figure.axes[0].texts if t.get_text() in names]
    assert len(texts) == len(names)
    boxes = [t.get_window_extent(renderer) for t in texts]
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b)


def test_bench_plot_command(tmp_path, capsys):
    write_fixture(tmp_path)
    result = run_here(capsys, "plot", "--results", str(tmp_path), "--formats", "png")
    assert result.returncode == 0, result.stderr
    written = [*(tmp_path / "plots").glob("*.png"), tmp_path / "plots" / "captions.md"]
    assert_figures(written, tmp_path / "plots")
    bad = run_here(capsys, "plot", "--results", str(tmp_path), "--formats", "gif2")
    assert bad.returncode == 2 and "cannot draw gif2" in bad.stderr


def test_per_class_labels_are_readable_and_long_class_names_cut(tmp_path, monkeypatch):
    long_name = "a class name far too long for any axis"
    monkeypatch.setattr(helpers, "CLASSES", ["cat", long_name, "ship"])
    rows = [run_row(m, "scratch", 0, 0.7, weights="none") for m in ("simple_cnn", "VGG16")]
    comparison = load_comparison(write_fixture(tmp_path, rows))
    figure = per_class_accuracy(comparison, statistics.ranking(comparison))
    ax = figure.axes[0]
    models = [label for label in ax.get_yticklabels()]
    assert sorted(t.get_text() for t in models) == ["VGG16", "simple_cnn"]
    assert all(t.get_rotation() == 0 for t in models), "model names side by side"
    boxes = [t.get_window_extent(figure.canvas.get_renderer()) for t in models]
    assert not boxes[0].overlaps(boxes[1])
    classes = [t.get_text() for t in ax.get_xticklabels()]
    assert classes[0] == "cat" and classes[1] == short_label(long_name) and len(classes[1]) == 18
    assert comparison.classes["class_name"].eq(long_name).any(), "the CSV keeps the full name"


def test_one_epoch_per_phase_is_drawn_as_points_and_the_band_is_explained(tmp_path):
    rows = [run_row("ResNet50", p, s, 0.6) for p in ("frozen", "finetune") for s in (0, 1)]
    store = write_fixture(tmp_path, rows)
    epochs = store.read("epochs")
    write_atomically(store.path("epochs"), epochs[epochs["epoch"] == 1])
    comparison = load_comparison(store)
    figure = training_curves(comparison, statistics.ranking(comparison))
    marked = [line for line in figure.axes[0].lines if line.get_marker() not in ("", "None")]
    assert {x for line in marked for x in line.get_xdata()} == {1, 2}, "each epoch is a point"
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert "band: ±1 sd over seeds" in legend


@pytest.mark.parametrize("low, high", [(0.9, 1.4), (1.02, 11.4), (3, 8), (0.5, 900)])
def test_a_log_axis_has_at_least_three_labels(low, high):
    figure, ax = plt.subplots()
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    plain_log_axis(ax.xaxis)
    figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    visible = [v for v in ax.get_xticks() if low <= v <= high]
    assert len(visible) >= 3 and len(labels) >= 3, labels
    plt.close(figure)


def measured_fixture(folder) -> Comparison:
    """Two models at 1, 5 and all training images per class over two seeds, with calibration
    bins and accuracy under two corruptions: what the measurement figures draw."""
    from bench.results import ResultsStore, schema

    store = ResultsStore(folder)
    for model, base in (("MobileNetV2", 0.6), ("simple_cnn", 0.4)):
        phase = "frozen" if model == "MobileNetV2" else "scratch"
        for seed, (size, gain) in itertools.product((0, 1), ((1, 0.0), (5, 0.1), (None, 0.2))):
            accuracy = base + gain + 0.01 * seed
            run_id = f"{model}-{size}-{seed}"
            row = run_row(
                model,
                phase,
                seed,
                accuracy,
                run_id=run_id,
                train_per_class=size,
                corruption_accuracy=accuracy - 0.2,
                test_ece=0.1,
            )
            key = {"run_id": run_id, "phase": phase}
            bins = [
                schema.row(
                    "calibration",
                    **key,
                    scaled=scaled,
                    bin=b,
                    lower=b / 15,
                    upper=(b + 1) / 15,
                    count=4,
                    confidence=(b + 0.5) / 15,
                    accuracy=(b + 0.5) / 15 - 0.1 * (not scaled),
                )
                for scaled in (False, True)
                for b in range(5, 15)
            ]
            corrupted = [
                schema.row(
                    "corruptions",
                    **key,
                    corruption=c,
                    severity=s,
                    test_accuracy=accuracy - 0.04 * s,
                )
                for c in ("gaussian_noise", "contrast")
                for s in range(1, 6)
            ]
            store.write_run(run_id, {"runs": [row], "calibration": bins, "corruptions": corrupted})
    return load_comparison(store)


def test_the_measurement_figures_draw_every_size_bins_and_severities(tmp_path):
    from bench.reports.plots.measurements import (
        clean_vs_corrupted,
        corruption_severity,
        data_efficiency,
        reliability_diagram,
    )

    comparison = measured_fixture(tmp_path)
    assert comparison.runs["train_per_class"].isna().all()  # ranked: all images
    assert len(comparison.every_size) == 12
    table = statistics.ranking(comparison)
    curve = data_efficiency(comparison, table).axes[0]
    assert curve.get_xscale() == "log" and len(curve.lines) >= 2
    xs = sorted({round(x, 3) for line in curve.lines for x in line.get_xdata()})
    assert xs[:2] == [1, 5] and xs[-1] == 100  # all: 300 images of 3 classes
    diagram = reliability_diagram(comparison, table).axes[0]
    assert [t.get_text() for t in diagram.get_legend().texts] == [
        "perfectly calibrated",
        "as trained",
        "temperature-scaled",
    ]
    severity = corruption_severity(comparison, table).axes[0]
    assert list(severity.lines[0].get_xdata()) == [0, 1, 2, 3, 4, 5]
    assert len(clean_vs_corrupted(comparison, table).axes[0].texts) == 2  # a label per model
    plt.close("all")


def test_without_those_measurements_their_figures_say_how_to_get_them(tmp_path):
    from bench.reports.plots.measurements import corruption_severity, data_efficiency

    comparison = load_comparison(write_fixture(tmp_path))
    table = statistics.ranking(comparison)
    with pytest.raises(Missing, match="--train-per-class"):
        data_efficiency(comparison, table)
    with pytest.raises(Missing, match="--corruptions"):
        corruption_severity(comparison, table)


def test_a_size_per_class_is_chosen_for_the_ranking(tmp_path):
    from bench.errors import BenchError

    measured_fixture(tmp_path)
    store = helpers.ResultsStore(tmp_path)
    five = load_comparison(store, train_per_class=5)
    assert set(five.runs["train_per_class"]) == {5} and "5 training images per class" in (
        five.describe()
    )
    with pytest.raises(
        BenchError, match="no runs with 7 training images per class; these exist: 1, 5, all"
    ):
        load_comparison(store, train_per_class=7)
