"""Settings files and precedence: built-in defaults <- benchmarks.toml [defaults] <- a suite
<- flags. Settings files are plain data (TOML, never evaluated), each key checked against its
declaration in `bench.settings`, so a typo in an unused suite is still caught early.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common.paths import PROJECT_ROOT
from bench.errors import BenchError, did_you_mean, shorten
from bench.settings.declarations import FIELDS, Settings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_NAME = "benchmarks.toml"
ROOT_CONFIG = PROJECT_ROOT / CONFIG_NAME  # the project's own


TYPES = typing.get_type_hints(Settings)


def _check_type(key: str, value: Any, hint: Any, where: str) -> Any:
    """Return value if it fits the type hint; raise a one-line error naming the key otherwise."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            try:
                return _check_type(key, value, arg, where)
            except BenchError:
                continue
    elif origin is list:
        if isinstance(value, list):
            return [_check_type(key, v, args[0], where) for v in value]
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is type(None):
        if value is None:
            return value
    elif isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    shown = getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
    raise BenchError(
        f"{where}: setting '{key}' must be of type {shown}, got {shorten(repr(value))}"
    )


def _unknown_key(key: str, where: str) -> BenchError:
    hint = did_you_mean(key, FIELDS)
    return BenchError(f"{where}: unknown setting '{shorten(key)}'" + (f"; {hint}" if hint else ""))


def apply(settings: Settings, values: dict[str, Any], where: str) -> Settings:
    """A copy of settings with values applied, each checked against its declared type."""
    checked = {}
    for key, value in values.items():
        if key not in FIELDS:
            raise _unknown_key(key, where)
        checked[key] = _check_type(key, value, TYPES[key], where)
    return dataclasses.replace(settings, **checked)


@dataclass
class ConfigFile:
    """A parsed benchmarks.toml: protocol defaults and named suites."""

    path: Path | None
    defaults: dict[str, Any]
    suites: dict[str, dict[str, Any]]


def find_config(path: str | Path | None) -> Path | None:
    """The settings file to use: the one given, else ./benchmarks.toml, else the project's."""
    if path is not None:
        return Path(path)
    for candidate in (Path.cwd() / CONFIG_NAME, ROOT_CONFIG):
        if candidate.is_file():
            return candidate
    return None


def load_config(path: str | Path | None = None) -> ConfigFile:
    """Parse and check a settings file; a missing default file means built-in defaults only."""
    found = find_config(path)
    if found is None:
        return ConfigFile(None, {}, {})
    try:
        data = tomllib.loads(found.read_text())
    except FileNotFoundError:
        raise BenchError(f"settings file not found: {found}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise BenchError(f"cannot read settings file {found}: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise BenchError(f"{found}: not valid TOML: {err}") from None
    unknown = set(data) - {"defaults", "suites"}
    if unknown:
        raise BenchError(
            f"{found}: unknown section '{sorted(unknown)[0]}' "
            "(expected [defaults] and [suites.NAME])"
        )
    defaults = data.get("defaults", {})
    suites = data.get("suites", {})
    if not isinstance(defaults, dict) or not isinstance(suites, dict):
        raise BenchError(f"{found}: [defaults] and [suites] must be tables")
    # Check every table now, so a typo in an unused suite is still caught early.
    apply(Settings(), defaults, f"{found} [defaults]")
    for name, suite in suites.items():
        if not isinstance(suite, dict):
            raise BenchError(f"{found}: suites.{name} must be a table")
        body = {k: v for k, v in suite.items() if k != "description"}
        apply(Settings(), body, f"{found} [suites.{name}]")
    return ConfigFile(found, defaults, suites)


def resolve(config: ConfigFile, suite: str | None, overrides: dict[str, Any]) -> Settings:
    """Built-in defaults <- the file's [defaults] <- the suite <- explicit overrides."""
    where = str(config.path or "built-in defaults")
    settings = apply(Settings(), config.defaults, f"{where} [defaults]")
    if suite:
        if suite not in config.suites:
            known = ", ".join(sorted(config.suites)) or "none"
            raise BenchError(f"unknown suite '{suite}' in {where} (suites: {known})")
        body = {k: v for k, v in config.suites[suite].items() if k != "description"}
        settings = apply(settings, body | {"suite": suite}, f"{where} [suites.{suite}]")
    given = {k: v for k, v in overrides.items() if v is not None}
    return apply(settings, given, "given settings (flags or keywords)").validate()
