"""ranking.tex: the ranked table of `bench.reports.tables` as a booktabs table to \\input into a
paper. Numbers align on the decimal point (siunitx `S` columns, their `table-format` taken from
the cells), a "mean ± std" cell is three columns (mean, ±, std) so both numbers align, and the
caption says what a reader needs; the machine's details go into comments above the table."""

from __future__ import annotations

import re
import textwrap
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from bench.errors import BenchError
from bench.reports.comparison import Comparison
from bench.reports.statistics import FLAG_MARK, TIE_MARK

# A one-column article at 10pt, letterpaper or a4 with default margins, has \textwidth = 345pt
# (article.cls: the smaller of the paper width less 2 in and 345pt). A table estimated wider is
# scaled down to \linewidth (graphicx) as the last resort; fewer columns read better.
TEXT_WIDTH_PT = 345.0
# Widths at \footnotesize (cmr8) in pt, measured with \wd in pdflatex, rounded up: enough to
# tell whether the table fits, erring wide. Digit, decimal point, minus and ±, upright and bold
# (siunitx sets all of an S column's table-format in bold where a cell is bold).
GLYPHS_PT = {False: (4.25, 2.36, 6.61, 10.39), True: (4.9, 2.72, 7.62, 11.98)}
DIGIT_PT = GLYPHS_PT[False][0]
CHAR_PT = {
    c: width
    for chars, width in {
        "fijlI.,:;!'[]-– ": 2.83,
        "rtsceoz()": 3.8,
        "0123456789ago/*†‡": DIGIT_PT,
        "ABCDEFGHJKLNOPQRSTUVXYZmw%+=@±": 6.7,
        "MW": 8.8,
    }.items()
    for c in chars
}
OTHER_PT = 4.72  # most lower-case letters
TABCOLSEP_PT = 4.0  # set in the table: the default 6pt would cost 2 x 2pt between every column
TEXT_KEYS = {"rank": "r", "model": "l", "family": "l"}  # the others are numbers
NUMBER = re.compile(r"(?P<sign>-?)(?P<whole>\d+)(?:\.(?P<frac>\d+))?(?:e(?P<exp>[+-]?\d+))?")
# Inside the table, so nothing outside changes: detect-weight prints a \bfseries cell bold,
# mode=math takes digits and ± from the math fonts every TeX has, group-digits=none keeps
# 0.00771 as wide as its table-format.
SETUP = r"\sisetup{detect-weight, mode=math, group-digits=none}"


class Ranked(Protocol):
    """What ranking.tex is made of: a `bench.reports.tables.Report`."""

    title: str
    header: list[str]
    keys: list[str]
    rows: list[list[str]]
    bold: list[list[bool]]
    notes: list[str]
    failures: list[str]
    comparison: Comparison
    ranked_by: str


@dataclass
class Chosen:
    """The report's columns that ranking.tex shows, in its order."""

    keys: list[str]
    header: list[str]
    rows: list[list[str]]
    bold: list[list[bool]]


@dataclass
class TexColumn:
    spec: str  # its tabular column specification: one column, or mean, ± and std
    span: int  # how many tabular columns that is
    header: str  # plain text
    cells: list[str]  # LaTeX, a row each ("a & b & c" when it spans three)
    width_pt: float  # of the widest cell, estimated


def render(report: Ranked, keys: list[str]) -> str:
    """ranking.tex of the columns `keys` names (see `select`)."""
    chosen = select(report, keys)
    columns = tex_columns(chosen)
    width = width_pt(columns)
    scaled = width > TEXT_WIDTH_PT
    packages = "booktabs,siunitx,graphicx" if scaled else "booktabs,siunitx"
    lines = [
        "% ranking.tex, written by `bench report` from the results files. It needs in the",
        f"% preamble: \\usepackage{{{packages}}} (siunitx 3: TeX Live 2021 or later).",
        *_comments(report, width, scaled),
        *table(columns, scaled, caption(report, chosen), "tab:bench-ranking"),
    ]
    return "\n".join(lines) + "\n"


def table(columns: list[TexColumn], scaled: bool, caption: str, label: str) -> list[str]:
    """The table environment of `columns`: booktabs rules, siunitx set up, scaled to the line
    width when `scaled`, the caption (plain text) and the label."""
    lines = [
        "\\begin{table}[tbp]",
        "\\centering",
        "\\footnotesize",
        SETUP,
        f"\\setlength{{\\tabcolsep}}{{{TABCOLSEP_PT:g}pt}}",
        "\\resizebox{\\linewidth}{!}{%" if scaled else None,
        f"\\begin{{tabular}}{{@{{}}{' '.join(c.spec for c in columns)}@{{}}}}",
        "\\toprule",
        *_header(columns),
        "\\midrule",
        *(" & ".join(cells) + " \\\\" for cells in zip(*(c.cells for c in columns), strict=True)),
        "\\bottomrule",
        "\\end{tabular}" + ("}" if scaled else ""),
        # Below the table: article.cls spaces a caption from what is above it, not below.
        f"\\caption{{{_tex(caption)}}}",
        f"\\label{{{label}}}",
        "\\end{table}",
    ]
    return [line for line in lines if line is not None]


def select(report: Ranked, keys: list[str]) -> Chosen:
    """The columns `keys` names that the report has, in that order ("a|b": the first of a and
    b it has). Without the rank, the tie mark goes onto the model's name."""
    found = [next((k for k in key.split("|") if k in report.keys), None) for key in keys]
    indexes = list(dict.fromkeys(report.keys.index(k) for k in found if k))
    if not indexes:
        raise BenchError(f"no column of {', '.join(keys)} has a value in these runs")
    shown = [report.keys[i] for i in indexes]
    rows = [[row[i] for i in indexes] for row in report.rows]
    if "model" in shown and "rank" not in shown:
        name, rank = shown.index("model"), report.keys.index("rank")
        for row, full in zip(rows, report.rows, strict=True):
            row[name] += TIE_MARK if TIE_MARK in full[rank] else ""
    header = [report.header[i] for i in indexes]
    return Chosen(shown, header, rows, [[b[i] for i in indexes] for b in report.bold])


def tex_columns(chosen: Chosen) -> list[TexColumn]:
    return [
        _column(key, header, [row[i] for row in chosen.rows], [b[i] for b in chosen.bold])
        for i, (key, header) in enumerate(zip(chosen.keys, chosen.header, strict=True))
    ]


def width_pt(columns: list[TexColumn]) -> float:
    """The table's width at \\footnotesize, estimated from its cells and headers."""
    widths = [max(c.width_pt, *map(_text_pt, _wrap(c))) for c in columns]  # cells or header
    return sum(w + 2 * TABCOLSEP_PT for w in widths) - 2 * TABCOLSEP_PT


def caption(report: Ranked, chosen: Chosen) -> str:
    """Two sentences: what was compared and how it was ranked; how to read the columns shown."""
    runs = report.comparison.ok
    sizes = sorted({int(s) for s in runs["image_size"].dropna()})
    size = f"{sizes[0]}" if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]}"
    pretrained = sorted(set(runs["weights"]) - {"none"})
    weights = f"{', '.join(pretrained)} weights" if pretrained else "no pretrained weights"
    first = f"Models on {runs['dataset'].iloc[0]} at {size} px with {weights}, {report.ranked_by}."
    marks = {c for row in chosen.rows for cell in row for c in cell}
    read = [_seeds(runs)]
    if any(map(any, chosen.bold)):
        read.append("best of each column in bold")
    if TIE_MARK in marks:
        read.append(f"{TIE_MARK} 95% confidence interval overlaps the best model's")
    if FLAG_MARK in marks:
        read.append(f"{FLAG_MARK} not ranked: learned nothing (chance accuracy or diverged loss)")
    return f"{first} {'; '.join(read)}."


def _seeds(runs: pd.DataFrame) -> str:
    """'Mean ± standard deviation over 3 seeds (DenseNet121: 1)', from the ok runs."""
    seeds = runs.groupby("model", sort=False)["seed"].nunique().to_dict()
    if max(seeds.values()) == 1:
        return "One seed"
    usual = Counter(seeds.values()).most_common(1)[0][0]
    others = ", ".join(f"{m}: {n}" for m, n in seeds.items() if n != usual)
    said = f"Mean ± standard deviation over {usual} seed{'s' * (usual != 1)}"
    return f"{said} ({others})" if others else said


def _comments(report: Ranked, width: float, scaled: bool) -> list[str]:
    """What the caption leaves out: the runs and settings hash, the notes, the failed runs."""
    said = [f"{report.title}.", *report.notes]
    if scaled:
        said.append(
            f"About {width:.0f}pt wide at \\footnotesize, wider than the {TEXT_WIDTH_PT:g}pt "
            "text of a one-column article: scaled to \\linewidth. Fewer columns (bench report "
            "--columns) fit without."
        )
    lines = [line for text in said for line in textwrap.wrap(text, 96)]
    lines += [f"failed run: {' '.join(f.split())}" for f in report.failures]
    return [f"% {line}" for line in lines]


def _column(key: str, header: str, cells: list[str], bold: list[bool]) -> TexColumn:
    if key in TEXT_KEYS:  # never bold; 'ResNet50 ‡' -> 'ResNet50‡', a superscript on the name
        tex = [_tex(c.replace(f" {FLAG_MARK}", FLAG_MARK)) for c in cells]
        return TexColumn(TEXT_KEYS[key], 1, header, tex, max(map(_text_pt, cells)))
    means, stds = zip(*(_split(c) for c in cells), strict=True)
    heavy = any(bold)
    mean_spec, mean_pt = _number_column(means, heavy)
    if not any(stds):
        tex = [_number(m, b) for m, b in zip(means, bold, strict=True)]
        return TexColumn(mean_spec, 1, header, tex, mean_pt)
    std_spec, std_pt = _number_column(stds, heavy)
    pm_pt = GLYPHS_PT[heavy][3]
    tex = [
        f"{_number(m, b)} & {_pm(s, b)} & {_number(s, b)}"
        for m, s, b in zip(means, stds, bold, strict=True)
    ]
    return TexColumn(f"{mean_spec}@{{}}c@{{}}{std_spec}", 3, header, tex, mean_pt + pm_pt + std_pt)


def _split(cell: str) -> tuple[str, str]:
    """'92.00 ± 2.00' -> ('92.00', '2.00'); '85.00' -> ('85.00', ''); '–' -> ('', '')."""
    mean, _, std = cell.partition(" ± ")
    return ("" if mean == "–" else mean), std


def _number_column(values: tuple[str, ...], bold: bool) -> tuple[str, float]:
    """An S column whose table-format holds every value, and its width (`bold`: of a cell)."""
    found = [m for v in values if (m := NUMBER.fullmatch(v))]
    if not found:
        return "c", max(map(_text_pt, values))
    whole = max(len(m["whole"]) for m in found)
    frac = max(len(m["frac"] or "") for m in found)
    exp = max(len(m["exp"].lstrip("+-0") or "0") if m["exp"] else 0 for m in found)
    sign = "-" if any(m["sign"] for m in found) else ""
    negative = "-" if any((m["exp"] or "").startswith("-") for m in found) else ""
    form = f"{sign}{whole}" + (f".{frac}" if frac else "") + (f"e{negative}{exp}" if exp else "")
    digit, point, minus, _ = GLYPHS_PT[bold]
    width = (whole + frac) * digit + point * bool(frac) + minus * bool(sign)
    width += (3 * digit + minus + exp * digit) * bool(exp)  # " x 10^e"
    other = [v for v in values if v and not NUMBER.fullmatch(v)]  # text in braces: "inf"
    return f"S[table-format={form}]", max([width, *map(_text_pt, other)])


def _number(value: str, bold: bool) -> str:
    if not value:
        return ""
    text = value if NUMBER.fullmatch(value) else f"{{{_tex(value)}}}"
    return f"\\bfseries {text}" if bold else text


def _pm(std: str, bold: bool) -> str:
    if not std:
        return ""
    return "\\boldmath${}\\pm{}$" if bold else "${}\\pm{}$"


def _header(columns: list[TexColumn]) -> list[str]:
    """The headers, each wrapped to its column's width, over as many lines as the most needs."""
    wrapped = [_wrap(c) for c in columns]
    depth = max(map(len, wrapped))
    lines = []
    for line in range(depth):
        cells = []
        for column, text in zip(columns, wrapped, strict=True):
            word = _tex(text[line]) if line < len(text) else ""
            if column.span > 1:
                cells.append(f"\\multicolumn{{{column.span}}}{{c}}{{{word}}}")
            else:
                cells.append(f"{{{word}}}" if column.spec.startswith("S") else word)
        lines.append(" & ".join(cells) + " \\\\")
    return lines


def _wrap(column: TexColumn) -> list[str]:
    """The header in lines about as wide as the cells, or as its longest word."""
    chars = max(*map(len, column.header.split()), round(column.width_pt / DIGIT_PT))
    return textwrap.wrap(column.header, chars, break_long_words=False, break_on_hyphens=False)


def _text_pt(text: str) -> float:
    return sum(CHAR_PT.get(c, OTHER_PT) for c in text)


TEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    TIE_MARK: r"$^\dagger$",
    FLAG_MARK: r"$^\ddagger$",
    "–": "--",
}


def _tex(text: str) -> str:
    return "".join(TEX_ESCAPES.get(ch, ch) for ch in str(text))
