"""How a setting is declared: `setting(...)` and its shorthands per group, and the checks of a
value (`at_least`, `between`, ...) with the message that says what it must be instead."""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable
from typing import Any

GROUPS = ("what to run", "how it runs", "protocol", "measurements", "output")
UNSET = object()
# A test of the value, and what it must be otherwise (or a function of the value saying so).
Check = tuple[Callable[[Any], bool], str | Callable[[Any], str]]


def setting(
    default: Any,
    help: str,  # noqa: A002 - the argparse name
    *,
    group: str,
    checks: tuple[Check, ...] = (),
    choices: tuple[str, ...] = (),
    metavar: str | None = None,
    hashed: bool = True,
    added_later: Any = UNSET,
) -> Any:
    """A Settings field with everything said about it. `choices`: the allowed values besides
    the default; `hashed=False`: not in the settings hash (what is run, where, how it is
    retried); `added_later`: the value results written before the setting existed had (it
    joins the hash only when it differs, so those results keep their hash)."""
    assert group in GROUPS, group
    meta = {"help": help, "group": group, "checks": checks, "choices": choices}
    meta |= {"metavar": metavar, "hashed": hashed, "added_later": added_later}
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def at_least(low: float, why: str = "") -> Check:
    return (lambda v: v is None or v >= low, f"must be at least {low}{why}")


def between(low: float, high: float, closed_low: bool = False) -> Check:
    if closed_low:
        return (lambda v: low <= v < high, f"must be in [{low}, {high})")
    return (lambda v: low < v < high, f"must be between {low} and {high}")


def installed(package: str) -> bool:
    """Whether a package can be imported (asked without importing it)."""
    return not package or importlib.util.find_spec(package) is not None


def install_hint(extra: str, name: str) -> str:
    return f"needs {name}, which is not installed (pip install -e '.[{extra}]')"


def install_command(backend: str) -> str:
    """How to install a backend: TensorFlow is a dependency, JAX and PyTorch are extras."""
    return "pip install tensorflow" if backend == "tensorflow" else f"pip install -e '.[{backend}]'"


POSITIVE: Check = (lambda v: v > 0, "must be positive")
NOT_NEGATIVE: Check = (lambda v: v >= 0, "must not be negative")


def what(default: Any, help: str, hashed: bool = False, **more: Any) -> Any:  # noqa: A002
    return setting(default, help, group="what to run", hashed=hashed, **more)


def how(default: Any, help: str, **more: Any) -> Any:  # noqa: A002
    return setting(default, help, group="how it runs", **more)


def protocol(default: Any, help: str, *checks: Check, **more: Any) -> Any:  # noqa: A002
    return setting(default, help, group="protocol", checks=checks, **more)


def measure(default: Any, help: str, *checks: Check, **more: Any) -> Any:  # noqa: A002
    """A measurement beyond the protocol's: it changes what a run's figures mean, so it is
    hashed; results from before it existed had its default."""
    return setting(default, help, group="measurements", checks=checks, added_later=default, **more)


def epochs(phase: str, default: int) -> Any:
    what = {
        "frozen": "the head on the frozen backbone",
        "finetune": "fine-tuning the top of the backbone",
        "scratch": "from-scratch training (baselines, weights none)",
    }[phase]
    return protocol(default, f"epochs of {what}; 0 skips the phase", NOT_NEGATIVE)
