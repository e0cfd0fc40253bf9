"""Settings of a benchmark: built-in protocol defaults <- benchmarks.toml <- a suite <- flags.

Settings are plain data (TOML, never evaluated). Every field is recorded with the results, so
two rows are comparable exactly when their protocol settings agree.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import importlib.util
import json
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import BenchError, shorten

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_NAME = "benchmarks.toml"
BACKENDS = ("", "tensorflow", "jax", "torch")
PRECISIONS = ("float32", "mixed")
ADDED_LATER = {"precision": "float32", "jit": None, "frozen_mode": "end-to-end"}
FROZEN_MODES = ("end-to-end", "features")
PHASES = ("frozen", "finetune", "scratch")  # each has its epochs_ and lr_ setting
ROOT_CONFIG = Path(__file__).resolve().parent.parent / CONFIG_NAME  # the project's own


@dataclass
class Settings:
    """Everything that defines a run. Defaults are the protocol (README, "The protocol")."""

    # What to run.
    models: list[str] = field(default_factory=list)
    dataset: str = "cifar10"
    data_dir: str | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    weights: str = "imagenet"  # "imagenet", "none", or a path to a backbone weights file
    suite: str = ""
    # Data.
    image_size: int = 224  # backbones resize to this inside the model
    storage_size: int = 0  # folder data sets are stored at this size; 0 keeps a common native size
    val_fraction: float = 0.1  # stratified validation split carved from train
    test_fraction: float = 0.2  # for data sets without an official test split
    split_seed: int = 0  # fixes the train/test split of such data sets across runs
    limit: int | None = None  # at most this many training images, stratified
    test_limit: int | None = None  # at most this many test images, stratified (quick trials)
    augment: bool = True  # random horizontal flip and translation, training only
    augment_shift: float = 0.1  # translation: up to this fraction of each side, whole pixels
    # How it runs: backend (empty: Keras's configured one), precision, XLA compilation.
    backend: str = ""  # tensorflow, jax or torch; each run's process starts with it
    precision: str = "float32"  # or "mixed": float16 (GPU) / bfloat16 compute, float32 logits
    jit: bool | None = None  # XLA/compiled training step; None: Keras's own choice ("auto")
    frozen_mode: str = "end-to-end"  # or "features": the frozen phase trains on cached features
    # Training protocol.
    batch_size: int = 64
    min_batch_size: int = 8  # out of memory: retry at half the batch size, down to this
    epochs_frozen: int = 10
    epochs_finetune: int = 10
    epochs_scratch: int = 30
    lr_frozen: float = 1e-3
    lr_finetune: float = 1e-5
    lr_scratch: float = 1e-3
    unfreeze: int | float = 0.3  # fine-tune the top fraction (float) or number (int) of layers
    patience: int = 3  # early stopping on validation loss, best weights restored
    dropout: float = 0.2
    # Output.
    out: str = "results"

    def validate(self) -> Settings:
        """Reject impossible values with a message naming the setting."""
        checks = [
            ("image_size", self.image_size >= 32, "must be at least 32 (the backbones' minimum)"),
            ("storage_size", self.storage_size >= 0, "must be 0 (native) or a positive size"),
            ("batch_size", self.batch_size >= 1, "must be at least 1"),
            ("min_batch_size", self.min_batch_size >= 1, "must be at least 1"),
            ("patience", self.patience >= 0, "must not be negative"),
            ("dropout", 0 <= self.dropout < 1, "must be in [0, 1)"),
            ("val_fraction", 0 < self.val_fraction < 1, "must be between 0 and 1"),
            ("test_fraction", 0 < self.test_fraction < 1, "must be between 0 and 1"),
            ("augment_shift", 0 <= self.augment_shift < 0.5, "must be in [0, 0.5)"),
            ("seeds", len(self.seeds) > 0, "must name at least one seed"),
            ("seeds", all(0 <= s < 2**32 for s in self.seeds), "must be in [0, 2**32)"),
            ("seeds", len(set(self.seeds)) == len(self.seeds), "names a seed twice"),
            ("unfreeze", self.unfreeze > 0, "must be a fraction in (0, 1] or a layer count >= 1"),
        ]
        checks += [
            (f"epochs_{p}", getattr(self, f"epochs_{p}") >= 0, "must not be negative")
            for p in PHASES
        ]
        checks += [(f"lr_{p}", getattr(self, f"lr_{p}") > 0, "must be positive") for p in PHASES]
        checks += [
            (n, getattr(self, n) is None or getattr(self, n) >= 1, "must be at least 1")
            for n in ("limit", "test_limit")
        ]
        checks += [
            ("backend", self.backend in BACKENDS, f"must be one of {', '.join(BACKENDS[1:])}"),
            ("backend", _installed(self.backend), f"is not installed ({_install(self.backend)})"),
            ("precision", self.precision in PRECISIONS, "must be float32 or mixed"),
            ("frozen_mode", self.frozen_mode in FROZEN_MODES, "must be end-to-end or features"),
        ]
        if isinstance(self.unfreeze, float):
            checks.append(("unfreeze", self.unfreeze <= 1, "as a fraction must be at most 1.0"))
        for name, ok, why in checks:
            if not ok:
                raise BenchError(
                    f"invalid setting {name}={shorten(repr(getattr(self, name)))}: {why}"
                )
        return self

    def protocol(self) -> dict[str, Any]:
        """The settings that make two results comparable (not what is run, nor where to)."""
        # min_batch_size only bounds out-of-memory retries; the batch size used is in each row.
        # The backend is in each row and run id; reports keep backends apart.
        skip = {"models", "seeds", "suite", "out", "data_dir", "min_batch_size", "backend"}
        protocol = {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}
        # Augmentation on is a different protocol since it became bench's own flip and integer
        # shift (Keras's RandomTranslation before): its shift fraction is always in the hash, so
        # no such run pools with one from before. With augmentation off nothing changed.
        if not self.augment:
            del protocol["augment_shift"]
        # Settings added after results were first written count only when they differ from
        # their default, so those results keep their hash (and their runs are not redone).
        return {k: v for k, v in protocol.items() if k not in ADDED_LATER or v != ADDED_LATER[k]}

    def protocol_hash(self) -> str:
        return stable_hash(self.protocol())


def _installed(backend: str) -> bool:
    """Whether the backend's package can be imported (asked without importing it)."""
    return backend not in BACKENDS[1:] or importlib.util.find_spec(backend) is not None


def _install(backend: str) -> str:
    """How to install a backend: TensorFlow is a dependency, JAX and PyTorch are extras."""
    return "pip install tensorflow" if backend == "tensorflow" else f"pip install -e '.[{backend}]'"


def stable_hash(data: Any, length: int = 12) -> str:
    """A short hash of JSON-able data that does not depend on key order or the process."""
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
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
    close = difflib.get_close_matches(key, FIELDS, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return BenchError(f"{where}: unknown setting '{shorten(key)}'{hint}")


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
    return apply(settings, given, "command line").validate()
