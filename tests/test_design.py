"""The code's shape: imports run one way, modules stay small, and each fact is said once (the
flags, the README's tables and the data sets' list are derived from their declarations)."""

from __future__ import annotations

import ast
import dataclasses
import re

import numpy as np
import pytest

import bench
from bench import cli, data, reference
from bench.data import DataSource, as_dataset
from bench.errors import BenchError
from bench.results import ResultsStore, schema
from bench.settings import FIELDS, Settings
from tests.helpers import ROOT, bench_main

PACKAGE = ROOT / "bench"
MODULES = {
    ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): path
    for path in PACKAGE.rglob("*.py")
}


def imported_modules(name: str) -> set[str]:
    """The bench modules `name` imports anywhere in its file, inside functions too."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:  # `from bench import registry` imports bench.models.registry
                module = f"{node.module}.{alias.name}"
                found.add(module if module in MODULES else node.module)
    return {m for m in found if m in MODULES and m != name}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A path a -> ... -> a in the graph, or None (depth-first search)."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt, [*path, nxt])):
                return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def test_the_package_has_no_import_cycle():
    graph = {name: imported_modules(name) for name in MODULES}
    cycle = find_cycle(graph)
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}"
    # Suite -> worker -> one run, never back.
    assert "bench.execution.one_run" in graph["bench.execution.worker"]


def test_a_cycle_would_be_found():
    graph = {name: imported_modules(name) for name in MODULES}
    one_run = "bench.execution.one_run"
    graph[one_run] = graph[one_run] | {"bench.execution.suite"}  # one run imports back
    assert find_cycle(graph) is not None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


# The layers of bench/, in the order data flows through them: each imports only from the
# layers before it. bench.errors may be imported by all; the top-level modules (api, cli,
# commands, reference) by none, and they may import every layer.
LAYERS = [
    "common",
    "settings",
    "data",
    "models",
    "measure",
    "training",
    "results",
    "execution",
    "reports",
]
IMPORTABLE_BY_ALL = {"bench.errors"}


def layer_of(module: str) -> int | None:
    """The module's place in LAYERS; None for a top-level module."""
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def layering_violations(graph: dict[str, set[str]]) -> list[str]:
    wrong = []
    for name, imported in sorted(graph.items()):
        own = layer_of(name)
        if own is None:
            continue
        for other in sorted(imported - IMPORTABLE_BY_ALL):
            if layer_of(other) is None or layer_of(other) > own:
                wrong.append(f"{name} imports {other}")
    return wrong


def test_each_layer_imports_only_from_the_layers_before_it():
    graph = {name: imported_modules(name) for name in MODULES}
    assert set(LAYERS) == {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert layering_violations(graph) == []


def test_a_layering_violation_would_be_found():
    assert layering_violations({"bench.measure.cost": {"bench.reports.tables"}}) == [
        "bench.measure.cost imports bench.reports.tables"
    ]
    assert layering_violations({"bench.data.folder": {"bench.api"}}) != []
    assert (
        layering_violations({"bench.reports.tables": {"bench.measure.cost", "bench.errors"}}) == []
    )


@pytest.mark.parametrize("package", [n for n, p in MODULES.items() if p.name == "__init__.py"])
def test_each_package_says_what_it_holds_what_it_may_import_and_how_to_add_to_it(package):
    text = ast.get_docstring(ast.parse(MODULES[package].read_text())) or ""
    if package == "bench":
        return  # the package itself: bench.run, bench.dry_run, BenchError
    assert "May import" in text, f"{package}'s docstring does not say what it may import"
    assert re.search(r"\bAdd(ing)? ", text), f"{package}'s docstring does not say how to add to it"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_over_300_lines(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= 300, f"{MODULES[name]} has {lines} lines: split it along a real seam"


def test_every_flag_reaches_its_setting():
    """Each flag parses into the value its setting takes."""
    given = {
        "lr_finetune": ("3e-5", 3e-5),
        "dropout": ("0.5", 0.5),
        "seeds": ("1,2", [1, 2]),
        "unfreeze": ("20", 20),
        "jit": (None, True),
        "min_batch_size": ("4", 4),
        "split_seed": ("7", 7),
        "executor": ("local", "local"),
        "frozen_mode": ("features", "features"),
    }
    argv = ["run"]
    for name, (text, _) in given.items():
        argv += [f"--{name.replace('_', '-')}"] + ([text] if text else [])
    args = cli.build_parser().parse_args(argv)
    for name, (_, value) in given.items():
        assert getattr(args, name) == value
    assert all(getattr(args, name) is None for name in FIELDS if name not in given)


def test_a_row_must_have_exactly_the_schemas_columns(tmp_path):
    with pytest.raises(ValueError, match="not columns of runs.csv: bogus"):
        schema.row("runs", run_id="a", bogus=1)
    store = ResultsStore(tmp_path)
    partial = {"run_id": "a", "phase": "scratch", "status": "ok"}
    with pytest.raises(ValueError, match="missing"):
        store.write_run("a", {"runs": [partial]})
    assert not store.path("runs").exists(), "a refused row writes nothing"
    complete = schema.row("runs", **partial)
    store.write_run("a", {"runs": [complete]})
    assert list(store.read("runs").columns) == schema.names("runs")


def tiny_loader(*, argument: str | None, settings: Settings):
    """A data set as a new loader would make it: random images, three classes."""
    rng = np.random.default_rng(settings.split_seed)
    x = rng.integers(0, 256, size=(90, 32, 32, 3), dtype=np.uint8)
    y = np.repeat(np.arange(3), 30)
    return as_dataset("tiny", x, y, x[:30], y[:30], ["a", "b", "c"], fingerprint="tiny-1")


def test_a_new_data_set_is_one_function_and_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(data.DATASETS, "tiny", DataSource(tiny_loader, "three random classes"))
    _, out, _ = bench_main(capsys, "run", "--help")
    assert "tiny" in " ".join(out.split())
    assert "`tiny`: three random classes" in reference.datasets_list()
    with pytest.raises(BenchError, match="did you mean tiny"):
        data.load_dataset("tinny")
    frame = bench.run(
        "simple_cnn",
        dataset="tiny",
        weights="none",
        epochs_scratch=1,
        out=str(tmp_path),
        executor="in-process",
        quiet=True,
    )
    row = frame.iloc[0]
    assert row["status"] == "ok" and row["dataset"] == "tiny" and row["num_classes"] == 3
    assert row["data_fingerprint"] == "tiny-1"


def test_settings_are_plain_dataclass_fields():
    """Declarations do not change what a Settings is: a dataclass with the built-in defaults."""
    settings = Settings()
    assert dataclasses.asdict(settings)["batch_size"] == 64 and settings.seeds == [0]
    assert Settings().seeds is not settings.seeds, "list defaults are not shared"
