"""How long a suite's runs will take: one estimator, for the dry run and the live progress.

Each phase of a run is estimated by the first of these rules that applies:

(a) the same model's phase measured under the same settings and backend (ok runs in the
    results folder, and the phases this suite has finished): their mean time;
(b) else the same phase of the model nearest in GMACs measured under these settings and
    backend, scaled by GMACs x epochs. A model's GMACs come from runs.csv (under any
    settings, scaled by the image size squared): counting them would mean building it.
    Rough (time per GMAC varies between architectures), and said to be;
(c) else none: the phase, and its run, are unknown.

The time left (`TimeLeft`) is the sum over the runs not finished, the current phase
re-estimated from its own epochs once it has some; a run still to come with no estimate is
counted as unknown, never as zero.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class Planned:
    """A run to come, as the estimator sees it."""

    model: str
    phases: tuple[tuple[str, int], ...]  # (phase, epochs planned), in order
    gmacs: float | None = None  # at the size it will run at; None where never recorded


@dataclass(frozen=True)
class Measured:
    """One phase that ran under the suite's settings and backend."""

    model: str
    phase: str
    seconds: float
    epochs: int
    gmacs: float | None = None


@dataclass
class Estimator:
    planned: list[Planned]
    measured: list[Measured] = field(default_factory=list)

    @classmethod
    def for_runs(cls, runs: Sequence, settings, recorded: pd.DataFrame) -> Estimator:
        """The estimator of `runs` (bench.execution.one_run.Run) under `settings`, from the
        rows of runs.csv `recorded`."""
        # Keras here, not at the top: the progress bars import this module, and the reports
        # import them, without Keras.
        import keras

        from bench.models.classifier import input_size

        backend = settings.backend or keras.backend.backend()
        planned = [
            Planned(
                run.spec.name,
                # The probe's pass over the images for its features: about one epoch's cost.
                tuple((phase, settings.epochs_of(phase) or 1) for phase in run.phases),
                recorded_gmacs(recorded, run.spec.name, input_size(run.spec, settings.image_size)),
            )
            for run in runs
        ]
        return cls(planned, earlier_phases(recorded, settings.settings_hash(), backend))

    def run_seconds(self, index: int) -> float | None:
        planned = self.planned[index]
        parts = [self.phase_seconds(planned, phase, epochs) for phase, epochs in planned.phases]
        return None if None in parts else sum(parts)

    def phase_seconds(self, planned: Planned, phase: str, epochs: int) -> float | None:
        own = self._own(planned.model, phase)
        if own:
            return sum(own) / len(own)
        return self._scaled(planned.gmacs, phase, epochs)

    def by_gmacs(self, planned: Planned, phases: Sequence[tuple[str, int]]) -> bool:
        """Whether any of these phases of the run has no time of its own (rule b, or none)."""
        return any(not self._own(planned.model, phase) for phase, _ in phases)

    def _own(self, model: str, phase: str) -> list[float]:
        return [m.seconds for m in self.measured if (m.model, m.phase) == (model, phase)]

    def _scaled(self, gmacs: float | None, phase: str, epochs: int) -> float | None:
        """Rule (b). The nearest model in GMACs, not all of them pooled: time per GMAC is far
        from constant (a tiny model's steps are mostly overhead)."""
        others = [m for m in self.measured if m.phase == phase and m.gmacs and m.epochs]
        if not gmacs or not others:
            return None

        def distance(m: Measured) -> float:
            return abs(math.log(m.gmacs / gmacs))

        nearest = min(map(distance, others))
        alike = [m for m in others if distance(m) == nearest]
        rate = sum(m.seconds for m in alike) / sum(m.epochs * m.gmacs for m in alike)
        return rate * gmacs * epochs

    def measure(self, index: int, phase: str, seconds: float, epochs: int) -> None:
        """A phase of run `index` finished in this suite: it estimates the runs to come."""
        planned = self.planned[index]
        self.measured.append(Measured(planned.model, phase, seconds, epochs, planned.gmacs))


def earlier_phases(recorded: pd.DataFrame, settings_hash: str, backend: str) -> list[Measured]:
    """The ok phases recorded under these settings and backend. train_time_s is the whole
    phase, the feature extraction of `frozen_mode=features` included."""
    same = recorded[
        (recorded["status"] == "ok")
        & (recorded["settings_hash"] == settings_hash)
        & (recorded["backend"] == backend)
        & recorded["train_time_s"].notna()
    ]
    return [
        Measured(
            row.model,
            row.phase,
            float(row.train_time_s),
            0 if pd.isna(row.epochs_run) else int(row.epochs_run),
            None if pd.isna(row.gmacs) else float(row.gmacs),
        )
        for row in same.itertuples()
    ]


def recorded_gmacs(recorded: pd.DataFrame, model: str, size: int) -> float | None:
    """The model's GMACs at `size` from any row of runs.csv, scaled by the size squared
    where it ran at another (convolutions cost in proportion to the pixels)."""
    rows = recorded[
        (recorded["model"] == model) & recorded["gmacs"].notna() & recorded["image_size"].notna()
    ]
    if rows.empty:
        return None
    same = rows[rows["image_size"] == size]
    row = (same if len(same) else rows).iloc[0]
    return float(row["gmacs"]) * (size / float(row["image_size"])) ** 2


@dataclass(frozen=True)
class Left:
    seconds: float  # of the runs not finished that have an estimate
    unknown: int = 0  # runs not finished that have none
    rough: bool = False  # some of `seconds` scaled by GMACs from another model (rule b)


class TimeLeft:
    """The time left of a running suite, told its events by the progress reporter."""

    def __init__(self, estimator: Estimator | None = None, clock: Callable = time.monotonic):
        self.estimator = estimator or Estimator([])
        self.clock = clock
        self.index: int | None = None  # the run going, or the last one that went
        self.running = False
        self.phase: str | None = None
        self.epochs = self.done = 0
        self.seconds = self.since = 0.0  # of its epochs; when the phase or its last epoch ended

    def start_run(self, index: int) -> None:
        """`index`: 1-based, in the order of the estimator's runs."""
        self.end_run()
        self.index, self.running = index - 1, True

    def start_phase(self, phase: str, epochs: int) -> None:
        self._stop_phase()
        self.phase, self.epochs, self.done, self.seconds = phase, epochs, 0, 0.0
        self.since = self.clock()

    def epoch_end(self, record: dict) -> None:
        self.done += 1
        self.seconds += record["epoch_time_s"] + (record.get("val_time_s") or 0.0)
        self.since = self.clock()

    def end_run(self) -> None:
        self._stop_phase()
        self.running = False

    def _stop_phase(self) -> None:
        if self.phase is not None and self.done and self._known_run():
            self.estimator.measure(self.index, self.phase, self.seconds, self.done)
        self.phase = None

    def _known_run(self) -> bool:
        return self.index is not None and self.index < len(self.estimator.planned)

    def left(self) -> Left | None:
        """None until a run has started (and under an executor that says no run's start)."""
        if not self._known_run():
            return None
        parts = [self._current()] if self.running else []
        for planned in self.estimator.planned[self.index + 1 :]:
            parts.append(self._phases(planned, planned.phases))
        known = [(seconds, rough) for seconds, rough in parts if seconds is not None]
        return Left(
            sum(seconds for seconds, _ in known),
            len(parts) - len(known),
            any(rough for _, rough in known),
        )

    def _current(self) -> tuple[float | None, bool]:
        """The current run's time left: what remains of its phase, and its later phases."""
        planned = self.estimator.planned[self.index]
        names = [phase for phase, _ in planned.phases]
        if self.phase not in names:  # none started yet
            return self._phases(planned, planned.phases)
        position = names.index(self.phase)
        now = self._in_phase(planned)
        later, rough = self._phases(planned, planned.phases[position + 1 :])
        if not self.done:  # the phase's own estimate, not yet its epochs
            rough = rough or self.estimator.by_gmacs(
                planned, planned.phases[position : position + 1]
            )
        return (None if None in (now, later) else now + later), rough

    def _phases(self, planned: Planned, phases: Sequence) -> tuple[float | None, bool]:
        """The estimate of these phases of a run, and whether it is rough."""
        parts = [self.estimator.phase_seconds(planned, phase, epochs) for phase, epochs in phases]
        if None in parts:
            return None, False
        return sum(parts), self.estimator.by_gmacs(planned, phases)

    def _in_phase(self, planned: Planned) -> float | None:
        """Its own mean epoch time once it has one, else the phase's estimate; less the time
        since, not below zero."""
        if self.done:
            left = max(self.epochs - self.done, 0) * self.seconds / self.done
        else:
            left = self.estimator.phase_seconds(planned, self.phase, self.epochs)
        return None if left is None else max(left - (self.clock() - self.since), 0.0)
