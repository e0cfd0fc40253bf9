"""Per-class figures: test accuracy per model and class, and the best model's confusion matrix
(summed over its seeds, each row as a share of that class's test images)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from bench.reports.plots.base import Missing, model_order, ranked_rows, short_label


def _annotate(classes: int, models: int = 0) -> bool:
    return classes <= 20 and models <= 40


def per_class_accuracy(comparison, table: pd.DataFrame) -> plt.Figure:
    rows = ranked_rows(comparison, table)[["run_id", "phase", "model"]]
    data = comparison.classes.merge(rows, on=["run_id", "phase"])
    if data.empty:
        raise Missing("no per-class accuracy recorded")
    grid = data.pivot_table(
        index="model", columns="class_index", values="test_accuracy", aggfunc="mean"
    )
    names = data.groupby("class_index")["class_name"].first()
    grid = 100 * grid.reindex([m for m in model_order(table) if m in grid.index])
    grid.columns = [short_label(names[c]) for c in grid.columns]
    width = max(6.0, 2.5 + 0.45 * grid.shape[1])
    figure, ax = plt.subplots(figsize=(width, max(2.5, 1.5 + 0.35 * len(grid))))
    sns.heatmap(
        grid,
        annot=_annotate(grid.shape[1], len(grid)),
        fmt=".0f",
        cmap="viridis",
        vmin=0,
        vmax=100,
        cbar_kws={"label": "test accuracy (%)"},
        xticklabels=True,  # every class and every model, never a subset
        yticklabels=True,
        ax=ax,
    )
    ax.tick_params(axis="y", labelrotation=0)  # model names side by side, never on top
    ax.set(xlabel="class", ylabel="")
    return figure


def confusion_best(comparison, table: pd.DataFrame) -> plt.Figure:
    ranked = table.dropna(subset=["rank"])
    if ranked.empty:
        raise Missing("no model could be ranked")
    best = ranked.iloc[0]
    rows = ranked_rows(comparison, table)
    runs = rows.loc[rows["model"] == best["model"], ["run_id", "phase"]]
    cells = comparison.confusion.merge(runs, on=["run_id", "phase"])
    if cells.empty:
        raise Missing(f"no confusion matrix recorded for {best['model']}")
    names = _class_names(comparison, runs)
    counts = np.zeros((len(names), len(names)))
    summed = cells.groupby(["true_index", "predicted_index"])["count"].sum()
    for (true, predicted), count in summed.items():
        counts[true, predicted] = count
    shares = 100 * counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = max(4.5, 1.5 + 0.45 * len(names))
    figure, ax = plt.subplots(figsize=(size + 1, size))
    sns.heatmap(
        pd.DataFrame(shares, index=names, columns=names),
        annot=_annotate(len(names)),
        fmt=".0f",
        cmap="viridis",
        vmin=0,
        vmax=100,
        square=True,
        cbar_kws={"label": "% of the true class's test images"},
        ax=ax,
    )
    seeds = len(runs)
    ax.set(
        xlabel="predicted class",
        ylabel="true class",
        title=f"{best['model']} ({best['phase']}), summed over {seeds} seed{'s' * (seeds != 1)}",
    )
    return figure


def _class_names(comparison, runs: pd.DataFrame) -> list[str]:
    classes = comparison.classes.merge(runs, on=["run_id", "phase"])
    names = classes.groupby("class_index")["class_name"].first().sort_index()
    count = int(comparison.runs["num_classes"].max())
    return [short_label(names.get(i, i)) for i in range(count)]
