"""`--executor ray`: each run is one Ray task in a fresh worker process
(`max_calls=1`), as many at once as the cluster's GPUs (or CPUs) allow. The data set is
decoded once by this driver and shared through Ray's object store; the driver alone writes
results, as each task finishes, so the exactly-once guarantee of the local executor holds.

Ray is an optional extra (`.[ray]`), imported only here, and only when a suite asks for it.
"""

from __future__ import annotations

import logging
import os
import platform
import signal

from bench.data.dataset import Dataset
from bench.errors import BenchError, describe_error
from bench.execution.executors.base import Claim, Executor, Record, always, summarize
from bench.execution.one_run import Outcome, Run, crashed, execute
from bench.execution.progress import SilentReporter
from bench.settings import Settings
from bench.training.compile_cache import cache_environment

log = logging.getLogger("bench")
POLL_S = 0.5  # how often the driver looks at the tasks in flight and their progress


def _ray():
    try:
        import ray
    except ImportError:
        raise BenchError("--executor ray needs Ray (pip install -e '.[ray]')") from None
    return ray


def task_environment(backend: str, debug: bool) -> dict[str, str]:
    """What a run's Ray worker is started with: the backend, the compilation caches, quiet
    native logs, and JAX's memory taken as needed (its figures mean nothing otherwise)."""
    env = {**cache_environment(), "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    if backend:
        env["KERAS_BACKEND"] = backend
    if not debug:
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return env


def run_task(run: Run, dataset: Dataset, settings: Settings, batch_size: int, progress):
    """One attempt at a run, in a Ray worker: its Outcome, and where it ran."""
    where = {"node": platform.node(), "gpu_ids": os.environ.get("CUDA_VISIBLE_DEVICES")}
    progress.put((run.label, where))
    return execute(run, dataset, settings, SilentReporter(), batch_size), where


class RayCluster(Executor):
    """The runs of one suite on a Ray cluster (this machine's, or the one at ray_address)."""

    def __init__(self, settings: Settings, dataset: Dataset, reporter):
        super().__init__(settings, dataset, reporter)
        self.ray = _ray()
        self.debug = log.getEffectiveLevel() <= logging.DEBUG
        self.started_here = not self.ray.is_initialized()
        if self.started_here:
            self.ray.init(
                address=settings.ray_address,
                include_dashboard=False,
                configure_logging=False,
                log_to_driver=self.debug,
                runtime_env={"env_vars": task_environment(settings.backend, self.debug)},
            )
        from ray.util.queue import Queue

        self.progress = Queue()
        self.data = self.ray.put(dataset)  # once, into the object store: no shared disk needed
        gpus = settings.gpus_per_run
        if gpus is None:
            gpus = 1 if self.ray.cluster_resources().get("GPU", 0) else 0
        self.task = self.ray.remote(max_calls=1)(run_task).options(
            num_cpus=settings.cpus_per_run, num_gpus=gpus
        )
        self.in_flight: dict = {}  # object ref -> (run, batch size)

    def environment(self) -> dict:
        """The cluster: its address, nodes and resources."""
        nodes = [n["NodeManagerHostname"] for n in self.ray.nodes() if n.get("Alive")]
        cluster = {"address": self.settings.ray_address, "nodes": nodes}
        return {"ray": cluster | {"resources": self.ray.cluster_resources()}}

    def __exit__(self, *_) -> None:
        if self.started_here:
            self.ray.shutdown()

    def submit(self, run: Run, batch_size: int) -> None:
        ref = self.task.remote(run, self.data, self.settings, batch_size, self.progress)
        self.in_flight[ref] = (run, batch_size)

    def run_all(self, runs: list[Run], record: Record, claim: Claim = always) -> None:
        """Run every run `claim` allows (all claimed here, as they are all submitted at once);
        `record(run, tables)` each as it finishes (out of memory: again at half the batch
        size, down to min_batch_size). Ctrl-C cancels what is in flight."""
        for run in runs:
            if claim(run):
                self.submit(run, self.settings.batch_size)
        try:
            while self.in_flight:
                done, _ = self.ray.wait(list(self.in_flight), num_returns=1, timeout=POLL_S)
                self._say_started()
                for ref in done:
                    run, batch = self.in_flight.pop(ref)
                    outcome = self._outcome(ref, run, batch)
                    if outcome.out_of_memory and batch // 2 >= self.settings.min_batch_size:
                        self.reporter.say(
                            f"  {run.label}: out of memory at batch size {batch}: "
                            f"trying again at {batch // 2}"
                        )
                        self.submit(run, batch // 2)
                    else:
                        record(run, outcome.tables)
                        done = summarize(outcome.tables["runs"])
                        self.reporter.say(f"  done {run.label}: {done}")
        except KeyboardInterrupt:
            for ref in self.in_flight:
                self.ray.cancel(ref, force=True)
            left = ", ".join(run.label for run, _ in self.in_flight.values())
            self.reporter.say(f"interrupted: cancelled, not recorded: {left or 'none'}")
            raise

    def _outcome(self, ref, run: Run, batch: int) -> Outcome:
        """The task's Outcome; a task whose worker died becomes a failed row that says why."""
        try:
            outcome, _ = self.ray.get(ref)
            return outcome
        except self.ray.exceptions.RayError as err:
            killed = isinstance(err, self.ray.exceptions.OutOfMemoryError)
            code = -signal.SIGKILL if killed else None
            why = f"RayWorkerDied: {describe_error(err)}"
            return crashed(run, self.dataset, self.settings, batch, "setup", code, why)

    def _say_started(self) -> None:
        while not self.progress.empty():
            label, where = self.progress.get_nowait()
            gpu = f", GPU {where['gpu_ids']}" if where["gpu_ids"] else ""
            running = len(self.in_flight)
            self.reporter.say(f"  started {label} on {where['node']}{gpu} ({running} in flight)")
