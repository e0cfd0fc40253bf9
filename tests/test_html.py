"""report.html: every model of the ranking and every figure, in one file that a real browser
(headless Chromium, driven by Playwright) opens from disk without a console error, and whose
table sorts when a header is clicked; a folder of failed runs only still gives a valid page."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest
from markupsafe import escape

from bench.reports import html
from bench.reports.plots import FIGURES
from tests.helpers import ROOT, TRANSFER, bench_main, run_row, write_fixture

RANKED = [*TRANSFER, "simple_cnn"]


def chromium_path() -> str | None:
    """The Debian package's Chromium (CI installs it), else Playwright's own browser."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(
                executable_path=chromium_path(), args=["--no-sandbox"]
            )
        except sync_api.Error as err:
            pytest.skip(f"no Chromium to open the page in (apt install chromium): {err}")
        yield launched
        launched.close()


def open_page(browser, path):
    """The page, and the console errors and uncaught exceptions it raised while loading."""
    page = browser.new_page()
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors


def column(page, index: int) -> list[str]:
    return page.eval_on_selector_all(
        "#ranking tbody tr", f"rows => rows.map(r => r.cells[{index}].textContent.trim())"
    )


# One line of text on the fixture: no GPU, and none of the measurements beyond the protocol.
NOT_DRAWN = {"gpu_memory", "data_efficiency", "reliability", "corruption_severity"}
NOT_DRAWN |= {"clean_vs_corrupted"}


@pytest.mark.slow
def test_report_html_holds_every_model_and_figure_and_sorts(tmp_path, browser, capsys):
    write_fixture(tmp_path)
    code, _, err = bench_main(capsys, "report", "--results", str(tmp_path), "--html")
    assert code == 0, err
    html = (tmp_path / "report.html").read_text()
    assert "<script src" not in html and "<link" not in html and "@import" not in html
    for model in RANKED:
        assert f"<td>{model}</td>" in html
    assert "EfficientNetB0" in html and "ValueError: boom" in html  # the failed run

    page, errors = open_page(browser, tmp_path / "report.html")
    assert errors == []
    column_width = page.locator("#title").bounding_box()["width"]
    assert column_width > 1000, "the viewport's 1280 px, less the page's margins"
    for name in FIGURES:
        box = page.locator(f"#figure-{name} svg").bounding_box()
        assert box and box["width"] > 100 and box["height"] > 50, name
        if name not in NOT_DRAWN:
            assert box["width"] >= 0.98 * column_width, f"{name} is as wide as the page"
        caption = page.locator(f"#figure-{name} figcaption").bounding_box()
        assert caption and caption["y"] >= box["y"] + box["height"], "the caption below it"
    header = page.eval_on_selector_all("#ranking th", "ths => ths.map(t => t.textContent)")
    assert column(page, 0)[0] == "1"
    page.click("#ranking th:nth-child(2)")  # model, ascending
    assert column(page, 1) == sorted(column(page, 1), key=str.casefold)
    finetuned = header.index("fine-tuned acc (%)")
    page.click(f"#ranking th:nth-child({finetuned + 1})")
    page.click(f"#ranking th:nth-child({finetuned + 1})")  # descending
    cells = column(page, finetuned)
    values = [float(re.match(r"[\d.]+", v).group()) for v in cells[:-1]]
    assert values == sorted(values, reverse=True) and len(values) == len(TRANSFER)
    assert cells[-1] == "–"  # simple_cnn has no fine-tuned phase: last either way
    page.click(f"#ranking th:nth-child({finetuned + 1})")  # ascending
    assert column(page, finetuned) == [*reversed(cells[:-1]), "–"]
    assert errors == []
    for model in RANKED:  # details: per model curves and per-class accuracy
        assert page.locator("details.per-model summary", has_text=model).count() == 1
    assert page.locator("details.per-model table.classes").count() == len(RANKED)


@pytest.mark.slow
def test_a_folder_of_failed_runs_still_gives_a_valid_page(tmp_path, browser, capsys):
    failed = run_row("VGG16", "setup", 0, None, status="failed", error="OSError: no weights")
    write_fixture(tmp_path, [failed])
    path = html.make(tmp_path)
    assert "OSError: no weights" in path.read_text()
    page, errors = open_page(browser, path)
    assert errors == []
    assert page.locator("#failed tbody tr").count() == 1
    assert page.locator("figure svg").count() == 0, "said once, not in a box per figure"
    code, _, err = bench_main(capsys, "report", "--results", str(tmp_path), "--html")
    assert code != 0 and "nothing to rank" in err and "report.html" in err


def test_a_page_where_every_run_failed_says_so_once_and_lists_the_failures(tmp_path):
    failed = [
        run_row(model, "setup", 0, None, status="failed", error=f"OSError: no weights for {model}")
        for model in ("VGG16", "ResNet50")
    ]
    write_fixture(tmp_path, failed)
    text = html.make(tmp_path).read_text()
    empty = re.search(r'<p class="empty" id="empty">(.*?)</p>', text, re.S).group(1)
    assert empty.startswith("Nothing to rank: every run of") and "2 failed runs" in empty
    assert text.lower().count("nothing to rank") == 1, "said once"
    assert "--phase" not in text, "no other phase would help when every run failed"
    assert "<figure" not in text and 'id="no-figures"' in text
    assert "no weights for VGG16" in text and "no weights for ResNet50" in text


def test_each_figure_is_captioned_and_as_wide_as_the_page(tmp_path):
    """Captions say what is drawn and how to read it, as captions.md does, not the file name;
    no style puts figures side by side or shrinks them."""
    write_fixture(tmp_path)
    text = html.make(tmp_path).read_text()
    style = re.search(r"<style>(.*?)</style>", text, re.S).group(1)
    assert "figure svg { display: block; width: 100%; height: auto; }" in style
    assert not re.search(r"grid-template-columns|display: *flex|columns:|max-width: *min", style)
    assert not re.search(r"width: *(50|33|25)%", style)
    found = re.findall(
        r'<figure id="figure-(\w+)"[^>]*>.*?<figcaption>(.*?)</figcaption>', text, re.S
    )
    captions = dict(found)
    assert list(captions) == list(FIGURES)
    assert captions["throughput"].startswith("<strong>Training and inference throughput.</strong>")
    for name, figure in FIGURES.items():
        said = f"<strong>{escape(figure.title)}.</strong> {escape(figure.caption)}"
        assert captions[name].startswith(said), name


def test_the_tie_mark_is_explained_as_the_code_and_tables_mean_it(tmp_path):
    write_fixture(tmp_path)
    text = html.make(tmp_path).read_text()
    assert "tied with the next" not in text
    assert "marks a model whose 95% confidence interval\noverlaps the best model's" in text


CALLER = """
import json, sys
import matplotlib
matplotlib.use("svg")  # the caller's backend (a notebook's would be matplotlib_inline)
import matplotlib.pyplot as plt
mine = plt.figure()  # a figure of the caller's, open
keys = ("axes.grid", "font.size", "axes.facecolor")
before = {key: str(matplotlib.rcParams[key]) for key in keys}
from bench.reports import html, plots
from bench.reports.comparison import load_comparison
from bench.results import ResultsStore
html.make(sys.argv[1])
comparison = load_comparison(ResultsStore(sys.argv[1], create=False))
plots.draw_all(comparison, sys.argv[2], formats=["png"])
after = {key: str(matplotlib.rcParams[key]) for key in before}
print(json.dumps([matplotlib.get_backend(), before == after, plt.fignum_exists(mine.number)]))
"""


def test_reports_leave_the_callers_matplotlib_as_it_was(tmp_path):
    """bench.run writes report.html in the caller's process: its backend, settings and open
    figures must be as they were (a notebook's inline figures kept working)."""
    write_fixture(tmp_path / "results")
    done = subprocess.run(
        [sys.executable, "-c", CALLER, str(tmp_path / "results"), str(tmp_path / "plots")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    backend, same_settings, still_open = json.loads(done.stdout.strip().splitlines()[-1])
    assert backend == "svg", "the caller's backend, not Agg"
    assert same_settings, "seaborn's theme stays inside bench's figures"
    assert still_open, "the caller's open figure is not closed"
