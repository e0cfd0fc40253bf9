"""Results: the columns of every results file, each declared once (`schema`), the rows a run
writes, built from the schema and a phase's result by name (`rows`), and the store that writes
them exactly once, atomically, under a lock (`store`: runs.csv, epochs.csv, classes.csv,
confusion.csv and env.json), and the claims by which suites sharing a folder share its runs
(`claims`).

May import: every layer before it (`bench.common`, `bench.errors`, `bench.settings`,
`bench.data`, `bench.models`, `bench.measure`, `bench.training`).

Adding a column is its row in `schema.py` (name, type, unit, which way is better, meaning, why
it may be empty) plus the code that measures it; the store's columns, the statistics over
seeds, the report's notes and the reference page follow from the schema.
"""

from bench.results.store import ENV_FILE, ResultsStore, flatten

__all__ = ["ENV_FILE", "ResultsStore", "flatten"]
