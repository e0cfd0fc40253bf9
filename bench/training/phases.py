"""The training phases of the protocol (docs/protocol.md): frozen, finetune, scratch.

Each phase sets what is trainable, recompiles (a change of `trainable` has no effect until the
model is compiled again), trains with early stopping on validation loss (best weights restored)
and touches the test split exactly once, at its end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import keras
import numpy as np

from bench.data.splits import Splits
from bench.measure import health
from bench.measure.memory import PhaseMemory
from bench.measure.metrics import classification_metrics, median_after_first
from bench.models.classifier import Classifier
from bench.settings import Settings
from bench.training import prediction
from bench.training.callbacks import EpochRecorder, ReportEpochs, Validate
from bench.training.compile_cache import CacheHits


@dataclass
class PhaseResult:
    phase: str
    learning_rate: float
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


def phase_names(transfer: bool, settings: Settings) -> list[str]:
    """Pretrained backbones: frozen then finetune. From random weights: scratch. A phase
    with 0 epochs is left out."""
    names = ["frozen", "finetune"] if transfer else ["scratch"]
    return [p for p in names if getattr(settings, f"epochs_{p}") > 0]


def phases_for(classifier: Classifier, settings: Settings) -> list[str]:
    return phase_names(classifier.transfer, settings)


def unfrozen_layers(backbone: keras.Model, unfreeze: int | float) -> list[keras.layers.Layer]:
    """The top layers to fine-tune: a fraction (float) or a count (int) of the layers that
    hold weights, BatchNormalization excepted (its statistics stay those of pretraining).
    The layers are the backbone's own, or those it names as `fine_tune_layers` (a KerasHub
    backbone's, which sit inside the model bench builds around it: bench.models.hub_build)."""
    layers = getattr(backbone, "fine_tune_layers", None) or backbone.layers
    weighted = [layer for layer in layers if layer.weights]
    count = unfreeze if isinstance(unfreeze, int) else round(unfreeze * len(weighted))
    top = weighted[len(weighted) - max(1, min(count, len(weighted))) :]
    return [layer for layer in top if not isinstance(layer, keras.layers.BatchNormalization)]


def set_trainable(classifier: Classifier, phase: str, unfreeze: int | float) -> None:
    backbone = classifier.backbone
    if phase == "frozen":
        backbone.trainable = False
    elif phase == "finetune":
        backbone.trainable = True
        for layer in backbone.layers:
            layer.trainable = False
        for layer in unfrozen_layers(backbone, unfreeze):
            layer.trainable = True
    elif phase == "scratch":
        backbone.trainable = True
    else:
        raise ValueError(f"unknown phase {phase}")


def count_params(weights) -> int:
    return int(sum(np.prod(w.shape) for w in weights))


def run_phase(
    classifier: Classifier,
    phase: str,
    splits: Splits,
    settings: Settings,
    reporter,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> PhaseResult:
    """Train one phase and measure it; `callbacks` are added to the harness's own."""
    with PhaseMemory() as memory, CacheHits() as cache:
        result = _train_and_test(classifier, phase, splits, settings, reporter, callbacks)
    result.compile_cache_hits = cache.count
    result.peak_gpu_mem_mb = memory.peak_gpu_mem_mb
    result.peak_gpu_mem_nvml_mb = memory.peak_gpu_mem_nvml_mb
    result.peak_host_rss_mb = memory.peak_host_rss_mb
    return result


def _train_and_test(classifier, phase, splits, settings, reporter, callbacks) -> PhaseResult:
    model = classifier.model
    set_trainable(classifier, phase, settings.unfreeze)
    rate = getattr(settings, f"lr_{phase}")
    result = PhaseResult(phase, rate, model.count_params(), count_params(model.trainable_weights))
    recorder = EpochRecorder()
    trainer, x_train, x_val = model, splits.x_train, splits.x_val
    if uses_features(classifier, phase, settings):
        # The frozen backbone gives the same pooled features every epoch (no augmentation
        # here): compute them once, then train the classifier's own head layers on them.
        start = recorder.clock()
        extractor = keras.Model(model.inputs, model.get_layer("pool").output)
        x_train, x_val = (
            prediction.predict(extractor, x, settings.batch_size) for x in (x_train, x_val)
        )
        result.features_time_s = recorder.clock() - start
        trainer = head_of(model)
    trainer.compile(
        optimizer=keras.optimizers.Adam(rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile="auto" if settings.jit is None else settings.jit,
    )
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=settings.patience, restore_best_weights=True
    )
    epochs = getattr(settings, f"epochs_{phase}")
    reporter.start_phase(phase, epochs)
    start = recorder.clock()
    validate = Validate(x_val, splits.y_val, settings.batch_size)  # first: the others read it
    trainer.fit(
        x_train,
        splits.y_train,
        batch_size=settings.batch_size,
        epochs=epochs,
        shuffle=True,
        verbose=0,
        callbacks=[validate, recorder, ReportEpochs(reporter, recorder), stopper, *callbacks],
    )
    result.train_time_s = recorder.clock() - start + (result.features_time_s or 0.0)
    result.epochs = recorder.records
    result.best_epoch = stopper.best_epoch + 1
    # The test split always goes through the whole classifier, images in.
    logits, result.infer_images_per_s = prediction.predict_timed(
        model, splits.x_test, settings.batch_size
    )
    result.infer_batch_size = settings.batch_size
    result.test = classification_metrics(splits.y_test, logits)
    return result


def uses_features(classifier: Classifier, phase: str, settings: Settings) -> bool:
    return phase == "frozen" and classifier.transfer and settings.frozen_mode == "features"


def head_of(model: keras.Model) -> keras.Model:
    """The classifier's head (dropout, logits) as a model of pooled features; it shares the
    layers, so what it learns is the classifier's head for the phases that follow."""
    features = keras.Input(model.get_layer("pool").output.shape[1:], name="features")
    logits = model.get_layer("logits")(model.get_layer("dropout")(features))
    return keras.Model(features, logits, name="head")
