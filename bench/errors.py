"""The one exception type users see: a clear, one-line message and a non-zero exit."""


class BenchError(Exception):
    """A problem with the user's input or environment, explained in one line.

    The command line prints it without a traceback; anything else that escapes is a bug.
    """
