"""Statistics over seeds of one comparison (`bench.reports.comparison`), and the ranking of
its models."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from bench.errors import BenchError, did_you_mean
from bench.reports.comparison import Comparison
from bench.results import schema
from bench.settings import PHASES

FINAL_ORDER = ("finetune", "scratch", "frozen", "probe")  # a model's result under the protocol
PHASE_NAMES = {
    "final": "the final phase (fine-tuned; from scratch for baselines)",
    "probe": "the linear probe",
    "frozen": "the frozen phase",
    "finetune": "fine-tuning",
    "scratch": "training from scratch",
}
FIGURES = schema.figures()  # averaged over seeds; LOWER_BETTER ranks ascending
LOWER_BETTER = schema.figures("low")
CONSTANTS = schema.constants()  # the same for every seed of a model
TIE_MARK = "†"  # a model whose interval overlaps the best model's
FLAG_MARK = "‡"  # a model whose runs are flagged (bench.measure.health): listed, not ranked
GROUP_KEYS = ["dataset", "model", "family", "phase", "weights", "settings_hash"]


def seed_statistics(frame: pd.DataFrame, by: list[str], figures: list[str]) -> pd.DataFrame:
    """Per group and figure: mean, standard deviation, number of values and the bounds of a 95%
    Student-t confidence interval of the mean (empty for a single value)."""
    grouped = frame.groupby(by, sort=False)[figures]
    mean, std, n = grouped.mean(), grouped.std(ddof=1), grouped.count()
    half = pd.DataFrame(
        stats.t.ppf(0.975, n.where(n > 1) - 1) * std / np.sqrt(n),
        index=mean.index,
        columns=figures,
    )
    parts = {"mean": mean, "std": std, "n": n, "ci_low": mean - half, "ci_high": mean + half}
    columns = {f"{f}_{s}": part[f] for f in figures for s, part in parts.items()}
    return pd.DataFrame(columns).reset_index()


def summary(comparison: Comparison) -> pd.DataFrame:
    """summary.csv: every figure over seeds, per model, phase and settings."""
    ok = comparison.ok
    if ok.empty:
        return pd.DataFrame(columns=GROUP_KEYS + ["seeds"])
    table = seed_statistics(ok, GROUP_KEYS, list(FIGURES))
    constants = ok.groupby(GROUP_KEYS, sort=False)[CONSTANTS].first().reset_index()
    seeds = ok.groupby(GROUP_KEYS, sort=False)["seed"].nunique().rename("seeds").reset_index()
    return seeds.merge(constants, on=GROUP_KEYS).merge(table, on=GROUP_KEYS)


def check_ranking(metric: str, phase: str) -> None:
    if metric not in FIGURES:
        hint = did_you_mean(metric, FIGURES) or f"one of {', '.join(FIGURES)}"
        raise BenchError(f"cannot rank by {metric!r}; {hint}")
    if phase not in PHASE_NAMES:
        raise BenchError(f"unknown phase {phase!r}; one of {', '.join(PHASE_NAMES)}")


def ranked_phase(ok: pd.DataFrame, phase: str) -> dict[str, str]:
    """The phase each model is ranked on: `phase`, or with 'final' its last one run."""
    phases = ok.groupby("model")["phase"].agg(set)
    if phase != "final":
        return {m: phase for m, have in phases.items() if phase in have}
    return {m: next(p for p in FINAL_ORDER if p in have) for m, have in phases.items()}


def ranking(comparison: Comparison, metric: str = "test_accuracy", phase: str = "final"):
    """One row per model: statistics over seeds of each phase's test accuracy, the gain from
    fine-tuning, and the ranked phase's figures; the flags of its runs in that phase (`flag`,
    `flagged`: how many runs), its rank by `metric` (none when flagged), and whether its
    interval overlaps the best model's (`tied`)."""
    check_ranking(metric, phase)
    ok = comparison.ok
    if ok.empty:
        return pd.DataFrame(columns=["rank", "tied", "model", "family", "phase", "seeds"])
    per_seed = _per_seed(ok, metric, ranked_phase(ok, phase))
    figures = [c for c in per_seed.columns if c not in ("model", "run_id")]
    table = seed_statistics(per_seed, ["model"], figures)
    info = ok.groupby("model").agg(family=("family", "first"))
    table = table.join(info, on="model")
    table["phase"] = table["model"].map(ranked_phase(ok, phase))
    table["seeds"] = table["score_n"]
    table = table.join(_flags(ok, ranked_phase(ok, phase)), on="model")
    return _rank(table, lower_better=metric in LOWER_BETTER)


def _flags(ok: pd.DataFrame, phase_of: dict[str, str]) -> pd.DataFrame:
    """Per model, its ranked phase's flags (bench.measure.health), joined, and how many of its
    runs carry one; results written before flags were recorded have none."""
    ranked = ok[ok["phase"] == ok["model"].map(phase_of)]
    flags = ranked["flag"].fillna("").astype(str)
    grouped = flags.groupby(ranked["model"])
    return pd.DataFrame(
        {
            "flag": grouped.agg(lambda f: ", ".join(sorted(set(f) - {""}))),
            "flagged": grouped.agg(lambda f: int((f != "").sum())),
        }
    )


def _per_seed(ok: pd.DataFrame, metric: str, phase_of: dict[str, str]) -> pd.DataFrame:
    """One row per run and model: test accuracy of each phase, the gain, the ranked phase's
    figures (`score` is the ranking metric, `accuracy` that phase's test accuracy)."""
    frames = {
        p: ok.loc[ok["phase"] == p, ["model", "run_id", "test_accuracy"]].rename(
            columns={"test_accuracy": p}
        )
        for p in PHASES
    }
    paired = frames["frozen"].merge(frames["finetune"], on=["model", "run_id"])  # the same run
    paired["gain"] = paired["finetune"] - paired["frozen"]
    ranked = ok[ok["phase"] == ok["model"].map(phase_of)]
    ranked = ranked.assign(
        score=ranked[metric],
        accuracy=ranked["test_accuracy"],
        params_m=ranked["params_total"] / 1e6,
    )
    keep = [
        "model",
        "run_id",
        "score",
        "accuracy",
        "params_m",
        "gmacs",
        "efficiency",
        "overfit_gap",
    ]
    keep += ["time_per_epoch_s", "train_images_per_s", "infer_images_per_s", "peak_gpu_mem_mb"]
    keep += ["test_ece", "test_ece_scaled", "test_nll", "corruption_accuracy"]
    keep += ["relative_robustness"]
    parts = [*frames.values(), paired[["model", "run_id", "gain"]], ranked[keep]]
    return pd.concat(parts, ignore_index=True).astype({"model": str})


def _rank(table: pd.DataFrame, lower_better: bool) -> pd.DataFrame:
    """Ranks of the unflagged models; flagged ones follow them, unranked."""
    score = table["score_mean"].where(table["flag"] == "")
    table["rank"] = score.rank(ascending=lower_better, method="min").astype("Int64")
    table = table.sort_values(["rank", "model"], na_position="last").reset_index(drop=True)
    table["tied"] = False
    if score.notna().any():
        best = table.iloc[0]
        if lower_better:
            overlap = table["score_ci_low"] <= best["score_ci_high"]
        else:
            overlap = table["score_ci_high"] >= best["score_ci_low"]
        ranked = table["rank"].notna().to_numpy()
        table["tied"] = overlap.fillna(False).astype(bool) & (table.index > 0) & ranked
    return table
