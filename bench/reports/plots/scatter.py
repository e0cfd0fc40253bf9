"""Accuracy against a cost (parameters, time, GMACs) with the Pareto frontier, every point
labelled without overlap (adjustText). Flagged models (chance level, diverged: not ranked) are
drawn hollow and kept off the front."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from adjustText import adjust_text

from bench.reports.plots.base import Missing, legend_outside, plain_log_axis


def pareto_front(points: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Points no other point beats on both axes (lower x, higher y), by increasing x."""
    ordered = points.sort_values([x, y], ascending=[True, False])
    best = ordered[y].cummax()
    front = ordered[ordered[y] >= best]
    return front[~front[y].duplicated()]


def accuracy_vs(table: pd.DataFrame, cost: str, label: str) -> plt.Figure:
    points = table.assign(
        x=table[f"{cost}_mean"],
        y=100 * table["accuracy_mean"],
        err=100 * table["accuracy_std"],
    ).dropna(subset=["x", "y"])
    points = points[points["x"] > 0]
    if points.empty:
        raise Missing(f"no model has {label.split(' (')[0]} recorded")
    crowd = len(points)  # more room for more labels
    figure, ax = plt.subplots(figsize=(max(7.5, 3 + 0.25 * crowd), max(5.0, 3 + 0.12 * crowd)))
    ax.errorbar(points["x"], points["y"], yerr=points["err"], fmt="none", ecolor="0.6", lw=0.8)
    flagged = points["flag"].fillna("") != ""
    if not flagged.all():
        ranked = points[~flagged]
        sns.scatterplot(ranked, x="x", y="y", hue="family", style="family", s=60, ax=ax, zorder=3)
    if flagged.any():
        ax.scatter(
            points.loc[flagged, "x"],
            points.loc[flagged, "y"],
            s=60,
            facecolors="none",
            edgecolors="0.35",
            zorder=3,
            label="not ranked (chance level or diverged)",
        )
    front = pareto_front(points[~flagged], "x", "y")
    ax.step(
        front["x"],
        front["y"],
        where="post",
        color="0.2",
        lw=1,
        ls="--",
        marker="o",
        mfc="none",
        ms=11,
        label="Pareto front",
    )
    ax.set_xscale("log")
    plain_log_axis(ax.xaxis)
    ax.set(xlabel=label, ylabel="test accuracy (%), mean ± std over seeds")
    texts = [ax.text(r.x, r.y, r.model, fontsize=7) for r in points.itertuples()]
    legend_outside(ax)
    arrows = {"arrowstyle": "-", "color": "0.5", "lw": 0.5}
    adjust_text(
        texts, x=list(points["x"]), y=list(points["y"]), ax=ax, expand=(1.3, 2.0), arrowprops=arrows
    )
    missing = sorted(set(table["model"]) - set(points["model"]))
    if missing:
        ax.annotate(
            f"not shown (no value): {', '.join(missing)}",
            (0, -0.14),
            xycoords="axes fraction",
            fontsize=7,
        )
    return figure
