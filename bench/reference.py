"""The README's generated parts, each derived from its one declaration: the settings table
(`bench.settings`), the results files' columns (`bench.results.schema`) and the data sets
(`bench.data.DATASETS`). `python -m bench.reference` rewrites them in README.md between their
markers; a test fails when the README and the declarations disagree."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from bench.common.paths import PROJECT_ROOT
from bench.data import DATASETS, dataset_help
from bench.results import schema
from bench.settings import FIELDS, GROUPS, Settings, allowed_values

README = PROJECT_ROOT / "README.md"


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
            meaning = meta["help"].format(datasets=dataset_help())
            if meta["choices"]:
                meaning += f"; one of {', '.join(f'`{c}`' for c in allowed_values(name))}"
            if not meta["protocol"]:
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


def _pattern(name: str) -> re.Pattern:
    return re.compile(
        rf"(<!-- generated: {re.escape(name)} .*?-->\n)(.*?)(\n<!-- end: {re.escape(name)} -->)",
        re.S,
    )


def section(text: str, name: str) -> str | None:
    """The README's current content of a generated section, or None without its markers."""
    found = _pattern(name).search(text)
    return found.group(2) if found else None


def update(text: str) -> str:
    """The README text with every generated section made from its declaration."""
    for name, make in SECTIONS.items():
        if section(text, name) is None:
            raise ValueError(f"README.md has no markers for the generated section '{name}'")
        made = make()
        text = _pattern(name).sub(lambda m, made=made: m.group(1) + made + m.group(3), text)
    return text


def main(path: Path = README) -> int:
    text = path.read_text()
    new = update(text)
    if new != text:
        path.write_text(new)
        print(f"updated the generated sections of {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
