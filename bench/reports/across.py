"""`bench report --across-datasets`: the models of a results folder ranked over its data sets,
after Demšar, "Statistical Comparisons of Classifiers over Multiple Data Sets" (JMLR 7, 2006).

On each data set (its latest comparison, `bench.reports.comparison`) a model's score is its
mean over seeds in the ranked phase, as `statistics.ranking` ranks; the models with a score on
every data set are ranked on each (1 = best, ties averaged), a Friedman test
(`scipy.stats.friedmanchisquare`, corrected for ties) asks whether their mean ranks differ, and
the Nemenyi post-hoc test (`scikit_posthocs.posthoc_nemenyi_friedman`) which pairs do: those
whose mean ranks differ by more than the critical difference CD = q_alpha sqrt(k(k+1)/(6N)).
Writes across.md, across.tex and plots/critical_difference.png.
"""

from __future__ import annotations

import io
import math
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from tabulate import tabulate

from bench.common.files import write_atomically
from bench.errors import BenchError
from bench.execution.progress import print_table
from bench.reports import latex as tex
from bench.reports.comparison import load_comparison
from bench.reports.statistics import LOWER_BETTER, PHASE_NAMES, check_ranking, ranking
from bench.results import ResultsStore, schema

ALPHA = 0.05
FILES = ("across.md", "across.tex", "plots/critical_difference.png")


@dataclass
class Across:
    """The models' scores on each data set, their ranks and the tests over them."""

    scores: pd.DataFrame  # model x data set: mean over seeds (NaN: no result there)
    ranks: pd.DataFrame  # the models in common x data set: 1 = best, ties averaged
    left_out: dict[str, str]  # model -> why it is not ranked
    friedman: tuple[float, float]  # chi-square (corrected for ties), p-value
    iman_davenport: tuple[float, float]  # F_F, p-value
    q_alpha: float
    cd: float
    nemenyi: pd.DataFrame  # p-values of each pair
    metric: str = "test_accuracy"
    ranked_by: str = ""
    others: list[str] = field(default_factory=list)  # comparisons not chosen

    @property
    def mean_ranks(self) -> pd.Series:
        return self.ranks.mean(axis=1).sort_values(kind="stable")

    def pairs(self) -> list[tuple[str, str, float]]:
        """The pairs the Nemenyi test tells apart: (better, worse, difference of mean ranks)."""
        order, found = list(self.mean_ranks.index), []
        for i, a in enumerate(order):
            for b in order[i + 1 :]:
                if self.nemenyi.loc[a, b] < ALPHA:
                    found.append((a, b, self.mean_ranks[b] - self.mean_ranks[a]))
        return found


def rank_scores(scores: pd.DataFrame, lower_better: bool = False) -> pd.DataFrame:
    """Ranks of the models (rows) on each data set (column): 1 = best, ties averaged."""
    return scores.rank(axis=0, ascending=lower_better, method="average")


def critical_difference(k: int, n: int, alpha: float = ALPHA) -> tuple[float, float]:
    """Nemenyi's q_alpha (the studentized range of k means at infinite degrees of freedom,
    over sqrt 2) and the critical difference of mean ranks of k models over n data sets."""
    q = float(stats.studentized_range.ppf(1 - alpha, k, np.inf)) / math.sqrt(2)
    return q, q * math.sqrt(k * (k + 1) / (6 * n))


def iman_davenport(chi2: float, n: int, k: int) -> tuple[float, float]:
    """Iman and Davenport's F_F of a Friedman chi-square, and its p-value (F, k-1 and
    (k-1)(n-1) degrees of freedom): less conservative than the chi-square (Demšar 2006)."""
    f = (n - 1) * chi2 / (n * (k - 1) - chi2) if n * (k - 1) > chi2 else math.inf
    return f, float(stats.f.sf(f, k - 1, (k - 1) * (n - 1)))


def analyse(scores: pd.DataFrame, lower_better: bool = False, **about: Any) -> Across:
    """The ranks and tests of the models that have a score on every data set (columns)."""
    import scikit_posthocs as posthocs  # statsmodels loads only for this report

    if scores.shape[1] < 2:
        have = ", ".join(map(str, scores.columns)) or "none"
        raise BenchError(f"--across-datasets needs runs on at least two data sets; here: {have}")
    common = scores.dropna()
    left_out = {m: _missing(scores.loc[m]) for m in scores.index if m not in common.index}
    if len(common) < 3:
        have = f": {', '.join(common.index)}" if len(common) else ""
        raise BenchError(
            f"--across-datasets needs at least 3 models with results on every data set (the "
            f"Friedman test compares k >= 3; flagged runs count as none); {len(common)} have{have}"
        )
    chi2, p = (float(x) for x in stats.friedmanchisquare(*common.to_numpy()))
    k, n = common.shape
    nemenyi = posthocs.posthoc_nemenyi_friedman(common.T.reset_index(drop=True))
    tests = ((chi2, p), iman_davenport(chi2, n, k), *critical_difference(k, n), nemenyi)
    return Across(scores, rank_scores(common, lower_better), left_out, *tests, **about)


def _missing(scores: pd.Series) -> str:
    return "no ranked result on " + ", ".join(map(str, scores.index[scores.isna()]))


def load(
    store: ResultsStore,
    models: list[str] | None = None,
    train_per_class: int | str | None = None,
    metric: str = "test_accuracy",
    phase: str = "final",
) -> tuple[pd.DataFrame, list[str]]:
    """Per model and data set, the ranked phase's mean score (unflagged models only, as
    `statistics.ranking` ranks), and the comparisons of the folder left aside."""
    check_ranking(metric, phase)
    runs = store.read("runs")
    if runs.empty:
        raise BenchError(f"no runs in {store.path('runs')} (bench run writes them)")
    columns, others = {}, []
    for dataset in sorted(set(runs["dataset"].dropna().astype(str))):
        comparison = load_comparison(store, dataset, models, None, train_per_class)
        table = ranking(comparison, metric, phase)
        table = table[table["rank"].notna()]
        columns[dataset] = table.set_index("model").get("score_mean", pd.Series(dtype=float))
        others += comparison.others
    return pd.DataFrame(columns), others


def make(
    results: str | Path,
    out: str | Path | None = None,
    *,
    dataset: str | None = None,
    settings: str | None = None,
    **selection: Any,
) -> tuple[Across, list[Path]]:
    """Rank the models over every data set of the results folder (`selection`: models,
    train_per_class, metric and phase, as `load` takes them); write the files to `out`."""
    if dataset or settings:
        raise BenchError("--across-datasets ranks every data set's latest comparison: drop "
                         "--dataset and --settings")  # fmt: skip
    scores, others = load(ResultsStore(results, create=False), **selection)
    metric, phase = selection.get("metric", "test_accuracy"), selection.get("phase", "final")
    about = {"metric": metric, "others": others}
    about["ranked_by"] = f"ranked by {metric.replace('_', ' ')} of {PHASE_NAMES[phase]}"
    made = analyse(scores, metric in LOWER_BETTER, **about)
    return made, write(made, ResultsStore(out or results).folder)


def rows(across: Across) -> tuple[list[str], list[list[str]], list[list[bool]]]:
    """Header, cells and bold (best of each column): model, mean rank, a score per data set."""
    unit = schema.RUN[across.metric].unit
    scale, unit = (100, "%") if unit == "fraction" else (1, unit)
    header = ["model", "mean rank", *(f"{d} ({unit})" if unit else d for d in across.scores)]
    order = [*across.mean_ranks.index, *across.left_out]
    best = across.scores.min() if across.metric in LOWER_BETTER else across.scores.max()
    cells, bold = [], []
    for model in order:
        rank = across.mean_ranks.get(model)
        values = across.scores.loc[model]
        cells.append([model, "–" if rank is None else f"{rank:.3f}"])
        cells[-1] += ["–" if pd.isna(v) else f"{v * scale:.2f}" for v in values]
        bold.append([False, rank == across.mean_ranks.min()])
        bold[-1] += [bool(v == best[d]) for d, v in values.items()]
    return header, cells, bold


def notes(across: Across) -> list[str]:
    """The tests, the pairs that differ, the models left out: a paragraph each."""
    (chi2, p), (ff, ff_p) = across.friedman, across.iman_davenport
    k, n = across.ranks.shape
    said = [
        f"Friedman test over {k} models and {n} data sets: chi-square = {chi2:.3f} "
        f"(corrected for ties), p = {p:.3g}; Iman-Davenport F_F = {ff:.3f}, p = {ff_p:.3g}.",
        f"Nemenyi post-hoc test at alpha {ALPHA}: critical difference CD = q_alpha "
        f"sqrt(k(k+1)/(6N)) = {across.q_alpha:.3f} * sqrt({k}*{k + 1}/(6*{n})) = "
        f"{across.cd:.3f} mean ranks.",
    ]
    pairs = "; ".join(f"{a} better than {b} ({d:.3f})" for a, b, d in across.pairs())
    said.append(f"Pairs that differ: {pairs}." if pairs else "Pairs that differ: none.")
    if p >= ALPHA:
        said.append(
            f"The Friedman test does not reject that all models rank alike (p >= {ALPHA}): "
            "by Demšar's procedure no pair is declared different."
        )
    if across.left_out:
        why = "; ".join(f"{m} ({why})" for m, why in across.left_out.items())
        said.append(f"Left out of the ranks and the tests: {why}.")
    return said


def markdown(across: Across) -> str:
    header, cells, bold = rows(across)
    cells = [
        [f"**{c}**" if b else c for c, b in zip(r, f, strict=True)]
        for r, f in zip(cells, bold, strict=True)
    ]
    align = ["left", *["right"] * (len(header) - 1)]
    table = tabulate(cells, header, "github", disable_numparse=True, colalign=align)
    title = f"**Across {across.ranks.shape[1]} data sets; {across.ranked_by}**"
    return "\n\n".join([title, table, *notes(across)]) + "\n"


def latex(across: Across) -> str:
    """across.tex: a booktabs table, numbers in siunitx columns, as ranking.tex
    (`bench.reports.latex`), scaled to the text width only when it would not fit."""
    header, cells, bold = rows(across)
    keys = ["model", *(f"c{i}" for i in range(1, len(header)))]
    columns = tex.tex_columns(tex.Chosen(keys, header, cells, bold))
    width = tex.width_pt(columns)
    scaled = width > tex.TEXT_WIDTH_PT
    k, n = across.ranks.shape
    (chi2, p), pairs = across.friedman, across.pairs()
    differ = "; ".join(f"{a} over {b}" for a, b, _ in pairs) if pairs else "none"
    caption = (
        f"Models over {n} data sets, {across.ranked_by}: mean rank (1 = best, ties averaged) "
        f"and mean over seeds on each data set, best in bold. Friedman chi-square = {chi2:.2f}, "
        f"p = {p:.3g}; Nemenyi critical difference at alpha {ALPHA}: {across.cd:.2f} "
        f"(k = {k}, N = {n}); pairs that differ: {differ}."
    )
    lines = [
        "% across.tex, written by `bench report --across-datasets` from the results files.",
        "% It needs in the preamble: \\usepackage{booktabs,siunitx"
        + (",graphicx}" if scaled else "}"),
        *(f"% {line}" for note in notes(across) for line in textwrap.wrap(note, 96)),
        *tex.table(columns, scaled, caption, "tab:bench-across"),
    ]
    return "\n".join(line for line in lines if line is not None) + "\n"


def diagram(across: Across) -> bytes:
    """The critical-difference diagram (scikit-posthocs): the models on the mean-rank axis,
    bars joining those the Nemenyi test does not tell apart, the CD drawn above."""
    import scikit_posthocs as posthocs
    from matplotlib.figure import Figure  # no pyplot: whatever the caller's backend

    figure = Figure(figsize=(7, 1.2 + 0.3 * len(across.ranks)))
    ax = figure.add_subplot()
    ranks, cd = across.mean_ranks, across.cd
    posthocs.critical_difference_diagram(
        ranks, across.nemenyi, alpha=ALPHA, ax=ax,
        label_fmt_left="{label} ({rank:.2f})", label_fmt_right="({rank:.2f}) {label}",
    )  # fmt: skip
    ax.plot([ranks.iloc[0], ranks.iloc[0] + cd], [1.2, 1.2], color="k", linewidth=2)
    ax.text(ranks.iloc[0] + cd / 2, 1.35, f"CD = {cd:.2f}", ha="center", va="bottom")
    ax.set_ylim(top=2.0)  # the CD above the rank axis's labels, not across them
    ax.set_title(f"Mean rank over {across.ranks.shape[1]} data sets (1 = best)")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=150, bbox_inches="tight")
    return buffer.getvalue()


def write(across: Across, folder: Path) -> list[Path]:
    """across.md, across.tex and plots/critical_difference.png, each replaced atomically."""
    paths = [folder / name for name in FILES]
    paths[-1].parent.mkdir(parents=True, exist_ok=True)
    png = diagram(across)
    for path, content in zip(paths, [markdown(across), latex(across)], strict=False):
        write_atomically(path, content)
    write_atomically(paths[-1], lambda out: out.write(png))
    return paths


def show(across: Across, fmt: str = "table") -> None:
    """Print the report: a terminal table with its notes, or one file's content."""
    if fmt == "md":
        print(markdown(across), end="")
    elif fmt == "tex":
        print(latex(across), end="")
    elif fmt == "csv":
        ranks = across.mean_ranks.rename("mean_rank")
        print(across.scores.join(ranks).reset_index(names="model").to_csv(index=False), end="")
    else:
        header, cells, _ = rows(across)
        print(f"Across {across.ranks.shape[1]} data sets; {across.ranked_by}")
        print_table(header, cells, numbers_from=1, names=0)
        print("\n".join(notes(across)))
