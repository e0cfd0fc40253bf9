"""The phases of the protocol (docs/protocol.md): probe (bench.training.probe), frozen,
finetune, scratch.

Each phase sets what is trainable, recompiles (a change of `trainable` has no effect until the
model is compiled again), trains with early stopping on validation loss (best weights restored)
and touches the test split exactly once, at its end.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from bench.data.splits import Splits
from bench.measure.memory import PhaseMemory
from bench.measure.metrics import classification_metrics
from bench.models.classifier import Classifier
from bench.settings import Settings
from bench.training import evaluation, prediction
from bench.training.batches import Batches
from bench.training.callbacks import EpochRecorder, ReportEpochs, Validate
from bench.training.compile_cache import CacheHits
from bench.training.features import Features
from bench.training.probe import run_probe
from bench.training.result import PhaseResult


def phase_names(transfer: bool, settings: Settings) -> list[str]:
    """Pretrained backbones: the probe (if asked for), frozen then finetune. From random
    weights: scratch. A phase with 0 epochs is left out."""
    names = ["frozen", "finetune"] if transfer else ["scratch"]
    trained = [p for p in names if getattr(settings, f"epochs_{p}") > 0]
    return ["probe", *trained] if transfer and settings.probe else trained


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
    features: Features | None = None,
) -> PhaseResult:
    """Train one phase and measure it; `callbacks` are added to the harness's own. `features`:
    the run's pooled features, shared by the probe and the frozen phase on features."""
    features = features or Features(classifier.model, settings.batch_size)
    with PhaseMemory() as memory, CacheHits() as cache:
        if phase == "probe":
            reporter.start_phase(phase, 0)
            result, predict = run_probe(classifier.model.count_params(), splits, settings, features)
        else:
            result = _train_and_test(
                classifier, phase, splits, settings, reporter, callbacks, features
            )
            model, batch = classifier.model, settings.batch_size
            result.val_logits = prediction.predict(model, splits.x_val, batch)

            def predict(x):
                return prediction.predict(model, x, batch)

        evaluation.calibrate(result, splits.y_val, splits.y_test)
        if settings.corruptions:
            evaluation.robustness(
                result,
                predict,
                np.asarray(splits.x_test),  # corrupted copies of the test split, in memory
                splits.y_test,
                settings.corruptions,
                settings.split_seed,
            )
    result.compile_cache_hits = cache.count
    result.peak_gpu_mem_mb = memory.peak_gpu_mem_mb
    result.peak_gpu_mem_nvml_mb = memory.peak_gpu_mem_nvml_mb
    result.peak_host_rss_mb = memory.peak_host_rss_mb
    return result


def _train_and_test(
    classifier, phase, splits, settings, reporter, callbacks, features
) -> PhaseResult:
    model = classifier.model
    set_trainable(classifier, phase, settings.unfreeze)
    rate = getattr(settings, f"lr_{phase}")
    result = PhaseResult(phase, rate, model.count_params(), count_params(model.trainable_weights))
    recorder = EpochRecorder()
    trainer, x_train, x_val = model, splits.x_train, splits.x_val
    if uses_features(classifier, phase, settings):
        # The frozen backbone gives the same pooled features every epoch (no augmentation
        # here): compute them once, then train the classifier's own head layers on them.
        x_train, x_val = features.of("train", x_train), features.of("val", x_val)
        result.features_time_s = features.time_of("train", "val")
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
    epochs = settings.epochs_of(phase)
    reporter.start_phase(phase, epochs)
    start = recorder.clock()
    validate = Validate(x_val, splits.y_val, settings.batch_size)  # first: the others read it
    # Shuffled by bench, from the run's seed (keras.utils.set_random_seed seeded NumPy's),
    # batch by batch from the split's view: no copy of the training images.
    shuffle_seed = int(np.random.randint(2**31 - 1))
    trainer.fit(
        Batches(x_train, splits.y_train, settings.batch_size, seed=shuffle_seed),
        epochs=epochs,
        shuffle=False,
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
    result.test_logits = logits
    return result


def uses_features(classifier: Classifier, phase: str, settings: Settings) -> bool:
    return phase == "frozen" and classifier.transfer and settings.frozen_mode == "features"


def head_of(model: keras.Model) -> keras.Model:
    """The classifier's head (dropout, logits) as a model of pooled features; it shares the
    layers, so what it learns is the classifier's head for the phases that follow."""
    features = keras.Input(model.get_layer("pool").output.shape[1:], name="features")
    logits = model.get_layer("logits")(model.get_layer("dropout")(features))
    return keras.Model(features, logits, name="head")
