"""`bench compare A B`: two results side by side, per model and phase. A and B are results
folders, or settings hashes (a prefix will do) of one folder. Accuracies get their difference
and a Welch t-test over seeds; times, throughput and memory get their ratio B/A."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from bench.errors import BenchError
from bench.reports.comparison import Comparison, describe_runs, load_comparison
from bench.reports.statistics import FLAG_MARK
from bench.results import ResultsStore
from bench.settings import PHASES

ACCURACIES = {"test_accuracy": "accuracy"}  # column: short name
RATIOS = {
    "time_per_epoch_s": "time/epoch",
    "train_images_per_s": "train img/s",
    "infer_images_per_s": "infer img/s",
    "peak_gpu_mem_mb": "GPU MiB",
}
ENVIRONMENT = ["backend", "backend_version", "keras_version", "device"]
SIGNIFICANCE = 0.05


@dataclass
class Side:
    label: str
    comparison: Comparison
    protocol: dict  # the settings of its runs (env.json), weights aside


def load_side(spec: str, results: str, dataset: str | None, models: list[str] | None) -> Side:
    """A results folder (its latest comparison), else a settings hash in `results`."""
    folder, settings = (spec, None) if Path(spec).is_dir() else (results, spec)
    if settings and not re.fullmatch(r"[0-9a-f]{1,12}", spec):  # no hash looks like this
        raise BenchError(f"no results folder {spec} (and '{spec}' is no settings hash)")
    store = ResultsStore(folder, create=False)
    if not store.path("runs").exists():
        what = f"'{spec}' is neither a results folder nor" if settings else "no runs.csv in"
        raise BenchError(f"{what} a settings hash of {store.path('runs')}")
    comparison = load_comparison(store, dataset, models, settings)
    protocols = store.read_environment().get("protocols", {})
    protocol: dict = {}
    for settings_hash in sorted(set(comparison.runs["settings_hash"])):
        for key, value in protocols.get(settings_hash, {}).items():
            if key != "weights":
                protocol.setdefault(key, value)
    label = folder if settings is None else f"{folder} settings {settings}"
    return Side(label, comparison, protocol)


def differences(a: Side, b: Side) -> list[str]:
    """What differs between the two: settings, then environment (backend, versions, device)."""
    lines = []
    for key in sorted(set(a.protocol) | set(b.protocol)):
        if a.protocol.get(key) != b.protocol.get(key):
            lines.append(f"{key}: {a.protocol.get(key)} -> {b.protocol.get(key)}")
    for column in ENVIRONMENT:
        values = [_values(side.comparison.runs[column]) for side in (a, b)]
        if values[0] != values[1]:
            lines.append(f"{column}: {values[0]} -> {values[1]}")
    return lines


def _values(column: pd.Series) -> str:
    return ", ".join(sorted(set(column.dropna().astype(str)))) or "?"


def compare(a: Comparison, b: Comparison) -> pd.DataFrame:
    """One row per model and phase run in both, ok: the means of A and B over seeds, for
    accuracies the difference B - A and Welch's p-value, for the others the ratio B / A."""
    rows = []
    for (model, phase), left in a.ok.groupby(["model", "phase"], sort=False):
        right = b.ok[(b.ok["model"] == model) & (b.ok["phase"] == phase)]
        if right.empty:
            continue
        row = {"model": model, "phase": phase, "seeds_a": len(left), "seeds_b": len(right)}
        row |= {"flag_a": _flags(left), "flag_b": _flags(right)}
        for column in ACCURACIES:
            x, y = _figures(left, column), _figures(right, column)
            row |= {f"{column}_a": x.mean(), f"{column}_b": y.mean()}
            row |= {f"{column}_sd_a": x.std(), f"{column}_sd_b": y.std()}
            row[f"{column}_diff"] = y.mean() - x.mean()
            row[f"{column}_p"] = welch_p(x, y)
        for column in RATIOS:
            x, y = _figures(left, column).mean(), _figures(right, column).mean()
            row |= {f"{column}_a": x, f"{column}_b": y, f"{column}_ratio": y / x if x else np.nan}
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    order = frame["phase"].map({p: i for i, p in enumerate(PHASES)})
    return frame.assign(_order=order).sort_values(["model", "_order"]).drop(columns="_order")


def _flags(rows: pd.DataFrame) -> str:
    """The runs' flags (bench.measure.health), joined; empty when none is flagged."""
    return ", ".join(sorted(set(rows["flag"].fillna("").astype(str)) - {""}))


def _figures(rows: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(rows[column], errors="coerce").dropna()


def welch_p(x: pd.Series, y: pd.Series) -> float:
    """Two-sided p-value of Welch's t-test; NaN with fewer than 2 seeds a side, or no spread."""
    if len(x) < 2 or len(y) < 2 or (x.var() == 0 and y.var() == 0):
        return np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_ind(y, x, equal_var=False).pvalue)


def only_in(a: Comparison, b: Comparison) -> tuple[list[str], list[str]]:
    """Models with runs in one side only."""
    left, right = set(a.runs["model"]), set(b.runs["model"])
    return sorted(left - right), sorted(right - left)


def display(frame: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """The table as text: accuracies in % (mean ± sd), the difference in points marked * where
    p < 0.05, ratios as 1.23x; empty where a side lacks the figure. A model and phase whose
    runs are flagged on either side is marked, and gets no p-value: a test between failed
    trainings says nothing about the model."""
    header = ["model", "phase", "seeds A/B"]
    for name in ACCURACIES.values():
        header += [f"{name} A %", f"{name} B %", "B-A (points)", "p"]
    header += [f"{name} B/A" for name in RATIOS.values()]
    rows = []
    for _, row in frame.iterrows():
        flagged = bool(row["flag_a"] or row["flag_b"])
        model = f"{row['model']} {FLAG_MARK}" if flagged else row["model"]
        cells = [model, row["phase"], f"{row['seeds_a']}/{row['seeds_b']}"]
        for column in ACCURACIES:
            p = np.nan if flagged else row[f"{column}_p"]
            mark = "*" if p < SIGNIFICANCE else ""
            cells += [_mean_sd(row, column, "a"), _mean_sd(row, column, "b")]
            cells += [f"{100 * row[f'{column}_diff']:+.2f}{mark}", _number(p, ".3f")]
        cells += [_number(row[f"{column}_ratio"], ".2f", "x") for column in RATIOS]
        rows.append(cells)
    return header, rows


def _mean_sd(row: pd.Series, column: str, side: str) -> str:
    mean, sd = 100 * row[f"{column}_{side}"], 100 * row[f"{column}_sd_{side}"]
    return f"{mean:.2f}" if pd.isna(sd) else f"{mean:.2f} ± {sd:.2f}"


def _number(value: float, spec: str, unit: str = "") -> str:
    return "" if pd.isna(value) else f"{value:{spec}}{unit}"


def render(frame: pd.DataFrame, fmt: str) -> str:
    """md, tex or html of the displayed table, or csv of every figure."""
    from tabulate import tabulate

    if fmt == "csv":
        return frame.to_csv(index=False)
    header, rows = display(frame)
    if fmt == "html":
        return pd.DataFrame(rows, columns=header).to_html(index=False, border=0)
    table = "latex_booktabs" if fmt == "tex" else "github"
    return tabulate(rows, header, tablefmt=table, disable_numparse=True) + "\n"


def describe(a: Side, b: Side) -> list[str]:
    """The lines before the table: each side, what differs, the models of one side only."""
    lines = [f"A: {a.label} ({describe_runs(a.comparison.runs)})"]
    lines.append(f"B: {b.label} ({describe_runs(b.comparison.runs)})")
    changed = differences(a, b)
    lines.append("differs: " + ("; ".join(changed) if changed else "nothing recorded"))
    left, right = only_in(a.comparison, b.comparison)
    if left:
        lines.append(f"only in A: {', '.join(left)}")
    if right:
        lines.append(f"only in B: {', '.join(right)}")
    lines.append(f"*: B-A differs from 0 at the {SIGNIFICANCE:.0%} level (Welch's t-test, seeds)")
    if any((side.comparison.ok["flag"].fillna("") != "").any() for side in (a, b)):
        lines.append(
            f"{FLAG_MARK}: runs flagged on a side (chance level or diverged, see runs.csv's "
            "flag): the difference compares failed trainings, so no p-value is given"
        )
    return lines
