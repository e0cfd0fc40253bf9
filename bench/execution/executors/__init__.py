"""Executors: where the runs of a suite happen. The suite plans the runs, skips what is
recorded and writes each finished run; an executor only runs them and hands each run's tables
back through `record`, so the exactly-once guarantee is the suite's, whatever the executor.

- `local`: one process per run (`bench.execution.worker`), one at a time, the next process
  started while the current run trains. The default.
- `in-process`: every run in this process (`--in-process`): for debugging, and for tests.
- `ray`: each run a Ray task, as many at once as the cluster's GPUs or CPUs allow.

May import: everything the execution layer may, and `bench.execution.one_run`, `worker` and
`progress`.

Adding an executor is one module here with a subclass of `Executor` (or of `OneAtATime`, for
one run at a time: then only `attempt_once` is yours) and one line in `EXECUTORS`; then add its
name to the `executor` setting's choices (tests/test_executors.py keeps the two in step).
"""

from bench.execution.executors.base import Claim, Executor, OneAtATime, Record, summarize
from bench.execution.executors.in_process import InProcess
from bench.execution.executors.local import LocalProcesses
from bench.execution.executors.ray_cluster import RayCluster

EXECUTORS: dict[str, type[Executor]] = {
    "local": LocalProcesses,
    "in-process": InProcess,
    "ray": RayCluster,
}

__all__ = ["EXECUTORS", "Claim", "Executor", "OneAtATime", "Record", "summarize"]
