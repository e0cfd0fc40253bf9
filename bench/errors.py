"""The one exception type users see: a clear, one-line message and a non-zero exit."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BenchError(Exception):
    """A problem with the user's input or environment, explained in one line.

    The command line prints it without a traceback; anything else that escapes is a bug.
    """


def shorten(value: object, limit: int = 120) -> str:
    """A value as it goes into a message: its head and its tail when it is long (a 5 MB
    string in a settings file must not fill the terminal)."""
    text = str(value)
    if len(text) <= limit:
        return text
    half = (limit - 1) // 2
    return f"{text[:half]}…{text[-half:]} ({len(text)} characters)"


def describe_error(err: BaseException) -> str:
    """An exception as a failed row records it: its type and its message on one line."""
    return f"{type(err).__name__}: {' '.join(str(err).split())[:500]}"


def did_you_mean(word: str, choices: Iterable[str], n: int = 1, key=None) -> str:
    """'did you mean X?' with the closest of `choices` (compared through `key`, which
    normalises spelling), or '' when none is close."""
    key = key or (lambda text: text)
    by_key = {key(choice): choice for choice in choices}
    close = difflib.get_close_matches(key(word), by_key, n=n, cutoff=0.6)
    return f"did you mean {', '.join(by_key[c] for c in close)}?" if close else ""
