"""What a running suite shows: the time left from the epochs measured, a bar per epoch over its
batches (fed from a real phase), and the live bars of a terminal."""

from __future__ import annotations

import io
import math

import keras
from rich.console import Console

from bench.data import load_dataset
from bench.data.splits import make_splits
from bench.execution.progress import PlainReporter, RichReporter, TimeLeft
from bench.models import registry
from bench.models.classifier import build_classifier
from bench.settings import Settings
from bench.training.callbacks import ReportEpochs
from bench.training.phases import run_phase


def epoch(seconds: float, validation: float = 1.0) -> dict:
    return {
        "epoch": 1,
        "loss": 1.0,
        "accuracy": 0.5,
        "epoch_time_s": seconds,
        "val_time_s": validation,
    }


def test_time_left_is_the_epochs_still_planned_at_the_mean_epoch_time():
    left = TimeLeft(planned=10)
    assert left.left() == ""  # nothing measured yet
    left.start_phase(4)
    left.epoch_end(epoch(3.0))
    left.epoch_end(epoch(5.0))
    assert left.left() == f"about 0m{(10 - 2) * 5:02d}s left"  # mean 5 s (4 s + 1 s validation)
    left.start_phase(6)  # the first phase stopped early after 2 of 4: 2 epochs given back
    assert left.planned == 8 and left.left() == "about 0m30s left"
    for _ in range(6):
        left.epoch_end(epoch(4.0))
    left.stop_phase()
    assert left.left() == "about 0m00s left"


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


def test_the_terminal_shows_runs_with_time_left_and_the_epochs_batches():
    reporter = RichReporter(Console(file=io.StringIO(), force_terminal=True, width=120))
    reporter.start_suite(2, epochs=4)
    reporter.start_run(1, 2, "simple_cnn seed=0")
    reporter.start_phase("scratch", 2)
    reporter.start_epoch(1, 30)
    reporter.batch_end(12)
    tasks = {task.description: task for task in reporter.bars.tasks}
    assert tasks["  epoch 1"].total == 30 and tasks["  epoch 1"].completed == 12
    reporter.epoch_end(epoch(9.0))
    tasks = {task.description: task for task in reporter.bars.tasks}
    assert tasks["runs"].fields["metrics"] == "about 0m30s left"  # 3 epochs of 10 s
    assert tasks["simple_cnn seed=0 scratch"].completed == 1
    reporter.close()
