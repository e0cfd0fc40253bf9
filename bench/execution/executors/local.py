"""`--executor local`, the default: each run in a process of its own (`bench.execution.worker`),
one at a time. The data set is shared with every process as memory-mapped files, and the
next run's process starts (imports Keras) while the current run trains."""

from __future__ import annotations

from contextlib import ExitStack

from bench.data.shared_memory import SharedDataset
from bench.execution.executors.base import OneAtATime
from bench.execution.one_run import Outcome, Run
from bench.execution.worker import Processes, run_in_process


class LocalProcesses(OneAtATime):
    def __enter__(self) -> LocalProcesses:
        with ExitStack() as stack:  # a failed start undoes what it had started
            self.shared = stack.enter_context(SharedDataset(self.dataset))
            self.processes = stack.enter_context(Processes(self.settings.backend))
            self.stack = stack.pop_all()
        return self

    def __exit__(self, *exc) -> None:
        self.stack.__exit__(*exc)

    def attempt_once(self, run: Run, batch_size: int, another_follows: bool) -> Outcome:
        return run_in_process(
            run,
            self.shared,
            self.settings,
            batch_size,
            self.reporter,
            self.processes,
            another_follows,
        )
