"""What the figures share: the `Missing` signal, model order, figure sizes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib import ticker

from bench.reports.statistics import FLAG_MARK


class Missing(Exception):  # noqa: N818 - a reason, not an error: the figure says it instead
    """This figure cannot be drawn from these results; the message says why."""


def model_order(table: pd.DataFrame) -> list[str]:
    """Models best first, as the ranking orders them."""
    return list(table["model"])


def tall(models: int, per_model: float = 0.32, minimum: float = 2.5) -> float:
    """Height (inches) of a chart with one row of bars per model."""
    return max(minimum, 1.2 + per_model * models)


def ranked_rows(comparison, table: pd.DataFrame) -> pd.DataFrame:
    """The successful rows of each model's ranked phase (table: aggregate.ranking)."""
    ok = comparison.ok
    phase_of = dict(zip(table["model"], table["phase"], strict=True))
    return ok[ok["phase"] == ok["model"].map(phase_of)]


def plain_log_axis(axis) -> None:
    """A log axis labelled 1, 2, 5, 10, 20 ... rather than 10^1, with at least three labels
    whatever its range: every integer multiple within a decade, or even steps within a narrow
    range. Call it once the data is drawn."""
    low, high = axis.get_view_interval()
    for subs in ((1, 2, 5), tuple(range(1, 10))):
        locator = ticker.LogLocator(subs=subs)
        if sum(low <= t <= high for t in locator.tick_values(low, high)) >= 3:
            break
    else:
        locator = ticker.MaxNLocator(nbins=4)
    axis.set_major_locator(locator)
    axis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(ticker.NullFormatter())


def short_label(text: object, limit: int = 18) -> str:
    """A tick label cut to `limit` characters with an ellipsis (the CSV keeps the full name),
    so one long class name cannot stretch a figure."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def legend_outside(ax: plt.Axes) -> None:
    """The legend right of the axes, where it can hide no point or bar."""
    ax.legend(fontsize=7, title=None, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)


FLAGGED_COLOR = "0.5"


def mark_flagged(ax: plt.Axes, table: pd.DataFrame) -> None:
    """Model tick labels of flagged models (chance level, diverged: not ranked) in grey with
    the tables' mark, so a failed training is not read as the model's figure."""
    flagged = set(table.loc[table["flag"].fillna("") != "", "model"])
    if not flagged:
        return
    labels = ax.get_yticklabels()
    for label in labels:
        if label.get_text() in flagged:
            label.set_text(f"{label.get_text()} {FLAG_MARK}")
            label.set_color(FLAGGED_COLOR)
    ax.set_yticks(ax.get_yticks(), labels)
