"""The reference documentation keeps true: its generated tables equal their declarations
(`bench.reference`), and every document the code and the README cite exists."""

from __future__ import annotations

import re

import pytest

from bench import reference
from bench.settings import FIELDS
from tests.conftest import ROOT, bench_main

MODULES = {
    ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): path
    for path in (ROOT / "bench").rglob("*.py")
}


def test_every_setting_has_a_flag_and_a_readme_row(capsys):
    _, out, _ = bench_main(capsys, "run", "--help")
    readme = reference.section((ROOT / "README.md").read_text(), "settings")
    for name in FIELDS:
        assert f"--{name.replace('_', '-')}" in out, f"bench run has no flag for {name}"
        assert f"| `{name}` |" in readme, f"README's settings table has no row for {name}"


@pytest.mark.parametrize("name", list(reference.SECTIONS))
def test_readme_generated_sections_match_their_declarations(name):
    readme = (ROOT / "README.md").read_text()
    assert reference.section(readme, name) == reference.SECTIONS[name](), (
        f"README's {name} section is out of date: run python -m bench.reference"
    )


def test_a_stale_readme_table_is_noticed():
    readme = (ROOT / "README.md").read_text()
    stale = readme.replace("| `lr_finetune` |", "| `lr_fine_tune` |")
    assert reference.section(stale, "settings") != reference.settings_table()
    assert reference.update(stale) == readme


def test_every_document_the_code_and_readme_cite_is_in_the_repository():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", readme)  # relative links, no URLs
    code = "".join(path.read_text() for path in MODULES.values())
    cited = re.findall(r"docs/[\w./-]+\.md", code)
    assert "docs/protocol.md" in links and cited
    for target in links + cited:
        assert (ROOT / target).exists(), f"{target} is cited but not in the repository"
    assert "PROTOCOL.md" not in readme + code
