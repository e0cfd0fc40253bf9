"""The one exception type users see: a clear, one-line message and a non-zero exit."""


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
