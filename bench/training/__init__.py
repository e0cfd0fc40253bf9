"""Training: the protocol's phases (`phases`: probe, frozen, finetune, scratch, and the frozen
phase on cached features), what a phase returns (`result.PhaseResult`), the linear probe
(`probe`), the pooled features the probe and the frozen phase share (`features`), what a phase
measures beyond accuracy from its predictions (`evaluation`: calibration, corruptions), the
callbacks that validate and time each epoch (`callbacks`), the batches every pass reads from a
split's view as it goes (`batches`), prediction in batches of one shape (`prediction`) and the
on-disk cache of compiled programs that later runs of a suite reuse
(`compile_cache`).

May import: every layer before it (`bench.common`, `bench.errors`, `bench.settings`,
`bench.data`, `bench.models`, `bench.measure`).

Adding a trained phase: its name in `bench.settings.TRAINED_PHASES` (with its `epochs_` and
`lr_` settings), what it trains in `phases.set_trainable`, and where it falls in
`phases.phase_names`. Its rows and figures come from the same `PhaseResult` as every phase's.
"""
