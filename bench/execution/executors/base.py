"""The one interface every executor implements, and what the one-at-a-time executors share:
the retry at half the batch size when a run runs out of memory."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from bench.data.dataset import Dataset
from bench.execution.one_run import Outcome, Run
from bench.settings import Settings

Record = Callable[[Run, dict], None]  # writes a finished run's tables: the suite's, never ours
# Called just before a run starts: False when it is not to start after all (another suite
# running into the same folder has claimed it, or has recorded it since the plan was made).
Claim = Callable[[Run], bool]


def always(run: Run) -> bool:
    return True


class Executor(ABC):
    """Runs a suite's pending runs. Used as a context manager: what it starts (processes, a
    cluster) it stops on the way out, also on Ctrl-C."""

    def __init__(self, settings: Settings, dataset: Dataset, reporter):
        self.settings, self.dataset, self.reporter = settings, dataset, reporter

    @classmethod  # noqa: B027 - optional: most executors accept every setting
    def check(cls, settings: Settings) -> None:
        """Raise BenchError if these settings cannot run on this executor; called before
        anything is loaded or written."""

    def environment(self) -> dict:
        """What env.json records of where the runs ran, beside the machine's provenance."""
        return {}

    @abstractmethod
    def run_all(self, runs: list[Run], record: Record, claim: Claim = always) -> None:
        """Run every run that `claim(run)` allows, asked just before it starts; `record(run,
        tables)` each as it finishes. On Ctrl-C, say what was in flight and raise
        KeyboardInterrupt."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *_) -> None:  # noqa: B027 - optional: nothing to stop
        pass


class OneAtATime(Executor):
    """Runs one run after another; out of memory, a run is tried again at half the batch
    size, down to settings.min_batch_size, and its rows record the batch size used."""

    @abstractmethod
    def attempt_once(self, run: Run, batch_size: int, another_follows: bool) -> Outcome:
        """One attempt at a run. `another_follows`: another run comes after this one."""

    def run_all(self, runs: list[Run], record: Record, claim: Claim = always) -> None:
        for index, run in enumerate(runs, 1):
            if not claim(run):
                continue
            self.reporter.start_run(index, len(runs), run.label)
            try:
                tables = self.attempt(run, another_follows=index < len(runs))
            except KeyboardInterrupt:
                self.reporter.say(f"interrupted: {run.label} was not recorded")
                raise
            record(run, tables)
            self.reporter.end_run(summarize(tables["runs"]))

    def attempt(self, run: Run, another_follows: bool) -> dict:
        batch = self.settings.batch_size
        while True:
            outcome = self.attempt_once(run, batch, another_follows)
            if not outcome.out_of_memory or batch // 2 < self.settings.min_batch_size:
                return outcome.tables
            half = batch // 2
            self.reporter.say(f"  out of memory at batch size {batch}: trying again at {half}")
            batch //= 2


def summarize(rows: list[dict]) -> str:
    """A finished run in one line: each phase's test accuracy, time and memory, or its error."""
    parts = []
    for row in rows:
        if row["status"] == "ok":
            figures = [f"{row['phase']} test accuracy {row['test_accuracy']:.4f}"]
            if row["time_per_epoch_s"]:
                figures.append(f"{row['time_per_epoch_s']:.2f} s/epoch")
            if row.get("data_wait_share") is not None:
                figures.append(f"data wait {100 * row['data_wait_share']:.0f}%")
            if row["peak_gpu_mem_mb"] is not None:
                figures.append(f"GPU peak {row['peak_gpu_mem_mb']:.0f} MiB")
            parts.append(", ".join(figures))
        else:
            parts.append(f"{row['phase']} FAILED ({row['error']})")
    return "; ".join(parts) or "no phase to run (all epochs are 0)"
