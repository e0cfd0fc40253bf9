"""`--executor in-process` (`--in-process`): every run in this process, on the backend Keras
has loaded here. No isolation: a crash or an out-of-memory kill takes the suite with it, and
GPU memory grows across runs. For debugging, and for tests that need no new interpreter."""

from __future__ import annotations

from bench.errors import BenchError
from bench.execution.executors.base import OneAtATime
from bench.execution.one_run import Outcome, Run, execute
from bench.settings import Settings


class InProcess(OneAtATime):
    @classmethod
    def check(cls, settings: Settings) -> None:
        import keras

        loaded = keras.backend.backend()
        if settings.backend and settings.backend != loaded:
            raise BenchError(
                f"in one process the backend is the one Keras has loaded ({loaded}): drop "
                f"--in-process to run on {settings.backend}"
            )

    def attempt_once(self, run: Run, batch_size: int, another_follows: bool) -> Outcome:
        return execute(run, self.dataset, self.settings, self.reporter, batch_size)
