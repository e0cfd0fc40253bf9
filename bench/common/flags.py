"""argparse, as bench's command line wants it: one-line errors with a suggestion for a mistyped
flag, no silent abbreviations, and the types of list and fraction-or-count flags."""

from __future__ import annotations

import argparse
import re

from bench.errors import did_you_mean


def list_of(kind):
    """A comma list; of integers, `a-b` is the range a to b (`--seeds 0-2`: 0, 1, 2)."""

    def parse(text: str):
        items = [t.strip() for t in text.split(",") if t.strip()]
        try:
            return [value for item in items for value in _items(kind, item)]
        except ValueError:
            example = "0,1,2 or 0-2" if kind is int else "a,b"
            raise argparse.ArgumentTypeError(
                f"expected a comma list of {kind.__name__} ({example}), got '{text}'"
            ) from None

    return parse


def count_or_word(text: str) -> int | str:
    """A count where the text is one (`5`), else the word itself (`all`)."""
    return int(text) if text.isdigit() else text


def _items(kind, item: str) -> list:
    if kind is int and re.fullmatch(r"\d+-\d+", item):
        low, high = map(int, item.split("-"))
        if low > high:
            raise ValueError(item)
        return list(range(low, high + 1))
    return [kind(item)]


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (the reason and where help is, not the whole usage), a
    suggestion for a mistyped flag, and no silent abbreviations (`--lim` is not `--limit`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def error(self, message: str):
        unknown = re.match(r"unrecognized arguments: (--[\w-]+)", message)
        if unknown:
            hint = did_you_mean(unknown.group(1), self._all_flags())
            message += f"; {hint}" if hint else ""
        self.exit(2, f"{self.prog}: error: {message} ({self.prog} --help lists every flag)\n")

    def _all_flags(self) -> set[str]:
        """Every long flag of this parser and of its commands'."""
        flags = set()
        for action in self._actions:
            flags |= {o for o in action.option_strings if o.startswith("--")}
            if isinstance(action, argparse._SubParsersAction):
                for parser in action.choices.values():
                    flags |= parser._all_flags()
        return flags


def fraction_or_count(text: str) -> int | float:
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a fraction (0.3) or a count (20)") from None
