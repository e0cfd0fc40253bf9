"""The figures by name: each one's title, the caption saying what it draws and how to read it,
and the function that draws it. `bench plot` (files, their metadata and captions.md) and
report.html (each figure's <figcaption>) take title and caption from here alone, so the two
never say different things."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import matplotlib.pyplot as plt

from bench.reports.plots.bars import gpu_memory, phases, throughput
from bench.reports.plots.classes import confusion_best, per_class_accuracy
from bench.reports.plots.curves import training_curves
from bench.reports.plots.measurements import (
    clean_vs_corrupted,
    corruption_severity,
    data_efficiency,
    reliability_diagram,
)
from bench.reports.plots.scatter import accuracy_vs


@dataclass(frozen=True)
class Figure:
    title: str  # the figure's only title: the settings hash goes to its metadata and caption
    caption: str  # what is drawn and how to read it, as a paper's caption would say it
    draw: Callable[..., plt.Figure]  # (comparison, ranking table) -> figure, or raises Missing


def _against(cost: str, label: str) -> Callable[..., plt.Figure]:
    return lambda comparison, table: accuracy_vs(table, cost, label)


_SCATTER = (
    "Each point is one model: its mean test accuracy over seeds in the ranked phase against "
    "{cost} on a log axis, the grey whisker one standard deviation over seeds; the dashed step "
    "line joins the Pareto front (ringed points), the models that no other model equals or "
    "beats in accuracy with {short}. Hollow grey points are models left unranked (a run at "
    "chance level or diverged), kept off the front."
)

FIGURES: dict[str, Figure] = {
    "accuracy_vs_params": Figure(
        "Test accuracy against parameters",
        _SCATTER.format(cost="its number of parameters", short="fewer parameters"),
        _against("params_m", "parameters (millions, log scale)"),
    ),
    "accuracy_vs_time": Figure(
        "Test accuracy against training time per epoch",
        _SCATTER.format(cost="its training time per epoch", short="shorter epochs"),
        _against("time_per_epoch_s", "time per epoch (s, log scale)"),
    ),
    "accuracy_vs_gmacs": Figure(
        "Test accuracy against compute",
        _SCATTER.format(cost="its multiply-accumulates per image (GMACs)", short="fewer GMACs"),
        _against("gmacs", "GMACs per image (log scale)"),
    ),
    "phases": Figure(
        "Frozen, fine-tuned and from-scratch test accuracy",
        "One row per model, best-ranked first, with a bar per phase it ran (frozen backbone, "
        "fine-tuned, from scratch): the mean test accuracy over seeds on a linear axis from 0 "
        "to 100%, the whisker one standard deviation over seeds.",
        phases,
    ),
    "training_curves": Figure(
        "Training and validation accuracy per epoch",
        "One panel per model, best-ranked first: training and validation accuracy per epoch, "
        "mean over seeds, a line style per phase; fine-tuning's epochs continue the frozen "
        "phase's, a dotted vertical line where fine-tuning starts, and the shaded band is one "
        "standard deviation over seeds.",
        training_curves,
    ),
    "gpu_memory": Figure(
        "Peak GPU memory per phase",
        "One row per model, best-ranked first, with a bar per phase: the peak GPU memory of "
        "the run in MiB, mean over seeds, on a linear axis from zero, the whisker one "
        "standard deviation over seeds.",
        gpu_memory,
    ),
    "throughput": Figure(
        "Training and inference throughput",
        "One row per model, best-ranked first: a point per mode (training in each phase, "
        "inference) at its mean images per second over seeds, the whisker one standard "
        "deviation over seeds; the axis is logarithmic because the models' rates span orders "
        "of magnitude, so equal distances are equal ratios.",
        throughput,
    ),
    "per_class_accuracy": Figure(
        "Per-class test accuracy (%)",
        "A cell per model (rows, best-ranked first) and class (columns): the model's test "
        "accuracy on that class's test images in its ranked phase, mean over seeds, coloured "
        "from 0 to 100% and written in the cell when there are at most 20 classes and 40 "
        "models.",
        per_class_accuracy,
    ),
    "confusion_best": Figure(
        "Confusion matrix of the best model",
        "The best-ranked model in its ranked phase, summed over its seeds: each row is a true "
        "class and each cell the share (%) of that class's test images predicted as the "
        "column's class, so the diagonal is the per-class accuracy.",
        confusion_best,
    ),
    "data_efficiency": Figure(
        "Test accuracy against training images per class",
        "One line per model in its final phase, and one for its linear probe where it ran: the "
        "test accuracy at each training size per "
        "class (--train-per-class; the smaller sets nested in the larger), mean over seeds, "
        "the bars a 95% confidence interval of the mean over seeds; the axis is logarithmic, "
        "and all images sit at their mean count per class. Every size shares the validation "
        "and test splits.",
        data_efficiency,
    ),
    "reliability": Figure(
        "Reliability diagram of the best model",
        "The best-ranked model in its ranked phase, its test images pooled over seeds in 15 "
        "equal-width bins of top-1 confidence: each point is a bin's mean confidence against "
        "its accuracy, its area the bin's share of the images, before and after temperature "
        "scaling (the temperature fitted on the validation split); points below the dashed "
        "diagonal are over-confident.",
        reliability_diagram,
    ),
    "corruption_severity": Figure(
        "Test accuracy under corruptions by severity",
        "One line per model in its final phase: the mean test accuracy over the corruptions "
        "measured (--corruptions, after Hendrycks & Dietterich 2019) at each severity from 1 to "
        "5, severity 0 the clean test images; the bars a 95% confidence interval over seeds.",
        corruption_severity,
    ),
    "clean_vs_corrupted": Figure(
        "Clean against corrupted test accuracy",
        "Each point is one model in its ranked phase: its clean test accuracy against its mean "
        "accuracy under the corruptions measured (every corruption and severity), means over "
        "seeds with one standard deviation as whiskers; the closer to the dashed diagonal, the "
        "less accuracy the corruptions cost.",
        clean_vs_corrupted,
    ),
}
