"""Training curves: train and validation accuracy per epoch, one panel per model, both phases
on one epoch axis (fine-tuning continues where the frozen phase stopped)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib import ticker
from matplotlib.patches import Patch

from bench.reports.plots.base import Missing, model_order
from bench.settings import PHASES


def continuous_epochs(epochs: pd.DataFrame) -> pd.Series:
    """Epoch numbers that run on across a run's phases (frozen 1-3, then finetune 4-...)."""
    order = epochs["phase"].map({p: i for i, p in enumerate(PHASES)})
    ordered = epochs.assign(_order=order).sort_values(["run_id", "_order", "epoch"])
    return ordered.groupby("run_id").cumcount().add(1).reindex(epochs.index)


def training_curves(comparison, table: pd.DataFrame) -> plt.Figure:
    runs = comparison.ok[["run_id", "phase", "model"]]
    epochs = comparison.epochs.merge(runs, on=["run_id", "phase"])
    if epochs.empty:
        raise Missing("no epochs recorded")
    epochs = epochs.assign(step=continuous_epochs(epochs))
    long = epochs.melt(
        id_vars=["model", "run_id", "phase", "step"],
        value_vars=["accuracy", "val_accuracy"],
        var_name="split",
        value_name="value",
    )
    long["split"] = long["split"].map({"accuracy": "train", "val_accuracy": "validation"})
    long["value"] *= 100
    order = [m for m in model_order(table) if m in set(long["model"])]
    grid = sns.relplot(
        long,
        x="step",
        y="value",
        hue="split",
        style="phase",
        col="model",
        col_order=order,
        col_wrap=min(4, len(order)),
        kind="line",
        markers=True,  # a phase of one epoch is a point, not an empty panel
        errorbar="sd",
        height=2.3,
        aspect=1.25,
        facet_kws={"sharex": False, "sharey": True},
    )
    grid.set_titles("{col_name}")
    grid.set_axis_labels("epoch", "accuracy (%)")
    for model, ax in grid.axes_dict.items():
        ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        ax.margins(x=0.08)  # points at the first and last epoch drawn whole
        frozen = epochs[(epochs["model"] == model) & (epochs["phase"] == "frozen")]
        if frozen.empty or model not in set(epochs.loc[epochs["phase"] == "finetune", "model"]):
            continue
        start = frozen.groupby("run_id")["epoch"].max().median() + 0.5
        ax.axvline(start, color="0.5", lw=0.8, ls=":")
    if epochs.groupby("model")["run_id"].nunique().max() > 1:
        _explain_band(grid)
    return grid.figure


def _explain_band(grid: sns.FacetGrid) -> None:
    """Add the shaded band (one standard deviation over seeds) to the grid's legend."""
    legend = grid.legend
    handles, labels = list(legend.legend_handles), [t.get_text() for t in legend.texts]
    handles.append(Patch(facecolor="0.5", alpha=0.25, label="band: ±1 sd over seeds"))
    labels.append("band: ±1 sd over seeds")
    legend.remove()
    grid.figure.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
