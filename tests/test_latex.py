"""ranking.tex compiles with pdflatex inside a plain one-column article and fits its text: no
error, no overfull box, numbers in siunitx columns, the caption for a reader and the machine's
details in comments; `bench report --columns` chooses its columns."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bench.reports import latex, tables
from bench.reports.comparison import load_comparison
from tests.helpers import bench_main, cli_error, run_row, write_fixture

PDFLATEX = shutil.which("pdflatex")
needs_pdflatex = pytest.mark.skipif(
    PDFLATEX is None,
    reason="pdflatex not installed (Debian: apt-get install texlive-latex-base "
    "texlive-latex-recommended texlive-science)",
)
DOCUMENT = r"""\documentclass[10pt,{paper}]{{article}}
{preamble}
\begin{{document}}
\typeout{{TEXTWIDTH=\the\textwidth}}
Some text before the table.
\input{{ranking}}
\end{{document}}
"""


def pdflatex(source: str, folder: Path) -> str:
    """pdflatex on `source`; its log, after failing on an error."""
    (folder / "paper.tex").write_text(source)
    done = subprocess.run(
        [PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "paper.tex"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = (folder / "paper.log").read_text(errors="replace")
    errors = [line for line in log.splitlines() if line.startswith("! ")]
    assert done.returncode == 0 and not errors, "\n".join(errors) or done.stdout[-3000:]
    return log


def compile_table(text: str, folder: Path, paper: str = "letterpaper") -> str:
    """A minimal article that \\inputs `text` with the preamble its first comment names; the
    log, after failing on an error or an overfull box."""
    (preamble,) = re.findall(r"\\usepackage\{[^}]+\}", text.split("\\begin{table}")[0])
    (folder / "ranking.tex").write_text(text)
    log = pdflatex(DOCUMENT.format(paper=paper, preamble=preamble), folder)
    overfull = re.findall(r"Overfull \\[hv]box.*", log)
    assert not overfull, overfull
    assert f"TEXTWIDTH={latex.TEXT_WIDTH_PT}pt" in log, "the text width the table is sized for"
    return log


def natural_width(text: str, folder: Path) -> float:
    """The width pdflatex gives the tabular of ranking.tex, unscaled, in pt."""
    lines = text.splitlines()
    setup = [line for line in lines if line.startswith(("\\footnotesize", "\\sisetup", "\\setl"))]
    body = lines[lines.index("\\toprule") - 1 : lines.index("\\bottomrule") + 1]
    measured = "%\n".join(["\\setbox0\\hbox{", *setup, *body, "\\end{tabular}}"])  # no spaces
    source = DOCUMENT.format(paper="letterpaper", preamble="\\usepackage{booktabs,siunitx}")
    source = source.replace("\\input{ranking}", measured + "\\typeout{NATURAL=\\the\\wd0}")
    return float(re.search(r"NATURAL=([\d.]+)pt", pdflatex(source, folder)).group(1))


# Every phase, GPU memory, long names, a noisy seed (a std of two digits), a tie and a flag.
WIDE = {  # model: (params, frozen, fine-tuned accuracies over three seeds)
    "InceptionResNetV2": (55.9e6, [0.80, 0.82, 0.84], [0.90, 0.92, 0.94]),
    "EfficientNetV2B0": (7.2e6, [0.78, 0.80, 0.79], [0.89, 0.91, 0.90]),
    "MobileNetV3Small": (1.5e6, [0.70, 0.71, 0.72], [0.80, 0.84, 0.81]),
    "ConvNeXtTiny": (28.6e6, [0.33, 0.34, 0.33], [0.33, 0.34, 0.34]),  # flagged: chance
}


def wide_rows() -> list[dict]:
    rows = []
    for model, (params, frozen, finetune) in WIDE.items():
        for seed, (a, b) in enumerate(zip(frozen, finetune, strict=True)):
            flag = "chance" if model == "ConvNeXtTiny" else None
            fields = dict(params_total=int(params), gmacs=params / 4e6, peak_gpu_mem_mb=9876.0)
            rows.append(run_row(model, "frozen", seed, a, flag=flag, **fields))
            rows.append(run_row(model, "finetune", seed, b, flag=flag, **fields))
    for seed, accuracy in enumerate([0.31, 0.55, 0.42]):  # a backbone from scratch, noisy
        scratch = dict(weights="none", settings_hash="bbbb", peak_gpu_mem_mb=12345.0)
        rows.append(run_row("EfficientNetV2B0", "scratch", seed, accuracy, **scratch))
        rows.append(run_row("simple_cnn", "scratch", seed, 0.75 + seed / 100, weights="none"))
    return rows


@pytest.fixture
def wide(tmp_path) -> tables.Report:
    return tables.build(load_comparison(write_fixture(tmp_path / "results", wide_rows())))


def tabular(text: str) -> tuple[str, list[str]]:
    """The column specification and the body rows of ranking.tex."""
    spec = re.search(r"\\begin\{tabular\}\{(.*)\}$", text, re.M).group(1)
    lines = text.splitlines()
    body = lines[lines.index("\\midrule") + 1 : lines.index("\\bottomrule")]
    return spec, body


@needs_pdflatex
@pytest.mark.parametrize("paper", ["letterpaper", "a4paper"])
def test_a_wide_table_of_every_phase_fits_a_one_column_article(wide, tmp_path, paper):
    assert {"frozen", "finetune", "scratch", "peak_gpu_mem_mb", "gain"} <= set(wide.keys)
    text = tables.latex(wide)  # the default columns: paper
    assert "\\resizebox" not in text and "graphicx" not in text, "fits without scaling"
    compile_table(text, tmp_path, paper)
    spec, body = tabular(text)
    assert len(body) == len(WIDE) + 1
    header = text.split("\\toprule")[1].split("\\midrule")[0]
    for name in ("model", "params", "frozen", "fine-tuned", "scratch", "GMACs"):
        assert name in header
    assert "GPU" not in header and "gain" not in header, "one cost column, no derived one"
    assert "rank" not in header, "the rows are in rank order"


@needs_pdflatex
def test_a_one_model_table_compiles(tmp_path):
    rows = [run_row("simple_cnn", "scratch", 0, 0.91, weights="none")]
    made = tables.build(load_comparison(write_fixture(tmp_path / "results", rows)))
    text = tables.latex(made)
    compile_table(text, tmp_path)
    caption = re.search(r"\\caption\{(.*)\}$", text, re.M).group(1)
    assert caption.startswith("Models on cifarlike at 32 px with no pretrained weights, ranked")
    assert "One seed" in caption and "bold" not in caption and "$^" not in caption
    _, (row,) = tabular(text)
    assert row == "simple\\_cnn & 2.10 & 91.00 & 0.021 \\\\"


@needs_pdflatex
def test_every_column_is_scaled_to_the_line_width_as_a_last_resort(wide, tmp_path):
    text = tables.latex(wide, "all")
    assert "\\resizebox{\\linewidth}{!}{%" in text and "booktabs,siunitx,graphicx" in text
    assert re.search(r"^% About \d+pt wide at \\footnotesize, wider than the 345pt", text, re.M)
    compile_table(text, tmp_path)


@needs_pdflatex
@pytest.mark.parametrize("columns", ["paper", "all"])
def test_the_width_estimate_errs_wide_by_little(wide, tmp_path, columns):
    estimate = latex.width_pt(latex.tex_columns(latex.select(wide, tables.choose(columns))))
    natural = natural_width(tables.latex(wide, columns), tmp_path)
    assert natural <= estimate <= 1.05 * natural


def test_numbers_align_in_siunitx_columns_with_marks_bold_and_empty_cells(wide):
    text = tables.latex(wide)
    spec, body = tabular(text)
    # Model and params, then frozen, fine-tuned, scratch: mean, ± and std columns, each S's
    # format from its cells (the noisy scratch run has a std of 12.01), and GMACs.
    accuracy = "S[table-format=2.2]@{{}}c@{{}}S[table-format={}.2]"
    expected = ["@{}l S[table-format=2.2]", *(accuracy.format(d) for d in "112")]
    assert spec == " ".join(expected) + " S[table-format=2.3]@{}"
    first, *_, last = body
    assert first.startswith("InceptionResNetV2 & 55.90 & \\bfseries 82.00 & ")
    assert "\\bfseries 92.00 & \\boldmath${}\\pm{}$ & \\bfseries 2.00" in first
    assert body[1].startswith("EfficientNetV2B0$^\\dagger$ & "), "no rank: the tie on the name"
    assert "42.67 & ${}\\pm{}$ & 12.01" in body[1]
    assert body[2].startswith("MobileNetV3Small & \\bfseries 1.50 & "), "the fewest parameters"
    assert last.startswith("ConvNeXtTiny$^\\ddagger$ & "), "flagged: listed, not ranked"
    simple = next(row for row in body if "simple\\_cnn" in row)
    assert " & 2.10 &  &  &  &  &  &  & \\bfseries 76.00 & " in simple, "no frozen phase: blank"
    _, every = tabular(tables.latex(wide, "all"))
    assert every[1].startswith("2$^\\dagger$ & EfficientNetV2B0 & other & 3 & ")
    assert every[-1].startswith("-- & ConvNeXtTiny$^\\ddagger$ & ")


def test_the_caption_is_for_a_reader_the_comments_for_the_record(wide):
    text = tables.latex(wide)
    caption = re.search(r"\\caption\{(.*)\}$", text, re.M).group(1)
    assert len(re.findall(r"\. ", caption)) == 1 and caption.endswith(".") and len(caption) < 500
    assert caption.startswith("Models on cifarlike at 32 px with imagenet weights, ranked by")
    assert "Mean $\\pm$ standard deviation over 3 seeds; best of each column in bold" in caption
    assert "$^\\dagger$ 95\\% confidence interval overlaps" in caption
    assert "$^\\ddagger$ not ranked: learned nothing" in caption
    assert "aaaa" not in caption and "Left out" not in caption
    comments = text.split("\\begin{table}")[0]
    assert all(line.startswith("% ") for line in comments.splitlines())
    assert "\\usepackage{booktabs,siunitx}" in comments.splitlines()[1]
    assert "settings aaaa + bbbb" in comments and "‡ Not ranked: ConvNeXtTiny (chance" in comments
    assert "\\label{tab:bench-ranking}" in text
    assert text.count("{") == text.count("}")


def test_failed_runs_and_left_out_columns_are_comments(tmp_path):
    text = tables.latex(tables.build(load_comparison(write_fixture(tmp_path))))
    comments = text.split("\\begin{table}")[0]
    assert "% failed run: EfficientNetB0 seed=0 setup: ValueError: boom" in comments
    assert "Left out, no value in these runs: probe acc (%)" in comments
    assert "peak GPU mem (MiB)" in comments
    assert "(DenseNet121: 1)" in re.search(r"\\caption\{(.*)\}$", text, re.M).group(1)


def test_a_list_of_columns_in_its_order_and_the_first_of_alternatives(wide):
    text = tables.latex(wide, "model, finetune,peak_gpu_mem_mb|gmacs")
    spec, body = tabular(text)
    assert spec.count("S[") == 4, "model, fine-tuned's mean ± std, GPU memory's mean ± std"
    assert body[0].startswith("InceptionResNetV2 & \\bfseries 92.00 & ")
    assert body[0].endswith(" & 9876 & ${}\\pm{}$ & 0 \\\\")
    assert "{GMACs}" in tables.latex(wide, "gmacs|peak_gpu_mem_mb")


def test_bench_report_columns_writes_and_prints_that_table(tmp_path, capsys):
    folder = write_fixture(tmp_path / "results", wide_rows()).folder
    args = ["report", "--results", str(folder), "--format", "tex", "--columns", "model,gain"]
    code, out, err = bench_main(capsys, *args)
    assert code == 0, err
    assert out == (folder / "ranking.tex").read_text() and "\\multicolumn{3}{c}{gain (pp)}" in out
    assert "| MobileNetV3Small" in (folder / "ranking.md").read_text(), "every column there"


@pytest.mark.parametrize(
    "columns, hint",
    [("papr", "did you mean paper?"), ("model,finetun", "did you mean finetune?")],
)
def test_an_unknown_column_is_one_line_with_a_suggestion(tmp_path, capsys, columns, hint):
    folder = write_fixture(tmp_path / "results").folder
    line = cli_error(capsys, "report", "--results", str(folder), "--html", "--columns", columns)
    assert hint in line and "sets: paper, reviewer, all; columns: rank, model" in line
    assert not (folder / "ranking.tex").exists() and not (folder / "report.html").exists()


@needs_pdflatex
def test_the_reviewer_columns_fit_too(tmp_path):
    """Probe, frozen, fine-tuned, scratch, ECE and corrupted accuracy: the reviewer suite's."""
    rows = wide_rows()
    for row in list(rows):
        row.update(test_ece=0.031 + row["seed"] / 100, corruption_accuracy=row["test_accuracy"] / 2)
        if row["phase"] == "frozen":
            rows.append({**row, "phase": "probe", "test_accuracy": row["test_accuracy"] + 0.01})
    made = tables.build(load_comparison(write_fixture(tmp_path / "results", rows)))
    text = tables.latex(made, "reviewer")
    header = text.split("\\toprule")[1].split("\\midrule")[0]
    for name in ("probe", "frozen", "fine-tuned", "scratch", "ECE", "corrupted"):
        assert name in header, name
    compile_table(text, tmp_path)
