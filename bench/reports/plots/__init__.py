"""`bench plot`: the comparison figures of one comparison, from the results files alone.

Each figure is a function of the comparison and its ranking that returns a matplotlib figure, or
raises `Missing` with the reason it cannot be drawn (no GPU memory on a CPU, one epoch, ...);
then the file still gets written, holding that reason, so a paper's figure list never breaks.

May import: what `bench.reports` may, and `bench.reports.comparison` and `statistics`.

Titles carry no settings hash: each saved file holds the comparison it was drawn from in its
metadata (PNG, PDF, SVG), and captions.md beside the files gives every figure a caption to paste
(`captions`).

Adding a figure is one function in a module here (scatter, bars, curves, classes) and one entry
in `catalog.FIGURES` (title, caption, draw): `bench plot`, report.html and MLflow's artifacts all
draw and caption from that table.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
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
from bench.reports.plots.base import Missing
from bench.reports.plots.captions import CAPTIONS, Caption, captions_file, metadata
from bench.reports.plots.catalog import FIGURES, Figure
from bench.reports.statistics import PHASE_NAMES, ranking

__all__ = ["FIGURES", "Caption", "Figure", "draw_all", "figures", "svg"]


def draw_all(
    comparison: Comparison,
    out: str | Path,
    metric: str = "test_accuracy",
    phase: str = "final",
    formats: Sequence[str] = ("png", "pdf"),
) -> list[Path]:
    """Every figure of FIGURES, in each format, into out (made if missing), and captions.md;
    returns the files written."""
    # Every format matplotlib writes, whatever the caller's backend (and no figure opened).
    supported = FigureCanvasBase.get_supported_filetypes()
    unknown = sorted(set(formats) - set(supported))
    if unknown:
        raise BenchError(f"cannot draw {', '.join(unknown)}; formats: {', '.join(supported)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written, captions = [], []
    for name, figure, caption in figures(comparison, metric, phase):
        for fmt in formats:
            written.append(_save(figure, out / f"{name}.{fmt}", fmt, metadata(caption, fmt)))
        plt.close(figure)
        captions.append((name, caption))
    write_atomically(out / CAPTIONS, captions_file(captions, formats))
    return [*written, out / CAPTIONS]


def figures(
    comparison: Comparison, metric: str = "test_accuracy", phase: str = "final"
) -> Iterator[tuple[str, plt.Figure, Caption]]:
    """Each figure of FIGURES by name, titled, with its caption; one that cannot be drawn
    holds the reason, and so does its caption. The caller closes each figure."""
    table = ranking(comparison, metric, phase)
    ranked = f"models ranked by {metric.replace('_', ' ')} of {PHASE_NAMES[phase]}"
    with plt.rc_context():  # the theme is ours alone: the caller's settings come back after
        sns.set_theme(context="paper", style="whitegrid", palette="colorblind")
        for name, entry in FIGURES.items():
            figure, why = _drawn(entry, comparison, table)
            caption = Caption(entry.title, entry.caption, comparison.describe(), ranked, why)
            yield name, figure, caption


def _drawn(entry: Figure, comparison: Comparison, table) -> tuple[plt.Figure, str]:
    """The figure titled with its human title alone (the provenance goes to its metadata and
    caption), and why it was not drawn ("" when it was)."""
    why = ""
    try:
        if comparison.ok.empty:
            raise Missing("no successful run in this comparison")
        figure = entry.draw(comparison, table)
    except Missing as missing:
        why = str(missing)
        figure = _message(why)
    if not figure.legends:  # a seaborn grid has laid itself out around its legend
        figure.tight_layout()
    # Above everything the figure holds (panel titles too); bbox_inches="tight" keeps it.
    figure.suptitle(entry.title, fontsize=10, y=1.0, va="bottom")
    return figure, why


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


def _save(figure: plt.Figure, path: Path, fmt: str, about: dict[str, str] | None) -> Path:
    """Atomically, like the results: never half a figure. `about`: the file's metadata."""

    def save(out) -> None:
        figure.savefig(out, format=fmt, dpi=150, bbox_inches="tight", metadata=about)

    write_atomically(path, save)
    return path
