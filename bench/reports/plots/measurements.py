"""The figures of the measurements beyond the protocol's accuracy: the data-efficiency curve,
the reliability diagram, and accuracy under corruptions."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from bench.reports.plots.base import Missing, legend_outside, model_order, plain_log_axis
from bench.reports.statistics import FINAL_ORDER


def _final_phase(rows: pd.DataFrame) -> pd.DataFrame:
    """Each model's rows of its final phase (fine-tuned; scratch; frozen; probe)."""
    phases = rows.groupby("model")["phase"].agg(set)
    final = {m: next(p for p in FINAL_ORDER if p in have) for m, have in phases.items()}
    return rows[rows["phase"] == rows["model"].map(final)]


def data_efficiency(comparison, table: pd.DataFrame) -> plt.Figure:
    rows = comparison.every_size
    if rows.empty or "train_per_class" not in rows or rows["train_per_class"].notna().sum() == 0:
        raise Missing("one training size per class (run with --train-per-class 1,5,10,all)")
    rows = pd.concat([_final_phase(rows), rows[rows["phase"] == "probe"]]).drop_duplicates()
    # All images sit where their mean count per class puts them on the log axis.
    per_class = rows["train_per_class"].fillna(rows["train_size"] / rows["num_classes"])
    data = rows.assign(per_class=per_class, accuracy=100 * rows["test_accuracy"])
    data["model"] = data["model"] + " (" + data["phase"] + ")"
    order = [m for m in dict.fromkeys(data.sort_values("accuracy")["model"])][::-1]
    figure, ax = plt.subplots(figsize=(6.4, 3.6))
    sns.lineplot(
        data,
        x="per_class",
        y="accuracy",
        hue="model",
        hue_order=order,
        marker="o",
        errorbar=("ci", 95),
        err_style="bars",
        ax=ax,
    )
    ax.set_xscale("log")
    plain_log_axis(ax.xaxis)
    ax.set(xlabel="training images per class (log scale)", ylabel="test accuracy (%)")
    ax.set_ylim(0, 100)
    legend_outside(ax)
    return figure


def reliability_diagram(comparison, table: pd.DataFrame) -> plt.Figure:
    bins = comparison.calibration
    if bins.empty:
        raise Missing("no calibration bins recorded (runs written before calibration existed)")
    best = next((m for m in model_order(table) if pd.notna(m)), None)
    phase = table.loc[table["model"] == best, "phase"].iloc[0]
    ids = comparison.ok.loc[(comparison.ok["model"] == best) & (comparison.ok["phase"] == phase)]
    chosen = bins[bins["run_id"].isin(ids["run_id"]) & (bins["phase"] == phase)]
    figure, ax = plt.subplots(figsize=(4.2, 4.0))
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--", label="perfectly calibrated")
    for scaled, label in ((False, "as trained"), (True, "temperature-scaled")):
        part = chosen[chosen["scaled"].astype(str).str.lower() == str(scaled).lower()]
        if part.empty:
            continue
        pooled = part.groupby("bin").apply(_pooled, include_groups=False).reset_index()
        (line,) = ax.plot(pooled["confidence"], pooled["accuracy"], lw=1, label=label)
        # A bin's area says how many images it holds: a sparse bin's accuracy is noise.
        area = 8 + 160 * pooled["count"] / pooled["count"].sum()
        ax.scatter(pooled["confidence"], pooled["accuracy"], s=area, color=line.get_color())
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="confidence (top-1 probability)",
        ylabel="accuracy",
        title=f"{best} ({phase})",
    )
    ax.set_aspect("equal")
    ax.legend(fontsize=7, loc="upper left", frameon=False)
    return figure


def _pooled(rows: pd.DataFrame) -> pd.Series:
    """A bin over seeds: its images' mean confidence and accuracy (weighted by count)."""
    weights = rows["count"]
    return pd.Series(
        {
            "confidence": np.average(rows["confidence"], weights=weights),
            "accuracy": np.average(rows["accuracy"], weights=weights),
            "count": weights.sum(),
        }
    )


NO_CORRUPTIONS = "no corruptions measured (run with --corruptions all, or --suite reviewer)"


def corruption_severity(comparison, table: pd.DataFrame) -> plt.Figure:
    corrupted = comparison.corruptions
    if corrupted.empty:
        raise Missing(
            "no corruptions measured (run with --corruptions all, or the robustness suite)"
        )
    ok = _final_phase(comparison.ok)
    rows = corrupted.merge(
        ok[["run_id", "phase", "model", "test_accuracy"]],
        on=["run_id", "phase"],
        suffixes=("", "_clean"),
    )
    clean = rows.drop_duplicates("run_id").assign(
        severity=0, test_accuracy=rows["test_accuracy_clean"]
    )
    mean = rows.groupby(["model", "run_id", "severity"], as_index=False)["test_accuracy"].mean()
    data = pd.concat([clean[mean.columns], mean], ignore_index=True)
    data["accuracy"] = 100 * data["test_accuracy"]
    order = [m for m in model_order(table) if m in set(data["model"])]
    figure, ax = plt.subplots(figsize=(6.0, 3.4))
    sns.lineplot(
        data,
        x="severity",
        y="accuracy",
        hue="model",
        hue_order=order,
        marker="o",
        errorbar=("ci", 95),
        ax=ax,
    )
    ax.set(
        xlabel="severity (0: clean test images)",
        ylabel="test accuracy (%), mean over corruptions",
        xticks=range(6),
    )
    ax.set_ylim(0, 100)
    legend_outside(ax)
    return figure


def clean_vs_corrupted(comparison, table: pd.DataFrame) -> plt.Figure:
    data = table.dropna(subset=["corruption_accuracy_mean"]) if len(table) else table
    if comparison.corruptions.empty or data.empty:
        raise Missing(NO_CORRUPTIONS)
    figure, ax = plt.subplots(figsize=(4.6, 4.0))
    x, y = 100 * data["accuracy_mean"], 100 * data["corruption_accuracy_mean"]
    ax.plot([0, 100], [0, 100], color="0.6", lw=0.8, ls="--", label="as robust as clean")
    ax.errorbar(
        x,
        y,
        xerr=100 * data["accuracy_std"].fillna(0),
        yerr=100 * data["corruption_accuracy_std"].fillna(0),
        fmt="o",
        ms=4,
        color="C0",
        ecolor="0.6",
        elinewidth=0.8,
    )
    for model, px, py in zip(data["model"], x, y, strict=True):
        ax.annotate(model, (px, py), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set(
        xlim=(0, 100),
        ylim=(0, 100),
        xlabel="clean test accuracy (%)",
        ylabel="mean accuracy under corruptions (%)",
    )
    ax.set_aspect("equal")
    ax.legend(fontsize=7, loc="upper left", frameon=False)
    return figure
