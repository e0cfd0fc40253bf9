"""What a running suite shows: one time left, from each run's own estimate (earlier runs of the
model, else GMACs, else unknown), a bar per epoch over its batches (fed from a real phase), and
the live bars of a terminal."""

from __future__ import annotations

import io
import math

import keras
import pandas as pd
from rich.console import Console
from rich.progress import TimeRemainingColumn

from bench.data import load_dataset
from bench.data.splits import make_splits
from bench.execution.estimates import Estimator, Measured, Planned, TimeLeft, recorded_gmacs
from bench.execution.progress import PlainReporter, RichReporter
from bench.execution.suite import chosen_models, plan
from bench.models import registry
from bench.models.classifier import build_classifier
from bench.results import ResultsStore
from bench.settings import Settings
from bench.training.callbacks import ReportEpochs
from bench.training.phases import run_phase
from tests.helpers import run_row, write_fixture


def epoch(seconds: float, validation: float = 1.0) -> dict:
    return {
        "epoch": 1,
        "loss": 1.0,
        "accuracy": 0.5,
        "epoch_time_s": seconds,
        "val_time_s": validation,
    }


class Recording(PlainReporter):
    def __init__(self):
        super().__init__(io.StringIO())
        self.calls = []

    def start_epoch(self, epoch: int, steps: int | None) -> None:
        self.calls.append(("start_epoch", epoch, steps))

    def batch_end(self, step: int) -> None:
        self.calls.append(("batch_end", step))


def test_a_phase_reports_each_epochs_batches(monkeypatch):
    monkeypatch.setattr(ReportEpochs, "interval", 0.0)  # every batch, not every half second
    splits = make_splits(load_dataset("digits"), 0.2, seed=0, limit=100)
    keras.utils.set_random_seed(0)
    classifier = build_classifier(
        registry.get("simple_cnn"), (32, 32, 3), 10, image_size=32, weights="none"
    )
    settings = Settings(models=["simple_cnn"], batch_size=32, epochs_scratch=2, patience=5)
    reporter = Recording()
    run_phase(classifier, "scratch", splits, settings, reporter)
    steps = math.ceil(len(splits.x_train) / 32)
    one_epoch = [("start_epoch", 1, steps)] + [("batch_end", s) for s in range(1, steps + 1)]
    assert reporter.calls[: steps + 1] == one_epoch
    assert reporter.calls[steps + 1] == ("start_epoch", 2, steps) and len(reporter.calls) == 2 * (
        steps + 1
    )
    assert "scratch epoch 2/2" in reporter.stream.getvalue()


# The estimates ------------------------------------------------------------------------------


def fast_then_slow(folder, slow_seconds: float | None = 100.0) -> Estimator:
    """A suite of simple_cnn (2 s earlier) then DenseNet121 (`slow_seconds` earlier, or never
    run), planned as `bench run` plans it, estimated from a results folder written as it
    writes one."""
    settings = Settings(
        models=["simple_cnn", "DenseNet121"], dataset="digits", weights="none", out=str(folder)
    )
    settings = settings.validate()
    runs = plan(settings, chosen_models(settings), load_dataset("digits"))
    same = {"settings_hash": settings.settings_hash(), "backend": keras.backend.backend()}
    rows = [run_row("simple_cnn", "scratch", 0, 0.7, train_time_s=2.0, epochs_run=30, **same)]
    if slow_seconds is not None:
        rows.append(run_row("DenseNet121", "scratch", 0, 0.8, train_time_s=slow_seconds, **same))
    write_fixture(folder, rows)
    return Estimator.for_runs(runs, settings, ResultsStore(folder).read("runs"))


def test_a_slow_model_after_a_fast_one_shows_its_own_estimate(tmp_path):
    """Issue 23: `about 0m06s left` before DenseNet121's 100 s, extrapolated from the fast
    model's epochs."""
    reporter = PlainReporter(io.StringIO())
    reporter.start_suite(2, fast_then_slow(tmp_path))
    reporter.start_run(1, 2, "simple_cnn seed=0")
    reporter.start_phase("scratch", 30)
    for _ in range(30):
        reporter.epoch_end(epoch(0.05, 0.01))  # fast: 0.06 s an epoch
    reporter.end_run("done")
    reporter.start_run(2, 2, "DenseNet121 seed=0")
    lines = reporter.stream.getvalue().splitlines()
    assert "[1/2] simple_cnn seed=0 (about 1m42s left)" in lines  # 2 s + 100 s
    assert "[2/2] DenseNet121 seed=0 (about 1m40s left)" in lines


def test_with_no_earlier_run_the_time_left_is_unknown_not_a_number(tmp_path):
    reporter = PlainReporter(io.StringIO())
    reporter.start_suite(2, fast_then_slow(tmp_path, slow_seconds=None))
    reporter.start_run(1, 2, "simple_cnn seed=0")
    assert "(at least 0m02s left, 1 run(s) unknown)" in reporter.stream.getvalue()
    reporter.end_run("done")
    reporter.start_run(2, 2, "DenseNet121 seed=0")  # no GMACs recorded for it: none to scale
    assert reporter.stream.getvalue().splitlines()[-1] == (
        "[2/2] DenseNet121 seed=0 (time left unknown)"
    )


def test_a_model_never_run_is_scaled_by_gmacs_from_the_nearest_measured():
    estimator = Estimator(
        [Planned("B", (("scratch", 4),), gmacs=3.0)],
        [Measured("tiny", "scratch", 50.0, 2, gmacs=0.01), Measured("A", "scratch", 10.0, 2, 1.0)],
    )
    assert estimator.run_seconds(0) == 60.0  # 5 s per GMAC-epoch (A's) x 3 GMACs x 4 epochs
    frozen = Estimator([Planned("B", (("frozen", 4),), gmacs=3.0)], estimator.measured)
    assert frozen.run_seconds(0) is None, "only the same phase scales"
    no_gmacs = Estimator([Planned("B", (("scratch", 4),))], estimator.measured)
    assert no_gmacs.run_seconds(0) is None


def test_once_a_run_of_the_suite_is_measured_the_others_are_scaled_by_gmacs_roughly():
    estimator = Estimator(
        [Planned("A", (("scratch", 2),), gmacs=1.0), Planned("B", (("scratch", 2),), gmacs=3.0)]
    )
    reporter = PlainReporter(io.StringIO())
    reporter.start_suite(2, estimator)
    reporter.start_run(1, 2, "A seed=0")
    reporter.start_phase("scratch", 2)
    reporter.epoch_end(epoch(4.0))
    reporter.epoch_end(epoch(4.0))
    reporter.end_run("done")
    reporter.start_run(2, 2, "B seed=0")
    assert reporter.stream.getvalue().splitlines()[1::4] == [
        "[1/2] A seed=0 (time left unknown)",
        "[2/2] B seed=0 (about 0m30s left, scaled by GMACs: rough)",  # 3 x A's 10 s
    ]


def test_gmacs_come_from_any_recorded_row_scaled_by_the_image_size_squared():
    rows = pd.DataFrame(
        [run_row("A", "scratch", 0, 0.5, gmacs=0.5, image_size=112, settings_hash="other")]
    )
    assert recorded_gmacs(rows, "A", 224) == 2.0
    assert recorded_gmacs(rows, "A", 112) == 0.5
    assert recorded_gmacs(rows, "B", 224) is None


def test_the_current_run_is_re_estimated_from_its_own_epochs():
    now = [0.0]
    estimator = Estimator(
        [Planned("A", (("frozen", 3), ("finetune", 2))), Planned("A", (("frozen", 3),))],
        [Measured("A", "frozen", 30.0, 3), Measured("A", "finetune", 50.0, 2)],
    )
    left = TimeLeft(estimator, clock=lambda: now[0])
    assert left.left() is None  # nothing started
    left.start_run(1)
    assert left.left().seconds == 30 + 50 + 30
    left.start_phase("frozen", 3)
    now[0] = 10.0
    assert left.left().seconds == 20 + 50 + 30  # its estimate less the time it has run
    left.epoch_end(epoch(5.0))  # 6 s with validation
    assert left.left().seconds == 2 * 6 + 50 + 30
    now[0] = 13.0
    assert left.left().seconds == 9 + 50 + 30
    left.start_phase("finetune", 2)  # frozen stopped early: its unrun epochs count no more
    assert left.left().seconds == 50 + 18  # the next run's frozen: the mean of 30 and 6
    left.end_run()
    assert left.left() == type(left.left())(18.0, 0)


def test_the_terminal_shows_one_time_left_beside_the_runs_and_the_epochs_batches(tmp_path):
    reporter = RichReporter(Console(file=io.StringIO(), force_terminal=True, width=150))
    assert not any(isinstance(c, TimeRemainingColumn) for c in reporter.bars.columns)
    reporter.start_suite(2, fast_then_slow(tmp_path))
    reporter.start_run(1, 2, "simple_cnn seed=0")
    reporter.start_phase("scratch", 2)
    reporter.start_epoch(1, 30)
    reporter.batch_end(12)
    tasks = {task.description: task for task in reporter.bars.tasks}
    assert tasks["  epoch 1"].total == 30 and tasks["  epoch 1"].completed == 12
    reporter.epoch_end(epoch(9.0))
    reporter.bars.refresh()
    shown = reporter.console.file.getvalue()
    assert "about 1m50s left" in shown  # 1 epoch of 10 s, then DenseNet121's 100 s
    assert "-:--:--" not in shown and "loss 1.0000" in shown
    tasks = {task.description: task for task in reporter.bars.tasks}
    assert tasks["simple_cnn seed=0 scratch"].completed == 1
    reporter.close()
