"""The columns of the ranked table, each declared once (header, the ranking's figure, the
runs.csv column it comes from, its format), and the named choices of them that ranking.tex
shows (`bench report --columns`). Adding a column is one `Column` line, and a key in the sets
that should show it."""

from __future__ import annotations

from dataclasses import dataclass

from bench.errors import BenchError, did_you_mean
from bench.results import schema


@dataclass(frozen=True)
class Column:
    header: str
    figure: str  # a figure of aggregate.ranking: figure_mean, figure_std; its --columns key
    source: str  # the runs.csv column it comes from: which way is better, why it may be empty
    scale: float = 1.0
    spec: str = ".2f"  # format of the scaled value
    optional: bool = True  # left out when no model has a value
    spread: bool = True  # show ± std over seeds (not for the architecture's constants)

    @property
    def better(self) -> str | None:
        return schema.RUN[self.source].better

    @property
    def why_empty(self) -> str:
        return PHASE_EMPTY.get(self.figure) or schema.RUN[self.source].why_empty or "not measured"


COLUMNS = [
    Column("params (M)", "params_m", "params_total", optional=False, spread=False),
    Column("GMACs", "gmacs", "gmacs", spec=".3g", spread=False),
    Column("probe acc (%)", "probe", "test_accuracy", scale=100),
    Column("frozen acc (%)", "frozen", "test_accuracy", scale=100),
    Column("fine-tuned acc (%)", "finetune", "test_accuracy", scale=100),
    Column("gain (pp)", "gain", "test_accuracy", scale=100),
    Column("scratch acc (%)", "scratch", "test_accuracy", scale=100),
    Column("efficiency (%/M)", "efficiency", "efficiency"),
    Column("overfit gap (pp)", "overfit_gap", "overfit_gap", scale=100),
    Column("time/epoch (s)", "time_per_epoch_s", "time_per_epoch_s"),
    Column("train img/s", "train_images_per_s", "train_images_per_s", spec=".0f"),
    Column("peak GPU mem (MiB)", "peak_gpu_mem_mb", "peak_gpu_mem_mb", spec=".0f"),
    Column("ECE (%)", "test_ece", "test_ece", scale=100),
    Column("ECE scaled (%)", "test_ece_scaled", "test_ece_scaled", scale=100),
    Column("corrupted acc (%)", "corruption_accuracy", "corruption_accuracy", scale=100),
    Column("rel. robustness", "relative_robustness", "relative_robustness"),
]
ROW_KEYS = ["rank", "model", "family", "seeds"]  # the columns before the figures
# The choices of ranking.tex's columns (bench report --columns), in their order: keys of ROW_KEYS
# and COLUMNS, "score" for a --metric other than test accuracy, "a|b" for the first of a and b
# that has values. A column no model has a value for is left out.
COLUMN_SETS = {
    "paper": ["model", "score", "params_m"]  # fits a one-column article's text
    + ["frozen", "finetune", "scratch"]  # the accuracies
    + ["gmacs|time_per_epoch_s"],  # one cost: GMACs, alike on every device, else time
    "reviewer": ["model", "score", "params_m", "probe", "frozen", "finetune", "scratch"]
    + ["test_ece", "corruption_accuracy"],  # the measurements beyond the protocol's
    "all": [*ROW_KEYS, "score", *(c.figure for c in COLUMNS)],
}
# Why a column of one phase's test accuracy may be empty (other columns say it in
# bench.results.schema).
PHASE_EMPTY = {
    "probe": "no linear probe (--probe)",
    "scratch": "no model trained from scratch",
    "frozen": "no frozen phase",
    "finetune": "no fine-tuning phase",
    "gain": "no run with both frozen and fine-tuned phases",
}


def choose(columns: str) -> list[str]:
    """The keys --columns names: a set of COLUMN_SETS, or keys separated by commas."""
    if columns in COLUMN_SETS:
        return COLUMN_SETS[columns]
    known = [k for entry in COLUMN_SETS["all"] for k in entry.split("|")]
    keys = [k.strip() for k in columns.split(",") if k.strip()] or [columns]
    for key in (k for entry in keys for k in entry.split("|")):
        if key not in known:
            hint = did_you_mean(key, [*COLUMN_SETS, *known])
            raise BenchError(
                f"unknown --columns name {key!r}; {hint + ' ' if hint else ''}sets: "
                f"{', '.join(COLUMN_SETS)}; columns: {', '.join(known)}"
            )
    return keys
