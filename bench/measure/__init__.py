"""Measurements: the instruments a run reads its figures from. Test-set figures from one pass
of predictions (`metrics`), a model's multiply-accumulates (`cost`), peak memory (`memory`),
the GPU as the backend and NVML see it (`gpu`), whether a run learned anything (`health`:
chance level, a diverged loss), and where a result came from (`provenance`: versions, device,
commit). Each figure is defined once, in docs/reference/results.md.

May import: `bench.common`, `bench.errors`, `bench.settings`, `bench.data`, `bench.models`.
Nothing here trains: `bench.training` calls these around its phases.

Adding a figure: measure it here, declare its column in `bench.results.schema`, and give the
phase result (`bench.training.phases.PhaseResult`) a field of the same name; the row builder
copies it by name.
"""
