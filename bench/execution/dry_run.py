"""`bench run --dry-run`: the suite a command would run, checked as `bench run` checks it,
with what is already recorded and an estimate of the time left; nothing is written."""

from __future__ import annotations

import pandas as pd

from bench.data import load_dataset
from bench.data.dataset import Dataset
from bench.execution.estimates import Estimator
from bench.execution.one_run import Run
from bench.execution.progress import duration
from bench.execution.suite import chosen_models, dataset_passes, is_recorded, plan
from bench.models.classifier import input_size
from bench.results import ResultsStore
from bench.settings import Settings

HEADER = ["model", "seed", "per class", "phases", "size", "epochs", "run id", "action"]
HEADER += ["estimate"]
SKIP = "skip: recorded"


def plan_datasets(settings: Settings, force: bool = False) -> tuple[pd.DataFrame, str]:
    """The plan of every data set named, one after another (each loaded only for its own
    plan), and its description: each data set's, then the total when there are several."""
    frames, said = [], []
    for one in dataset_passes(settings):
        frame, dataset = plan_frame(one, force)
        frames.append(frame)
        said.append(describe(frame, dataset, one))
    if len(frames) == 1:
        return frames[0], said[0]
    frame = pd.concat(frames, ignore_index=True)
    starting = (frame["action"] != SKIP).sum()
    said.append(f"{starting} of {len(frame)} runs would start, over {len(frames)} data sets")
    return frame, "\n".join(said)


def plan_frame(settings: Settings, force: bool = False) -> tuple[pd.DataFrame, Dataset]:
    """One row per planned run: dataset (its name in runs.csv), model, seed, train_per_class
    (a count, or all), phases, image_size (what it will run at), epochs (at most, per phase),
    run_id, action (run, rerun, skip) and estimate_s, the seconds it may take as
    `bench.execution.estimates` estimates them from the results folder (empty where it
    cannot)."""
    dataset = load_dataset(settings.dataset, settings)
    runs = plan(settings, chosen_models(settings), dataset)
    store = ResultsStore(settings.out, create=False)
    recorded = store.recorded_phases()
    estimator = Estimator.for_runs(runs, settings, store.read("runs"))
    rows = []
    for index, run in enumerate(runs):
        action = _action(run, recorded, force)
        rows.append(
            {
                "dataset": dataset.name,
                "model": run.spec.name,
                "seed": run.seed,
                "train_per_class": "all" if run.per_class is None else run.per_class,
                "phases": "+".join(run.phases),
                "image_size": input_size(run.spec, settings.image_size),
                "epochs": "+".join(str(settings.epochs_of(p)) for p in run.phases),
                "run_id": run.run_id,
                "action": action,
                "estimate_s": None if action == SKIP else estimator.run_seconds(index),
            }
        )
    return pd.DataFrame(rows), dataset


def table(frame: pd.DataFrame) -> tuple[list[str], list[list]]:
    """The plan as the terminal table, estimates as durations; the data set's column only
    when there are several."""
    estimate = frame["estimate_s"].map(lambda s: "" if pd.isna(s) else duration(s))
    frame = frame.assign(estimate_s=estimate)
    if frame["dataset"].nunique() > 1:
        return ["data set", *HEADER], frame.values.tolist()
    return HEADER, frame.drop(columns="dataset").values.tolist()


def _action(run: Run, recorded: dict[str, set[str]], force: bool) -> str:
    if not is_recorded(run, recorded):
        return "run"
    return "rerun (--force)" if force else SKIP


def describe(frame: pd.DataFrame, dataset: Dataset, settings: Settings) -> str:
    """The lines after the table: the data set, what starts, and the time it may take."""
    starting = frame[frame["action"] != SKIP]
    known = starting["estimate_s"].dropna()
    lines = [
        _sizes(dataset, settings),
        f"{len(starting)} of {len(frame)} runs would start; {len(frame) - len(starting)} "
        f"already recorded in {settings.out} would be skipped",
    ]
    if len(known):
        lines.append(
            f"estimated time: {duration(known.sum())} for {len(known)} of them, from earlier "
            "runs with the same settings and backend (the same model's, else another's "
            "scaled by GMACs)"
        )
    if len(known) < len(starting):
        lines.append(f"no earlier runs to estimate {len(starting) - len(known)} of them from")
    return "\n".join(lines)


def _sizes(dataset: Dataset, settings: Settings) -> str:
    train, test = len(dataset.x_train), len(dataset.x_test)
    if settings.limit and settings.limit < train:
        train = f"{train} training images ({settings.limit} used: limit)"
    else:
        train = f"{train} training images"
    if settings.test_limit and settings.test_limit < test:
        test = f"{settings.test_limit} of {test}"
    shape = "x".join(map(str, dataset.x_train.shape[1:3]))
    return (
        f"data set {dataset.name}: {train}, {test} test images, {shape} px, "
        f"{dataset.num_classes} classes"
    )
