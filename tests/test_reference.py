"""The documentation keeps true: the generated tables of its reference pages equal their
declarations (`bench.reference`), every document the code, the README and the pages cite
exists, the README stays short, and the site builds with no warning."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import pytest

from bench import reference
from bench.settings import FIELDS
from tests.helpers import ROOT, bench_main

MODULES = {
    ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): path
    for path in (ROOT / "bench").rglob("*.py")
}
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
README_LIMIT = 15 * 1024  # bytes: a README read in five minutes; the rest is in docs/


def test_every_setting_has_a_flag_and_a_row_in_the_settings_reference(capsys):
    _, out, _ = bench_main(capsys, "run", "--help")
    page = reference.PAGES["settings"]
    assert page == DOCS / "reference" / "settings.md"
    table = reference.section(page.read_text(), "settings")
    for name in FIELDS:
        assert f"--{name.replace('_', '-')}" in out, f"bench run has no flag for {name}"
        assert f"| `{name}` |" in table, f"{page.name}'s settings table has no row for {name}"


@pytest.mark.parametrize("name", list(reference.SECTIONS))
def test_generated_sections_match_their_declarations(name):
    page = reference.PAGES[name]
    assert page.is_relative_to(DOCS), f"{name} is generated outside docs/: {page}"
    assert reference.section(page.read_text(), name) == reference.SECTIONS[name](), (
        f"{page.relative_to(ROOT)}'s {name} section is out of date: run python -m bench.reference"
    )


def test_every_section_has_a_page_and_only_its_page_has_its_markers():
    assert set(reference.PAGES) == set(reference.SECTIONS)
    readme = (ROOT / "README.md").read_text()
    for name, page in reference.PAGES.items():
        assert reference.section(readme, name) is None, f"README.md still holds {name}"
        for other in PAGES:
            found = reference.section(other.read_text(), name) is not None
            assert found == (other == page), f"{name}'s markers in {other.relative_to(ROOT)}"


def test_a_stale_table_is_noticed():
    page = reference.PAGES["settings"]
    text = page.read_text()
    stale = text.replace("| `lr_finetune` |", "| `lr_fine_tune` |")
    assert stale != text
    assert reference.section(stale, "settings") != reference.settings_table()
    assert reference.update(stale, reference.sections_on(page)) == text
    assert reference.update(stale) == text  # by default: every section the text holds
    results = reference.PAGES["runs.csv"]
    tables = ("runs", "epochs", "classes", "confusion", "calibration", "corruptions")
    assert reference.sections_on(results) == [f"{t}.csv" for t in tables]
    with pytest.raises(ValueError, match="settings"):
        reference.update(results.read_text(), ["settings"])


def test_the_reference_check_passes_on_the_pages_as_committed(capsys):
    assert reference.main(["--check"]) == 0, capsys.readouterr().out


def _relative_links(markdown: str) -> list[str]:
    """Link targets that are files of this repository: no URL, no bare anchor."""
    return [
        target
        for target in re.findall(r"\]\(([^)\s#]+)(?:#[^)]*)?\)", markdown)
        if ":" not in target
    ]


def test_every_document_the_code_readme_and_docs_cite_is_in_the_repository():
    readme = (ROOT / "README.md").read_text()
    code = "".join(path.read_text() for path in MODULES.values())
    cited = set(re.findall(r"docs/[\w./-]+\.md", code))
    assert {"docs/protocol.md", "docs/reference/results.md"} <= cited
    for target in cited:
        assert (ROOT / target).exists(), f"the code cites {target}, which is not in the repository"

    links = _relative_links(readme)
    assert "docs/protocol.md" in links and "docs/report-smoke.png" in links
    for target in links:
        assert (ROOT / target).exists(), f"README.md links {target}, which is not in the repository"
    for page in PAGES:
        for target in _relative_links(page.read_text()):
            assert (page.parent / target).exists(), (
                f"{page.relative_to(ROOT)} links {target}, which is not in the repository"
            )
    everything = readme + code + "".join(page.read_text() for page in PAGES)
    assert "PROTOCOL.md" not in everything


def test_every_source_file_the_readme_and_docs_name_exists():
    """A module, test or benchmark renamed or removed must not live on in the documentation."""
    text = (ROOT / "README.md").read_text() + "".join(page.read_text() for page in PAGES)
    named = set(re.findall(r"\b(?:bench|tests|benchmarks)/[\w/.-]+\.(?:py|j2)\b", text))
    assert "bench/results/schema.py" in named
    for path in named:
        assert (ROOT / path).exists(), f"the documentation names {path}, which does not exist"


def test_the_readme_is_short():
    size = (ROOT / "README.md").stat().st_size
    assert size <= README_LIMIT, (
        f"README.md is {size} bytes, over {README_LIMIT}: move the detail into docs/"
    )


def test_every_page_is_in_the_sites_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in PAGES:
        assert f" {page.relative_to(DOCS).as_posix()}\n" in nav, f"{page.name} is not in nav"


@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None,
    reason="the site is not built: mkdocs and mkdocs-material are not installed "
    "(pip install 'mkdocs>=1.6' 'mkdocs-material>=9')",
)
def test_the_documentation_site_builds_with_no_warning(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", "mkdocs.yml"]
        + ["-d", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # no banner about MkDocs 2
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "index.html").exists()
    assert (tmp_path / "reference" / "results" / "index.html").exists()


def test_the_readme_installs_the_tool_alone_before_any_extra():
    """A newcomer's first command installs bench and runs the smoke suite, without the tests'
    and the cluster's extras; the second adds those and runs the tests."""
    readme = (ROOT / "README.md").read_text()
    quick = re.search(r"## Quick start.*?```bash\n(.*?)```", readme, re.S)[1]
    first, second = [line.split("#")[0].strip() for line in quick.strip().splitlines()]
    assert first == "python -m pip install -e . && bench run --suite smoke"
    assert second.endswith("&& python -m pytest") and "[dev" in second
