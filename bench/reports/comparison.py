"""Which runs of a results folder may be compared, and loading one such comparison.

Runs are comparable when their protocol settings agree except for the weights, so a backbone's
from-scratch run (`--weights none`) sits beside its frozen and fine-tuned runs, and a baseline
beside the backbones of its suite. Reads only the results store; never trains.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from bench.common.hashing import stable_hash
from bench.errors import BenchError
from bench.results import ResultsStore


@dataclass
class Comparison:
    """The runs of one results folder that may be compared, and their other tables."""

    runs: pd.DataFrame  # runs.csv rows, ok and failed, of one training size per class
    epochs: pd.DataFrame
    classes: pd.DataFrame
    confusion: pd.DataFrame
    calibration: pd.DataFrame = field(default_factory=pd.DataFrame)
    corruptions: pd.DataFrame = field(default_factory=pd.DataFrame)
    # The ok rows of every training size (`train_per_class`): the data-efficiency curve's.
    every_size: pd.DataFrame = field(default_factory=pd.DataFrame)
    others: list[str] = field(default_factory=list)  # other comparisons in the folder

    @property
    def ok(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] == "ok"]

    @property
    def failed(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] != "ok"]

    def describe(self) -> str:
        return describe_runs(self.runs)


def describe_runs(runs: pd.DataFrame) -> str:
    """'digits, 32 px, weights none, jax, 3 seeds, settings 1a2b3c4d5e6f'"""
    weights = sorted(set(runs["weights"]) - {"none"}) or ["none"]
    hashes = sorted(set(runs["settings_hash"]))
    sizes = sorted({int(s) for s in runs["image_size"].dropna()})
    size = f"{sizes[0]} px" if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]} px"
    seeds = runs["seed"].nunique()
    backend = ", ".join(sorted(set(runs["backend"].dropna().astype(str)))) or "?"
    per_class = sorted({int(k) for k in runs.get("train_per_class", pd.Series()).dropna()})
    images = f", {per_class[0]} training images per class" if len(per_class) == 1 else ""
    return (
        f"{runs['dataset'].iloc[0]}, {size}, weights {', '.join(weights)}, {backend}, "
        f"{seeds} seed{'s' * (seeds != 1)}{images}, settings {' + '.join(hashes)}"
    )


def load_comparison(
    store: ResultsStore,
    dataset: str | None = None,
    models: list[str] | None = None,
    settings: str | None = None,
    train_per_class: int | str | None = None,
) -> Comparison:
    """The comparison to report: the one holding `settings` (a settings-hash prefix), else the
    most recently run one, after the `dataset` and `models` filters; of its training sizes
    per class, `train_per_class` (default: all images if it has them, else its largest)."""
    runs = store.read("runs")
    if runs.empty:
        raise BenchError(f"no runs in {store.path('runs')} (bench run writes them)")
    runs["weights"] = runs["weights"].fillna("none").astype(str)
    runs = _filter(runs, dataset, models)
    groups = _comparisons(runs, store.read_environment().get("protocols", {}))
    if settings:
        chosen = [
            g for g in groups if g["settings_hash"].astype(str).str.startswith(settings).any()
        ]
        if not chosen:
            known = ", ".join(sorted(set(runs["settings_hash"])))
            raise BenchError(f"no runs with settings {settings!r} here; these exist: {known}")
    else:
        chosen = groups
    latest = max(chosen, key=lambda g: g["timestamp"].max())
    runs = of_size(latest, train_per_class)
    ids = set(runs["run_id"])
    tables = {t: _rows_of(store.read(t), ids) for t in ("epochs", "classes", "confusion")}
    tables |= {t: _rows_of(store.read(t), ids) for t in ("calibration", "corruptions")}
    return Comparison(
        runs=runs.reset_index(drop=True),
        **tables,
        every_size=latest[latest["status"] == "ok"].reset_index(drop=True),
        others=[describe_runs(g) for g in groups if g is not latest],
    )


def of_size(runs: pd.DataFrame, train_per_class: int | str | None) -> pd.DataFrame:
    """The runs of one training size per class: `train_per_class` (a count, or `all`), by
    default all images where there are runs with all of them, else the largest size."""
    sizes = runs["train_per_class"] if "train_per_class" in runs else pd.Series(index=runs.index)
    sizes = sizes.map(lambda k: "all" if pd.isna(k) else int(k))
    present = sorted(set(sizes), key=lambda k: (k == "all", k if k != "all" else 0))
    if train_per_class is None:
        wanted = present[-1]
    else:
        wanted = train_per_class if train_per_class == "all" else int(train_per_class)
        if wanted not in present:
            have = ", ".join(map(str, present))
            raise BenchError(
                f"no runs with {train_per_class} training images per class; these exist: {have}"
            )
    return runs[sizes == wanted]


def _filter(runs: pd.DataFrame, dataset: str | None, models: list[str] | None) -> pd.DataFrame:
    if dataset:
        if dataset not in set(runs["dataset"]):
            raise BenchError(
                f"no runs on data set {dataset!r} here; these exist: "
                + ", ".join(sorted(set(runs["dataset"])))
            )
        runs = runs[runs["dataset"] == dataset]
    if models:
        from bench.models import registry  # Keras loads only when names need resolving

        names = {spec.name for spec in registry.select(models)}
        runs = runs[runs["model"].isin(names)]
        if runs.empty:
            raise BenchError(f"no runs of {', '.join(sorted(names))} here")
    return runs


def _comparisons(runs: pd.DataFrame, protocols: dict) -> list[pd.DataFrame]:
    """Split runs into comparable groups: equal protocol but for the weights, one backend and
    the same images; one group per pretrained weights (imagenet, or a file), each with the
    from-scratch runs beside it."""
    key = runs["settings_hash"].map(lambda h: _without_weights(h, protocols))
    key += "/" + runs["backend"].fillna("").astype(str)  # backends are compared, not pooled
    key += "/" + runs["data_fingerprint"].fillna("").astype(str)  # a changed data set too
    groups = []
    for _, rows in runs.groupby(key, sort=False):
        pretrained = sorted(set(rows["weights"]) - {"none"})
        for weights in pretrained or ["none"]:
            groups.append(rows[rows["weights"].isin({weights, "none"})])
    return groups


def _without_weights(settings_hash: str, protocols: dict) -> str:
    protocol = protocols.get(settings_hash)
    if protocol is None:  # env.json lost: only identical settings are comparable
        return settings_hash
    return stable_hash({k: v for k, v in protocol.items() if k != "weights"})


def _rows_of(table: pd.DataFrame, run_ids: set[str]) -> pd.DataFrame:
    return table[table["run_id"].isin(run_ids)].reset_index(drop=True)
