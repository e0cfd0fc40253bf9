"""Whether a run learned anything: test accuracy above chance, and a training loss that did not
explode. A run that fails either is flagged in runs.csv (`flag`), kept out of the ranking and
off the Pareto front, and explained at the end of the run (docs/reference/results.md, "Flags").
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

# A run is "above chance" when a one-sided binomial test rejects, at this level, that its test
# accuracy is what always guessing the test split's most frequent class would score. 1%: over
# a suite of a few dozen runs, a model that learned nothing passes for one that did less than
# once in a hundred; with 100 test images of 10 classes it asks for 19% or more.
ALPHA = 0.01
# A training loss above this many times a uniform guess's cross-entropy (ln K) has exploded:
# no model that learns anything averages that over an epoch (ln 10 = 2.3: a loss above 23).
EXPLODED = 10.0


def chance_accuracy(confusion: np.ndarray) -> float:
    """What always guessing the test split's most frequent class scores (1/K when balanced)."""
    support = confusion.sum(axis=1)
    return float(support.max() / support.sum())


def above_chance_p(confusion: np.ndarray) -> float:
    """p-value of a one-sided binomial test that the test accuracy is above chance_accuracy."""
    correct, total = int(np.trace(confusion)), int(confusion.sum())
    return float(stats.binomtest(correct, total, chance_accuracy(confusion), "greater").pvalue)


def diverged(losses: list[float], num_classes: int) -> bool:
    """A training loss that is not finite, or above EXPLODED times ln K, in some epoch."""
    limit = EXPLODED * math.log(max(num_classes, 2))
    return any(not math.isfinite(loss) or loss > limit for loss in losses)


def flag(confusion: np.ndarray, losses: list[float]) -> str:
    """`diverged` (the cause, whatever the accuracy), else `chance`, else empty."""
    if diverged(losses, confusion.shape[0]):
        return "diverged"
    return "chance" if above_chance_p(confusion) >= ALPHA else ""


def advice(row: dict) -> str:
    """A flagged runs.csv row in one line: what went wrong, its likely cause where bench knows
    it, and what to try."""
    phase, accuracy = row["phase"], 100 * row["test_accuracy"]
    what = f"{row['model']} seed {row['seed']} {phase}: test accuracy {accuracy:.1f}%"
    if row["flag"] == "diverged":
        rate = row["learning_rate"]
        return (
            f"{what}, its training loss exploded: the learning rate {rate:g} is likely too "
            f"high; try --lr-{phase} {rate / 10:g}"
        )
    what += f" is not above chance ({100 * row['chance_accuracy']:.1f}%)"
    if phase == "scratch" and row["family"] != "baseline":
        return (
            f"{what}: a backbone trained from scratch for {row['epochs_run']} epochs, whose "
            "BatchNormalization statistics (MobileNets' most of all) do not yet fit its weights, "
            "predicts one class at test time; train longer (--epochs-scratch) or fine-tune "
            "pretrained weights (--weights imagenet)"
        )
    if phase == "scratch":
        return f"{what}: try more --epochs-scratch or another --lr-scratch"
    return (
        f"{what}: features of random or mismatched weights carry nothing; check --weights, "
        f"then try more --epochs-{phase}"
    )
