"""`bench report --html`: one self-contained report.html (no network, scripts or fonts from
outside): the ranked table, sortable; every figure of `bench plot` as inline SVG; the failed
runs; and the details: settings, environment, and per model its curves and per-class accuracy.
Rendered by Jinja2 from bench/reports/templates/report.html.j2."""

from __future__ import annotations

import base64
from pathlib import Path

import jinja2
import matplotlib.pyplot as plt
import pandas as pd

from bench.common.files import write_atomically
from bench.errors import BenchError
from bench.reports import across, plots
from bench.reports.comparison import Comparison, load_comparison
from bench.reports.plots.curves import continuous_epochs
from bench.reports.statistics import LOWER_BETTER, PHASE_NAMES
from bench.reports.tables import TIE_MARK, Report, build
from bench.results import ResultsStore, flatten

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("bench.reports", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def render(
    comparison: Comparison,
    report: Report | None,
    environment: dict,
    why_empty: str = "",
    metric: str = "test_accuracy",
    phase: str = "final",
    across_datasets: dict | None = None,
) -> str:
    """The page. `report` is None when nothing could be ranked (failures only): the page then
    says `why_empty` and still lists the failed runs and the details. The figures rank by
    `metric` of `phase`, as the table does. `across_datasets`: the folder's models over its
    data sets (`across_section`), where it holds several."""
    figures = []
    for name, figure, caption in plots.figures(comparison, metric, phase) if report else ():
        # The caption bench plot writes to captions.md, less the runs: the page's title says them.
        about = {"name": name, "title": caption.title, "says": caption.explains}
        figures.append({**about, "drawn": not caption.missing, "svg": plots.svg(figure)})
        plt.close(figure)
    protocols = environment.get("protocols", {})
    hashes = sorted(set(comparison.runs["settings_hash"].dropna()))
    return TEMPLATES.get_template("report.html.j2").render(
        title=comparison.describe(),
        report=report,
        rows=_marked_rows(report),
        why_empty=why_empty[:1].upper() + why_empty[1:],
        tie_mark=TIE_MARK,
        figures=figures,
        failures=_failures(comparison),
        settings={h: protocols.get(h, {}) for h in hashes},
        environment=flatten(environment.get("environment", {})),
        models=_per_model(comparison),
        across=across_datasets,
    )


def across_section(store: ResultsStore, metric: str, phase: str, **selection) -> dict | None:
    """The models ranked over the folder's data sets, as `bench report --across-datasets`
    ranks them, for the page; None with one data set, and why, when they cannot be ranked."""
    runs = store.read("runs")
    if runs.empty or runs["dataset"].nunique() < 2:
        return None
    chosen = {k: selection[k] for k in ("models", "train_per_class") if selection.get(k)}
    ranked_by = f"ranked by {metric.replace('_', ' ')} of {PHASE_NAMES[phase]}"
    try:
        scores, others = across.load(store, metric=metric, phase=phase, **chosen)
        made = across.analyse(
            scores, metric in LOWER_BETTER, metric=metric, ranked_by=ranked_by, others=others
        )
    except BenchError as err:
        return {"why": str(err)}
    header, cells, bold = across.rows(made)
    return {
        "why": "",
        "title": f"Across {made.ranks.shape[1]} data sets; {ranked_by}",
        "header": header,
        "rows": [list(zip(r, b, strict=True)) for r, b in zip(cells, bold, strict=True)],
        "notes": across.notes(made),
        "diagram": base64.b64encode(across.diagram(made)).decode("ascii"),
    }


def _marked_rows(report: Report | None) -> list[list[tuple[str, bool]]]:
    """Each cell of the ranking with whether it is the best of its column."""
    if report is None:
        return []
    pairs = zip(report.rows, report.bold, strict=True)
    return [list(zip(row, bold, strict=True)) for row, bold in pairs]


def write(page: str, folder: str | Path) -> Path:
    path = Path(folder) / "report.html"
    write_atomically(path, page)
    return path


def _failures(comparison: Comparison) -> list[dict]:
    columns = ["model", "seed", "phase", "error"]
    return comparison.failed[columns].to_dict("records")


def _per_model(comparison: Comparison) -> list[dict]:
    """Per model with ok runs: its training curves (inline SVG) and per-class accuracy."""
    models = []
    for model, runs in comparison.ok.groupby("model", sort=True):
        ids = set(runs["run_id"])
        epochs = comparison.epochs[comparison.epochs["run_id"].isin(ids)]
        classes = comparison.classes[comparison.classes["run_id"].isin(ids)]
        models.append(
            {
                "name": model,
                "curves": _curves(model, epochs) if not epochs.empty else "",
                "classes": _class_table(classes) if not classes.empty else "",
            }
        )
    return models


def _curves(model: str, epochs: pd.DataFrame) -> str:
    """Training and validation accuracy per epoch, phases one after another, mean over seeds."""
    frame = epochs.assign(step=continuous_epochs(epochs))
    mean = frame.groupby(["phase", "step"], sort=False)[["accuracy", "val_accuracy"]].mean()
    figure, ax = plt.subplots(figsize=(5, 2.6))
    for phase, rows in mean.groupby(level="phase", sort=False):
        steps = rows.index.get_level_values("step")
        ax.plot(steps, 100 * rows["accuracy"], marker="o", label=f"{phase} train")
        ax.plot(steps, 100 * rows["val_accuracy"], marker="s", ls="--", label=f"{phase} val")
    ax.set(xlabel="epoch", ylabel="accuracy (%)", title=model)
    ax.legend(fontsize=7)
    figure.tight_layout()
    text = plots.svg(figure)
    plt.close(figure)
    return text


def _class_table(classes: pd.DataFrame) -> str:
    """Per-class test accuracy (%), a column per phase, mean over seeds."""
    table = classes.pivot_table(
        index=["class_index", "class_name"], columns="phase", values="test_accuracy"
    )
    table = (100 * table).round(1).reset_index(level="class_index", drop=True)
    return table.to_html(border=0, classes="classes", na_rep="")


def make(
    results: str | Path,
    out: str | Path | None = None,
    *,
    metric: str = "test_accuracy",
    phase: str = "final",
    **selection,
) -> Path:
    """Load one comparison as `bench report` does (`selection`: dataset, models, settings),
    write its report.html to `out` (default: the results folder). With nothing to rank, the
    page says why and lists the failed runs."""
    store = ResultsStore(results, create=False)
    comparison = load_comparison(store, **selection)
    try:
        made, why = build(comparison, metric, phase), ""
    except BenchError as err:
        made, why = None, str(err)
    section = across_section(store, metric, phase, **selection)
    page = render(comparison, made, store.read_environment(), why, metric, phase, section)
    return write(page, ResultsStore(out or results).folder)
