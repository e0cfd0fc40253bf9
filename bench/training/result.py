"""What a phase measured: `PhaseResult`, which every phase returns and the row builders
(`bench.results.rows`) read by column name."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bench.measure import health
from bench.measure.metrics import median_after_first


@dataclass
class PhaseResult:
    phase: str
    learning_rate: float | None  # None: the probe, which no gradient descent fits
    params_total: int
    params_trainable: int
    epochs: list[dict] = field(default_factory=list)  # EpochRecorder records
    best_epoch: int | None = None  # 1-based epoch whose weights were restored
    test: dict = field(default_factory=dict)  # classification_metrics of the test split
    train_time_s: float = 0.0  # the whole of fit: every epoch, validation included
    infer_images_per_s: float | None = None
    infer_batch_size: int | None = None
    compile_cache_hits: int | None = None  # JAX: programs loaded from the persistent cache
    features_time_s: float | None = None  # frozen_mode=features: computing the cached features
    peak_gpu_mem_mb: float | None = None  # None: no GPU (never 0)
    weights_files: str | None = None  # save_weights: the files kept after the phase
    peak_gpu_mem_nvml_mb: float | None = None
    peak_host_rss_mb: float | None = None
    # The probe's, which has no epochs to read them from.
    train_accuracy: float | None = None
    val_accuracy: float | None = None
    probe_c: float | None = None
    probe_fit_s: float | None = None
    # bench.training.evaluation reads the logits, and gives calibration bins and accuracy
    # under corruptions.
    val_logits: np.ndarray | None = None
    test_logits: np.ndarray | None = None
    reliability: list[dict] = field(default_factory=list)
    corruption_rows: list[dict] = field(default_factory=list)
    corruption_accuracy: float | None = None
    relative_robustness: float | None = None
    corruption_time_s: float | None = None

    @property
    def epoch_seconds(self) -> list[float]:
        return [e["epoch_time_s"] for e in self.epochs]

    def at_best(self, key: str) -> float | None:
        return self.epochs[self.best_epoch - 1][key] if self.best_epoch else None

    @property
    def time_per_epoch_s(self) -> float | None:
        return median_after_first(self.epoch_seconds)

    @property
    def compile_s(self) -> float | None:
        """What the first epoch (training and validation) took beyond a later one's median:
        tracing, compilation and warm-up. None with a single epoch; at least 0."""
        if len(self.epochs) < 2:
            return None
        whole = [e["epoch_time_s"] + e["val_time_s"] for e in self.epochs]
        return max(0.0, whole[0] - float(np.median(whole[1:])))

    @property
    def data_wait_share(self) -> float | None:
        """Share of training time spent outside the training steps (fetching batches), over
        the epochs after the first (tracing), or the first if it is the only one."""
        epochs = self.epochs[1:] or self.epochs
        total = sum(e["epoch_time_s"] for e in epochs)
        return sum(e["data_wait_s"] for e in epochs) / total if total > 0 else None

    @property
    def flag(self) -> str:
        """`diverged`, `chance` or empty (bench.measure.health)."""
        return health.flag(self.test["confusion"], [e["loss"] for e in self.epochs])

    @property
    def chance_accuracy(self) -> float:
        return health.chance_accuracy(self.test["confusion"])

    @property
    def above_chance_p(self) -> float:
        return health.above_chance_p(self.test["confusion"])
