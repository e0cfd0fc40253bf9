"""Per-model charts, a row per model: bars of accuracy per phase and of peak GPU memory, on
linear axes from zero (a bar's length is its value); points of throughput on a log axis (rates
span orders of magnitude, and a bar on a log axis has no zero to start from). Whiskers are one
standard deviation over seeds (none for a single seed)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from bench.reports.plots.base import (
    Missing,
    legend_outside,
    mark_flagged,
    model_order,
    plain_log_axis,
    tall,
)
from bench.settings import PHASES


def _per_model(plot, data: pd.DataFrame, x: str, hue: str, order, hue_order, label, **style):
    """A row per model (and hue) of a seaborn `plot` (barplot, pointplot): mean and one standard
    deviation over seeds, the legend outside."""
    figure, ax = plt.subplots(figsize=(7.5, tall(len(order) * max(1, len(hue_order)) / 2.5)))
    plot(
        data,
        x=x,
        y="model",
        hue=hue,
        order=order,
        hue_order=hue_order,
        errorbar="sd",
        err_kws={"linewidth": 0.8},
        ax=ax,
        **style,
    )
    ax.set(xlabel=label, ylabel="")
    legend_outside(ax)
    return figure, ax


def _bars(data: pd.DataFrame, x: str, hue: str, order: list[str], hue_order: list[str], label):
    figure, ax = _per_model(sns.barplot, data, x, hue, order, hue_order, label, capsize=0.2)
    ax.set_xlim(left=0)  # the bar's length is the value: the axis starts at zero, whatever
    return figure, ax


def _points(data: pd.DataFrame, x: str, hue: str, order: list[str], hue_order: list[str], label):
    """A point per model and hue at the mean, with its whisker, and no line between them."""
    return _per_model(
        sns.pointplot,
        data,
        x,
        hue,
        order,
        hue_order,
        label,
        capsize=0.15,
        dodge=0.5 if len(hue_order) > 1 else False,
        linestyle="none",
        markers=["o", "s", "^", "D", "v"][: len(hue_order)],  # told apart without colour
    )


def phases(comparison, table: pd.DataFrame) -> plt.Figure:
    data = comparison.ok.assign(accuracy=100 * comparison.ok["test_accuracy"])
    present = [p for p in PHASES if p in set(data["phase"])]
    figure, ax = _bars(data, "accuracy", "phase", model_order(table), present, "test accuracy (%)")
    ax.set_xlim(0, 100)
    mark_flagged(ax, table)
    return figure


def gpu_memory(comparison, table: pd.DataFrame) -> plt.Figure:
    data = comparison.ok.dropna(subset=["peak_gpu_mem_mb"])
    if data.empty:
        devices = ", ".join(sorted(set(comparison.ok["device"].dropna().astype(str))))
        raise Missing(
            "no GPU memory recorded: these runs had no GPU" + (f" ({devices})" if devices else "")
        )
    present = [p for p in PHASES if p in set(data["phase"])]
    order = [m for m in model_order(table) if m in set(data["model"])]
    figure, ax = _bars(data, "peak_gpu_mem_mb", "phase", order, present, "peak GPU memory (MiB)")
    mark_flagged(ax, table)
    return figure


def throughput(comparison, table: pd.DataFrame) -> plt.Figure:
    ok = comparison.ok
    training = ok.assign(mode="training, " + ok["phase"], rate=ok["train_images_per_s"])
    inference = ok.assign(mode="inference", rate=ok["infer_images_per_s"])
    data = pd.concat([training, inference]).dropna(subset=["rate"])
    if data.empty:
        raise Missing("no throughput recorded")
    modes = [f"training, {p}" for p in PHASES] + ["inference"]
    modes = [m for m in modes if m in set(data["mode"])]
    order = [m for m in model_order(table) if m in set(data["model"])]
    figure, ax = _points(data, "rate", "mode", order, modes, "images per second")
    ax.set_xscale("log")
    plain_log_axis(ax.xaxis)
    ax.set_xlabel("images per second (log scale)")
    mark_flagged(ax, table)
    return figure
