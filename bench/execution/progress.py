"""What a running suite shows: live bars on a terminal, plain lines in logs and CI."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from bench.execution.estimates import Estimator, Left, TimeLeft


def _metrics(record: dict) -> str:
    parts = [f"loss {record['loss']:.4f}", f"acc {record['accuracy']:.4f}"]
    if record.get("val_accuracy") is not None:
        parts.append(f"val_acc {record['val_accuracy']:.4f}")
    parts.append(f"{record['epoch_time_s']:.1f}s")
    return "  ".join(parts)


def duration(seconds: float) -> str:
    """12m05s, or 1h02m from an hour on."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def left_text(left: Left | None) -> str:
    """The one time left shown: "about" only where every run not finished has an estimate;
    else at least what those with one take, and how many have none."""
    if left is None:
        return ""
    rough = ", scaled by GMACs: rough" if left.rough else ""
    if not left.unknown:
        return f"about {duration(left.seconds)} left{rough}"
    if left.seconds:
        return f"at least {duration(left.seconds)} left, {left.unknown} run(s) unknown{rough}"
    return "time left unknown"


class PlainReporter:
    """One line per event, for output that is not a terminal."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self.label, self.phase, self.epochs = "", "", 0
        self.time_left = TimeLeft()

    def say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def start_suite(self, total: int, estimator: Estimator | None = None) -> None:
        """`estimator`: of the runs to start, in the order they start (those recorded are
        skipped)."""
        self.time_left = TimeLeft(estimator)
        self.say(f"bench: {total} run(s)")

    def start_run(self, index: int, total: int, label: str) -> None:
        self.time_left.start_run(index)
        self.label = f"[{index}/{total}] {label}"
        left = self.left()
        self.say(f"{self.label} ({left})" if left else self.label)

    def left(self) -> str:
        return left_text(self.time_left.left())

    def start_phase(self, phase: str, epochs: int) -> None:
        self.phase, self.epochs = phase, epochs
        self.time_left.start_phase(phase, epochs)

    def start_epoch(self, epoch: int, steps: int | None) -> None:
        pass

    def batch_end(self, step: int) -> None:
        pass

    def epoch_end(self, record: dict) -> None:
        self.time_left.epoch_end(record)
        self.say(f"  {self.phase} epoch {record['epoch']}/{self.epochs}  {_metrics(record)}")

    def end_run(self, summary: str) -> None:
        self.time_left.end_run()
        self.say(f"  {summary}")

    def close(self) -> None:
        pass


class _Metrics(ProgressColumn):
    """A bar's metrics; the suite's is its time left, worked out at each refresh so that it
    counts down between epochs. The one estimate shown: rich's own time remaining, from the
    bar's pace alone, would contradict it."""

    def __init__(self, reporter: RichReporter):
        super().__init__()
        self.reporter = reporter

    def render(self, task: Task) -> Text:
        if task.id == self.reporter.suite:
            return Text(self.reporter.left())
        return Text(task.fields.get("metrics", ""))


class RichReporter(PlainReporter):
    """Live bars for the suite (runs, and the time left), the current phase (epochs) and the
    current epoch (batches); finished runs scroll above them."""

    def __init__(self, console: Console | None = None):
        super().__init__()
        self.console = console or Console()
        self.bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            _Metrics(self),
            console=self.console,
            transient=True,
        )
        self.suite = self.bars.add_task("suite", total=0, metrics="")
        self.phase_task = self.epoch_task = None
        self.bars.start()

    def say(self, text: str) -> None:
        self.bars.console.print(text, highlight=False, markup=False)

    def start_suite(self, total: int, estimator: Estimator | None = None) -> None:
        self.time_left = TimeLeft(estimator)
        self.bars.update(self.suite, total=total, description="runs")

    def start_run(self, index: int, total: int, label: str) -> None:
        self.time_left.start_run(index)
        self.label = label
        self.bars.update(self.suite, completed=index - 1)

    def start_phase(self, phase: str, epochs: int) -> None:
        self.time_left.start_phase(phase, epochs)
        for task in (self.phase_task, self.epoch_task):
            if task is not None:
                self.bars.remove_task(task)
        self.phase_task = self.bars.add_task(f"{self.label} {phase}", total=epochs, metrics="")
        self.epoch_task = self.bars.add_task("  batches", total=None, metrics="")

    def start_epoch(self, epoch: int, steps: int | None) -> None:
        if self.epoch_task is not None:
            self.bars.reset(self.epoch_task, total=steps, description=f"  epoch {epoch}")

    def batch_end(self, step: int) -> None:
        if self.epoch_task is not None:
            self.bars.update(self.epoch_task, completed=step)

    def epoch_end(self, record: dict) -> None:
        self.time_left.epoch_end(record)
        self.bars.update(self.phase_task, completed=record["epoch"], metrics=_metrics(record))

    def end_run(self, summary: str) -> None:
        self.time_left.end_run()
        self.say(f"{self.label}: {summary}")

    def close(self) -> None:
        self.bars.stop()


def make_reporter(quiet: bool = False):
    if quiet:
        return SilentReporter()
    return RichReporter() if sys.stdout.isatty() else PlainReporter()


class SilentReporter(PlainReporter):
    def say(self, text: str) -> None:
        pass


def print_table(
    header: list[str], rows: list[list], numbers_from: int | None = None, names: int = 0
) -> None:
    """A rich table on a terminal; plain GitHub Markdown when piped, so nothing wraps.
    `numbers_from`: cells are preformatted text and columns from this one on align right.
    `names`: the column of model names, which a narrow terminal must never cut."""
    if sys.stdout.isatty():
        from rich.table import Table

        table = Table()
        for index, name in enumerate(header):
            right = numbers_from is not None and index >= numbers_from
            whole = (
                max((len(str(row[index])) for row in rows), default=0) if index == names else None
            )
            table.add_column(name, justify="right" if right else "left", min_width=whole)
        for row in rows:
            table.add_row(*(str(cell) for cell in row))
        Console().print(table)
    else:
        from tabulate import tabulate

        if numbers_from is None:
            print(tabulate(rows, header, tablefmt="github"))
        else:
            align = ["left"] * numbers_from + ["right"] * (len(header) - numbers_from)
            print(tabulate(rows, header, "github", disable_numparse=True, colalign=align))
