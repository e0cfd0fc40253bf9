"""`bench plot`: the comparison figures of one comparison, from the results files alone.

Each figure is a function of the comparison and its ranking that returns a matplotlib figure, or
raises `Missing` with the reason it cannot be drawn (no GPU memory on a CPU, one epoch, ...);
then the file still gets written, holding that reason, so a paper's figure list never breaks.

May import: what `bench.reports` may, and `bench.reports.comparison` and `statistics`.

Adding a figure is one function in a module here (scatter, bars, curves, classes) and one line
in `FIGURES`: `bench plot`, report.html and MLflow's artifacts all draw from that table.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

# No matplotlib.use() here: this module is imported in the caller's process too (bench.run
# writes report.html), where the backend is the caller's (a notebook's inline figures). bench's
# own command line chooses Agg through MPLBACKEND; figures are saved to files, never shown.
import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.backend_bases import FigureCanvasBase

from bench.common.files import write_atomically
from bench.errors import BenchError
from bench.reports.comparison import Comparison
from bench.reports.plots.bars import gpu_memory, phases, throughput
from bench.reports.plots.base import Missing
from bench.reports.plots.classes import confusion_best, per_class_accuracy
from bench.reports.plots.curves import training_curves
from bench.reports.plots.scatter import accuracy_vs
from bench.reports.statistics import ranking

FIGURES: dict[str, tuple[str, Callable]] = {
    "accuracy_vs_params": (
        "Test accuracy against parameters",
        lambda c, t: accuracy_vs(t, "params_m", "parameters (millions, log scale)"),
    ),
    "accuracy_vs_time": (
        "Test accuracy against training time per epoch",
        lambda c, t: accuracy_vs(t, "time_per_epoch_s", "time per epoch (s, log scale)"),
    ),
    "accuracy_vs_gmacs": (
        "Test accuracy against compute",
        lambda c, t: accuracy_vs(t, "gmacs", "GMACs per image (log scale)"),
    ),
    "phases": ("Frozen, fine-tuned and from-scratch test accuracy", phases),
    "training_curves": ("Training and validation accuracy per epoch", training_curves),
    "gpu_memory": ("Peak GPU memory per phase", gpu_memory),
    "throughput": ("Training and inference throughput", throughput),
    "per_class_accuracy": ("Per-class test accuracy (%)", per_class_accuracy),
    "confusion_best": ("Confusion matrix of the best model", confusion_best),
}


def draw_all(
    comparison: Comparison,
    out: str | Path,
    metric: str = "test_accuracy",
    phase: str = "final",
    formats: Sequence[str] = ("png", "pdf"),
) -> list[Path]:
    """Every figure of FIGURES, in each format, into out (made if missing); returns the
    files written."""
    # Every format matplotlib writes, whatever the caller's backend (and no figure opened).
    supported = FigureCanvasBase.get_supported_filetypes()
    unknown = sorted(set(formats) - set(supported))
    if unknown:
        raise BenchError(f"cannot draw {', '.join(unknown)}; formats: {', '.join(supported)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, figure in figures(comparison, metric, phase):
        for fmt in formats:
            written.append(_save(figure, out / f"{name}.{fmt}", fmt))
        plt.close(figure)
    return written


def figures(
    comparison: Comparison, metric: str = "test_accuracy", phase: str = "final"
) -> Iterator[tuple[str, plt.Figure]]:
    """Each figure of FIGURES by name, titled; one that cannot be drawn holds the reason.
    The caller closes each figure."""
    table = ranking(comparison, metric, phase)
    with plt.rc_context():  # the theme is ours alone: the caller's settings come back after
        sns.set_theme(context="paper", style="whitegrid", palette="colorblind")
        yield from _drawn(comparison, table)


def _drawn(comparison: Comparison, table) -> Iterator[tuple[str, plt.Figure]]:
    for name, (title, draw) in FIGURES.items():
        try:
            if comparison.ok.empty:
                raise Missing("no successful run in this comparison")
            figure = draw(comparison, table)
        except Missing as why:
            figure = _message(str(why))
        if not figure.legends:  # a seaborn grid has laid itself out around its legend
            figure.tight_layout()
        # Above everything the figure holds (panel titles too); bbox_inches="tight" keeps it.
        figure.suptitle(f"{title}\n{comparison.describe()}", fontsize=10, y=1.0, va="bottom")
        yield name, figure


def svg(figure: plt.Figure) -> str:
    """The figure as an SVG element to put inline in HTML (text drawn as paths: no fonts)."""
    buffer = io.StringIO()
    with plt.rc_context({"svg.fonttype": "path"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _message(text: str) -> plt.Figure:
    figure, ax = plt.subplots(figsize=(6, 2.5))
    ax.axis("off")
    ax.text(0.5, 0.5, f"Not drawn: {text}", ha="center", va="center", wrap=True)
    return figure


def _save(figure: plt.Figure, path: Path, fmt: str) -> Path:
    """Atomically, like the results: never half a figure."""
    write_atomically(
        path, lambda out: figure.savefig(out, format=fmt, dpi=150, bbox_inches="tight")
    )
    return path
