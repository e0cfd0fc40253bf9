"""`bench report`: the ranked table of one comparison as summary.csv, ranking.md (GitHub Markdown)
and ranking.tex (`bench.reports.latex`), best value of each column in bold, from the results
files alone. ranking.tex shows a choice of the columns (`columns.COLUMN_SETS`), the others every
one."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from bench.common.files import write_atomically
from bench.errors import BenchError
from bench.execution.progress import print_table
from bench.reports import latex as tex
from bench.reports.columns import COLUMNS, ROW_KEYS, Column, choose
from bench.reports.comparison import Comparison, load_comparison
from bench.reports.statistics import FLAG_MARK, PHASE_NAMES, TIE_MARK, ranking, summary
from bench.results import ResultsStore, schema


@dataclass
class Report:
    title: str
    header: list[str]
    rows: list[list[str]]  # plain text cells
    bold: list[list[bool]]  # best value of its column
    notes: list[str]
    failures: list[str]
    summary: pd.DataFrame
    table: pd.DataFrame  # aggregate.ranking
    keys: list[str]  # of the columns, as --columns names them
    comparison: Comparison
    ranked_by: str  # "ranked by test accuracy of the frozen phase"


def build(comparison: Comparison, metric: str = "test_accuracy", phase: str = "final") -> Report:
    if comparison.ok.empty:  # then no --phase or --metric would help: say what happened
        raise BenchError(
            f"nothing to rank: every run of {comparison.describe()} failed "
            f"({len(comparison.failed)} failed runs; runs.csv has each error)"
        )
    table = ranking(comparison, metric, phase)
    if table["rank"].isna().all() and not table["flagged"].any():
        raise BenchError(
            f"nothing to rank: no model of {comparison.describe()} has {metric} in "
            f"{PHASE_NAMES[phase]} (bench report --phase chooses another phase)"
        )
    columns = [c for c in COLUMNS if not c.optional or _has(table, c.figure)]
    if metric != "test_accuracy":  # otherwise the score is already a phase's accuracy column
        unit = schema.RUN[metric].unit
        scale, unit = (100, "%") if unit == "fraction" else (1, unit)
        header = f"{metric} ({unit})" if unit else metric
        columns.insert(0, Column(header, "score", metric, scale, optional=False))  # key "score"
    header = [*ROW_KEYS, *(c.header for c in columns)]
    rows, bold = [], []
    for _, model in table.iterrows():
        mark = TIE_MARK if model["tied"] else ""
        rank = "–" if pd.isna(model["rank"]) else f"{model['rank']}{mark}"
        # flagged: a count, none (NaN) for a model without the ranked phase
        name = f"{model['model']} {FLAG_MARK}" if model["flagged"] > 0 else model["model"]
        rows.append([rank, name, model["family"], str(model["seeds"])])
        rows[-1] += [_cell(model, c) for c in columns]
        bold.append([False] * 4 + [_is_best(table, model, c) for c in columns])
    ranked_by = f"ranked by {metric.replace('_', ' ')} of {PHASE_NAMES[phase]}"
    return Report(
        title=f"{comparison.describe()}; {ranked_by}",
        header=header,
        rows=rows,
        bold=bold,
        notes=_notes(table, columns) + flag_notes(table) + _mixed_devices(comparison),
        failures=[
            f"{r.model} seed={r.seed} {r.phase}: {r.error}" for r in comparison.failed.itertuples()
        ],
        summary=summary(comparison),
        table=table,
        keys=[*ROW_KEYS, *(c.figure for c in columns)],
        comparison=comparison,
        ranked_by=ranked_by,
    )


def _has(table: pd.DataFrame, figure: str) -> bool:
    return f"{figure}_mean" in table and table[f"{figure}_mean"].notna().any()


def _cell(model: pd.Series, column: Column) -> str:
    mean, std = model[f"{column.figure}_mean"], model[f"{column.figure}_std"]
    if pd.isna(mean):
        return "–"
    text = format(mean * column.scale, column.spec)
    if column.spread and model[f"{column.figure}_n"] > 1 and not pd.isna(std):
        text += f" ± {format(std * column.scale, column.spec)}"
    return text


def _is_best(table: pd.DataFrame, model: pd.Series, column: Column) -> bool:
    values, value = table[f"{column.figure}_mean"].dropna(), model[f"{column.figure}_mean"]
    if column.better is None or pd.isna(value) or len(values) < 2:
        return False
    best = values.min() if column.better == "low" else values.max()
    if all(math.isclose(v, best, rel_tol=1e-9) for v in values):
        return False  # all equal: nothing is best
    return math.isclose(value, best, rel_tol=1e-9)


def _notes(table: pd.DataFrame, columns: list[Column]) -> list[str]:
    notes = [
        "Mean ± standard deviation over seeds where there are several. Efficiency, overfit gap, "
        "time and throughput are those of the ranked phase."
    ]
    if table["tied"].any():
        notes.append(
            f"{TIE_MARK} 95% confidence interval (Student's t) overlaps the best model's: "
            "not distinguishable from it over these seeds."
        )
    shown = {c.figure for c in columns}
    empty = [c for c in COLUMNS if c.figure not in shown]
    if empty:
        notes.append(
            "Left out, no value in these runs: "
            + "; ".join(f"{c.header} ({c.why_empty})" for c in empty)
            + "."
        )
    return notes


def flag_notes(table: pd.DataFrame) -> list[str]:
    """Which models are not ranked, and why (bench.measure.health)."""
    flagged = table[table["flagged"] > 0]
    if flagged.empty:
        return []
    models = "; ".join(
        f"{m.model} ({m.flag}: {m.flagged} of {m.seeds} runs)" for m in flagged.itertuples()
    )
    present = {f for flags in flagged["flag"] for f in flags.split(", ")}
    why = [text for flag, text in FLAG_MEANINGS.items() if flag in present]
    return [
        f"{FLAG_MARK} Not ranked: {models}. {' '.join(why)} Their numbers measure a failed "
        "training, not the model (the warning at the end of each run says what to try)."
    ]


FLAG_MEANINGS = {
    "chance": "chance: test accuracy not above always guessing the most frequent class "
    "(one-sided binomial test, p >= 0.01).",
    "diverged": "diverged: the training loss exploded (not finite, or above 10 ln K).",
}


def _mixed_devices(comparison: Comparison) -> list[str]:
    """A warning when the runs ran on different devices (a Ray cluster of mixed GPUs, say):
    their accuracies compare, their times, throughput and memory do not."""
    devices = sorted(comparison.ok["device"].dropna().astype(str).unique())
    if len(devices) < 2:
        return []
    return [
        f"Warning: these runs ran on {len(devices)} different devices ({'; '.join(devices)}): "
        "times, throughput and memory are not comparable across them."
    ]


def markdown(report: Report) -> str:
    rows = [
        [f"**{cell}**" if bold else cell for cell, bold in zip(row, flags, strict=True)]
        for row, flags in zip(report.rows, report.bold, strict=True)
    ]
    align = ["right", "left", "left"] + ["right"] * (len(report.header) - 3)
    text = tabulate(rows, report.header, "github", disable_numparse=True, colalign=align)
    parts = [f"**{report.title}**", "", text]
    for note in report.notes:  # one paragraph each
        parts += ["", note]
    if report.failures:
        parts += ["", "Failed runs:", "", *(f"- {f}" for f in report.failures)]
    return "\n".join(parts) + "\n"


def latex(report: Report, columns: str = "paper") -> str:
    """ranking.tex: a booktabs table of the columns `columns` chooses (see `choose`)."""
    return tex.render(report, choose(columns))


def write(report: Report, folder: str | Path, columns: str = "paper") -> list[Path]:
    """summary.csv, ranking.md and ranking.tex (of `columns`) in folder, each replaced
    atomically."""
    folder = Path(folder)
    paths = [folder / "summary.csv", folder / "ranking.md", folder / "ranking.tex"]
    contents = [report.summary, markdown(report), latex(report, columns)]
    for path, content in zip(paths, contents, strict=True):
        write_atomically(path, content)
    return paths


def make(
    results: str | Path,
    out: str | Path | None = None,
    *,
    dataset: str | None = None,
    models: list[str] | None = None,
    settings: str | None = None,
    metric: str = "test_accuracy",
    phase: str = "final",
    columns: str = "paper",
    train_per_class: int | str | None = None,
) -> tuple[Report, Comparison, list[Path]]:
    """Load one comparison from the results folder, rank it, write the files to `out`
    (ranking.tex of `columns`)."""
    store = ResultsStore(results, create=False)
    comparison = load_comparison(store, dataset, models, settings, train_per_class)
    made = build(comparison, metric, phase)
    return made, comparison, write(made, ResultsStore(out or results).folder, columns)


def show(report: Report, fmt: str = "table", columns: str = "paper") -> None:
    """Print the report: a terminal table with its notes, or one file's content."""
    if fmt == "md":
        print(markdown(report), end="")
    elif fmt == "tex":
        print(latex(report, columns), end="")
    elif fmt == "csv":
        print(report.summary.to_csv(index=False), end="")
    else:
        print(report.title)
        print_table(report.header, report.rows, numbers_from=3, names=1)
        for line in report.notes + [f"failed run: {f}" for f in report.failures]:
            print(line)
