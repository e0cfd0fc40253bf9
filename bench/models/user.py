"""Your own model in the same table: `--models my_models.py:small_cnn` (a file) or
`--models my_package.models:small_cnn` (an importable module), beside any other model.

The function's parameters say what it is (docs/guide/your-model.md):

- `def small_cnn(input_shape, num_classes) -> keras.Model`: a whole classifier, trained from
  scratch like the `simple_cnn` baseline (its input is float 0-255 images at `image_size`).
- `def my_backbone(input_shape, weights="imagenet") -> keras.Model`: a backbone without its
  top, run through both phases (frozen, then fine-tuned) with a new head. `weights` is what
  `--weights` says: "imagenet" (the function's own pretrained weights), None (random, for
  `--weights none`: then it trains from scratch) or a weights file's path. The preprocessing is
  the module's own `preprocess_input(x)` (as each `keras.applications` module has), applied
  once inside the model; a module without one feeds raw 0-255 pixels.

The model's name in the tables is the function's; its `source` (runs.csv) names the file and
a hash of its contents, which is part of the run id: an edited file is a new run.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
from pathlib import Path
from types import ModuleType

from bench.errors import BenchError, did_you_mean
from bench.models.spec import ModelSpec

# path/to/file.py:function, or dotted.module:function (a Windows drive letter is not a module).
PATTERN = re.compile(r"^(?P<where>[^:]+\.py|[A-Za-z_][\w.]*):(?P<function>[A-Za-z_]\w*)$")


def user_spec(name: str) -> ModelSpec | None:
    """The ModelSpec of `where:function`, or None for a name of another kind."""
    match = PATTERN.match(name.strip())
    if match is None:
        return None
    where, function = match["where"], match["function"]
    module = load(where)
    builder = getattr(module, function, None)
    if not callable(builder):
        names = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")]
        hint = did_you_mean(function, names) or f"it defines: {', '.join(sorted(names)) or 'none'}"
        raise BenchError(f"{where} has no function {function}; {hint}")
    whole = "num_classes" in _parameters(builder, where, function)
    has_preprocess = callable(getattr(module, "preprocess_input", None))
    return ModelSpec(
        name=function,
        family="user",
        build=UserModel(where, function),
        preprocessing="built-in" if whole else ("its module's" if has_preprocess else "none"),
        module=None if whole or not has_preprocess else where,
        default_size=224,
        pretrained=not whole,
        source=f"file:{where}:{function}@{fingerprint(module)}",
    )


class UserModel:
    """The build function of a user's model, by where it is and its name: picklable, so a
    run's process loads the file itself."""

    def __init__(self, where: str, function: str):
        self.where, self.function = where, function

    def __call__(self, *args, **kwargs):
        builder = getattr(load(self.where), self.function)
        if "num_classes" in _parameters(builder, self.where, self.function):
            input_shape, num_classes = args
            return _checked(builder(input_shape, num_classes), self)
        return self.backbone(builder, kwargs["weights"], kwargs["input_shape"])

    def backbone(self, builder, weights: str | None, input_shape: tuple):
        if "weights" in _parameters(builder, self.where, self.function):
            return _checked(builder(input_shape, weights=weights), self)
        if weights is None:
            raise BenchError(
                f"{self}: cannot build it from random weights (--weights none): give the "
                "function a `weights` parameter"
            )
        model = _checked(builder(input_shape), self)
        if weights != "imagenet":  # a weights file (bench keeps them per phase)
            model.load_weights(weights)
        return model

    def __str__(self) -> str:
        return f"{self.where}:{self.function}"


def _checked(model, where: UserModel):
    import keras

    if not isinstance(model, keras.Model):
        raise BenchError(f"{where} returned {type(model).__name__}, not a keras.Model")
    return model


def _parameters(builder, where: str, function: str) -> set[str]:
    try:
        return set(inspect.signature(builder).parameters)
    except (TypeError, ValueError):
        raise BenchError(f"{where}:{function} has no signature bench can read") from None


def load(where: str) -> ModuleType:
    """The module of a file path or a dotted module name; its errors as one line."""
    if not where.endswith(".py"):
        try:
            return importlib.import_module(where)
        except ImportError as err:
            raise BenchError(f"cannot import {where}: {err}") from None
    path = Path(where).expanduser().resolve()
    if not path.is_file():
        raise BenchError(f"model file not found: {where}")
    name = f"bench_user_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    if name in sys.modules:  # loaded once per process: a run's calls share one module
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        raise BenchError(f"{where}, line {err.lineno}: {err.msg}") from None
    except Exception as err:  # noqa: BLE001 - the user's code: say what it raised, and where
        raise BenchError(f"{where} raised {type(err).__name__} on import: {err}") from None
    sys.modules[name] = module  # the same module object for this process's later calls
    return module


def fingerprint(module: ModuleType) -> str:
    """A hash of the module's source file: an edit makes new runs, never a stale resume."""
    source = getattr(module, "__file__", None)
    data = Path(source).read_bytes() if source else module.__name__.encode()
    return hashlib.sha256(data).hexdigest()[:12]


def preprocess_input(where: str):
    """The `preprocess_input` of a user's module (bench.models.layers.Preprocess)."""
    return load(where).preprocess_input
