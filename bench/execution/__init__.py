"""Execution: a suite planned, run and recorded. One run in the process it is given
(`one_run`), the suite that plans the runs, skips what is recorded and writes each finished
run exactly once (`suite`), the executors that give each run a place to happen (`executors`:
local processes, this process, Ray), the run's own process (`worker`), the dry run
(`dry_run`) and what a running suite shows (`progress`).

May import: every layer before it (`bench.common`, `bench.errors`, `bench.settings`,
`bench.data`, `bench.models`, `bench.measure`, `bench.training`, `bench.results`). Reports
come after: the suite tells whoever asked (MLflow, say) through its `on_recorded` hook.

Adding an executor: see `bench.execution.executors`.
"""
