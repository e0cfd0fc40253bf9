"""The flags of `bench run`: one per setting, its type, help and default derived from the
settings' declarations (`bench.settings`), in the settings' groups, and the command's own."""

from __future__ import annotations

import argparse
import types
import typing

from bench.common.flags import count_or_word, fraction_or_count, list_of
from bench.data import corruption_help, dataset_help
from bench.settings import FIELDS, Settings, allowed_values

METAVARS = {int: "N", float: "F", str: "NAME"}


def flag_options(name: str) -> dict:
    """argparse options of a setting's flag, from its type hint and declaration."""
    meta = FIELDS[name].metadata
    kinds = [k for k in typing.get_args(HINTS[name]) if k is not type(None)] or [HINTS[name]]
    options = {"default": None, "help": setting_help(name)}
    if kinds == [bool]:
        return options | {"action": argparse.BooleanOptionalAction}
    if meta["choices"]:
        return options | {"choices": allowed_values(name)}
    if typing.get_origin(HINTS[name]) is list:
        union = typing.get_origin(kinds[0]) in (typing.Union, types.UnionType)
        kind, metavar = list_of(count_or_word if union else kinds[0]), "LIST"
    elif set(kinds) == {int, float}:
        kind, metavar = fraction_or_count, "F|N"
    else:
        kind, metavar = kinds[0], METAVARS[kinds[0]]
    return options | {"type": kind, "metavar": meta["metavar"] or metavar}


def setting_help(name: str) -> str:
    """A setting's help, with its built-in default."""
    spec = FIELDS[name]
    text = spec.metadata["help"].format(datasets=dataset_help(), corruptions=corruption_help())
    default = getattr(Settings(), name)
    if isinstance(default, bool):
        return f"{text} (default {'on' if default else 'off'})"
    if default in (None, "", []):
        return text
    shown = ",".join(map(str, default)) if isinstance(default, list) else default
    return f"{text} (default {shown})"


HINTS = typing.get_type_hints(Settings)


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """A flag for every setting, in the settings' groups, and the flags of the command."""
    groups = {}
    for name, spec in FIELDS.items():
        group = spec.metadata["group"]
        if group not in groups:
            groups[group] = p.add_argument_group(group)
        groups[group].add_argument(f"--{name.replace('_', '-')}", **flag_options(name))
    groups["what to run"].add_argument(
        "--config",
        metavar="FILE",
        help="settings file (default: ./benchmarks.toml, else the project's)",
    )
    out = groups["output"]
    out.add_argument(
        "--force", action="store_true", help="rerun runs already recorded in the results folder"
    )
    out.add_argument("--quiet", action="store_true", help="no progress output")
    out.add_argument(
        "--dry-run",
        action="store_true",
        help="show the runs this command would start and skip, the data set and an estimate "
        "of the time (from earlier runs); run and write nothing",
    )
    out.add_argument(
        "--in-process",
        action="store_true",
        help="the same as --executor in-process: every run in this process (debugging only: "
        "GPU memory then carries over from run to run)",
    )
