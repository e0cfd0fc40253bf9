"""The documentation's generated parts, each derived from its one declaration: the settings
table (`bench.settings`, in docs/reference/settings.md), the results files' columns
(`bench.results.schema`, in docs/reference/results.md) and the data sets (`bench.data.DATASETS`,
in docs/reference/datasets.md). `python -m bench.reference` rewrites them in their pages between
their markers, `<!-- generated: NAME (...) -->` and `<!-- end: NAME -->`; with `--check` it only
says which are out of date. A test fails when a page and the declarations disagree."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from bench.common.paths import PROJECT_ROOT
from bench.data import DATASETS, corruption_help, dataset_help
from bench.results import schema
from bench.settings import FIELDS, GROUPS, Settings, allowed_values

DOCS = PROJECT_ROOT / "docs"


def _default(value) -> str:
    if value is None or value == "" or value == []:
        return ""
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def settings_table() -> str:
    """Every setting with its built-in default and meaning, in the groups of `bench run`."""
    lines = ["| key | default | meaning |", "|---|---|---|"]
    defaults = Settings()
    for group in GROUPS:
        lines.append(f"| **{group}** | | |")
        for name, spec in FIELDS.items():
            meta = spec.metadata
            if meta["group"] != group:
                continue
            meaning = meta["help"].format(datasets=dataset_help(), corruptions=corruption_help())
            if meta["choices"]:
                meaning += f"; one of {', '.join(f'`{c}`' for c in allowed_values(name))}"
            if not meta["hashed"]:
                meaning += " (not in the settings hash)"
            lines.append(f"| `{name}` | {_default(getattr(defaults, name))} | {meaning} |")
    return "\n".join(lines)


def columns_table(table: str) -> str:
    lines = ["| column | type | unit | better | meaning |", "|---|---|---|---|---|"]
    better = {"high": "higher", "low": "lower", None: ""}
    for c in schema.FILES[table]:
        lines.append(
            f"| `{c.name}` | {c.type.__name__} | {c.unit} | {better[c.better]} | {c.meaning} |"
        )
    return "\n".join(lines)


def datasets_list() -> str:
    return "\n".join(
        f"- `{name}{':' + s.argument if s.argument else ''}`: {s.description}"
        for name, s in DATASETS.items()
    )


SECTIONS = {
    "settings": settings_table,
    "datasets": datasets_list,
    **{f"{table}.csv": (lambda t=table: columns_table(t)) for table in schema.FILES},
}

# Where each generated section lives: section name -> its page.
PAGES = {
    "settings": DOCS / "reference" / "settings.md",
    "datasets": DOCS / "reference" / "datasets.md",
    **{f"{table}.csv": DOCS / "reference" / "results.md" for table in schema.FILES},
}


def sections_on(page: Path) -> list[str]:
    """The generated sections that live on a page, in the order of SECTIONS."""
    return [name for name, where in PAGES.items() if where == page]


def _pattern(name: str) -> re.Pattern:
    return re.compile(
        rf"(<!-- generated: {re.escape(name)} .*?-->\n)(.*?)(\n<!-- end: {re.escape(name)} -->)",
        re.S,
    )


def section(text: str, name: str) -> str | None:
    """A page's current content of a generated section, or None without its markers."""
    found = _pattern(name).search(text)
    return found.group(2) if found else None


def update(text: str, names: list[str] | None = None) -> str:
    """The page's text with every generated section in `names` (default: every section of
    SECTIONS whose markers are in the text) made from its declaration. A section named but
    without its markers is an error, as is a text with no generated section at all."""
    if names is None:
        names = [name for name in SECTIONS if section(text, name) is not None]
        if not names:
            raise ValueError("the text has no generated section")
    for name in names:
        if section(text, name) is None:
            raise ValueError(
                f"{PAGES[name].name} has no markers for the generated section '{name}'"
            )
        made = SECTIONS[name]()
        text = _pattern(name).sub(lambda m, made=made: m.group(1) + made + m.group(3), text)
    return text


def main(argv: list[str] | None = None) -> int:
    """Rewrite every page's generated sections; with --check, only list the stale pages and
    exit 1 if there are any."""
    check = "--check" in (sys.argv[1:] if argv is None else argv)
    stale = []
    for page in dict.fromkeys(PAGES.values()):
        text = page.read_text()
        new = update(text, sections_on(page))
        if new == text:
            continue
        stale.append(page)
        where = page.relative_to(PROJECT_ROOT)
        if check:
            print(f"{where} is out of date: run python -m bench.reference")
        else:
            page.write_text(new)
            print(f"updated the generated sections of {where}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
