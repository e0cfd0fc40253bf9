"""The linear probe (Kornblith, Shlens & Le, "Do Better ImageNet Models Transfer Better?",
CVPR 2019): the pretrained backbone's pooled features computed once, a multinomial logistic
regression fitted to them with L-BFGS (scikit-learn), its L2 strength chosen on the validation
split from a logarithmic grid (`probe_c`), refitted on train with the chosen strength and
tested once. The features are standardised with the training split's mean and deviation first,
which L-BFGS needs to converge in a few hundred steps on features of very different scales.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from bench.data.splits import Splits
from bench.measure.metrics import classification_metrics
from bench.settings import Settings
from bench.training import prediction
from bench.training.features import Features
from bench.training.result import PhaseResult

log = logging.getLogger("bench")
MAX_ITER = 1000  # L-BFGS steps; the weakest regularisation of the grid needs the most


def fit_logistic(x: np.ndarray, y: np.ndarray, c: float, warm=None):
    """A multinomial logistic regression of inverse L2 strength `c` (warm: a fitted model whose
    coefficients start this fit: the grid is walked from strong to weak regularisation)."""
    from sklearn.linear_model import LogisticRegression  # 1 s to import: not for --help

    model = warm or LogisticRegression(solver="lbfgs", max_iter=MAX_ITER, warm_start=True)
    return model.set_params(C=c).fit(x, y)


def logits_of(model, x: np.ndarray) -> np.ndarray:
    """Decision values as logits (their softmax is the model's predict_proba), two columns
    for two classes."""
    scores = model.decision_function(x)
    return np.column_stack([np.zeros_like(scores), scores]) if scores.ndim == 1 else scores


def choose_c(train, y_train, val, y_val, grid: list[float]) -> tuple[float, float]:
    """The grid's C with the best validation accuracy, and that accuracy. A tie (common with
    few validation images) goes to the lower validation log-loss: the stronger regularisation
    alone would pick a C so small that every probability is near uniform."""
    from sklearn.metrics import log_loss

    best, best_c, model = (-1.0, 0.0), None, None
    for c in sorted(grid):
        model = fit_logistic(train, y_train, c, warm=model)
        accuracy = float(np.mean(model.predict(val) == y_val))
        score = (accuracy, -log_loss(y_val, model.predict_proba(val), labels=model.classes_))
        if score > best:
            best, best_c = score, c
    return best_c, best[0]


def run_probe(params_total: int, splits: Splits, settings: Settings, features: Features):
    """The probe as a phase: a PhaseResult with its test metrics, chosen C and times, and
    the probe as a function of images (for the corrupted test images)."""
    from sklearn.preprocessing import StandardScaler

    train = features.of("train", splits.x_train)
    val = features.of("val", splits.x_val)
    test, rate = features.timed("test", splits.x_test)
    scaler = StandardScaler().fit(train)
    train, val, test = (scaler.transform(f) for f in (train, val, test))
    start = time.perf_counter()
    c, val_accuracy = choose_c(train, splits.y_train, val, splits.y_val, settings.probe_c)
    if len(settings.probe_c) > 1 and c in (min(settings.probe_c), max(settings.probe_c)):
        log.warning(
            "the linear probe chose C=%g, at the edge of --probe-c: the best may lie beyond "
            "it; extend the grid",
            c,
        )
    model = fit_logistic(train, splits.y_train, c)  # afresh: the tested fit is reproducible
    fit_s = time.perf_counter() - start
    classes = logits_of(model, test).shape[1]
    result = PhaseResult("probe", None, params_total, (train.shape[1] + 1) * classes)
    result.probe_c, result.probe_fit_s = c, fit_s
    result.train_accuracy = float(np.mean(model.predict(train) == splits.y_train))
    result.val_accuracy = val_accuracy
    result.features_time_s = features.time_of("train", "val")
    result.train_time_s = result.features_time_s + fit_s
    result.infer_images_per_s, result.infer_batch_size = rate, settings.batch_size
    result.test_logits, result.val_logits = logits_of(model, test), logits_of(model, val)
    result.test = classification_metrics(splits.y_test, result.test_logits)

    def predict(images: np.ndarray) -> np.ndarray:  # images in, as the corruptions need
        pooled = prediction.predict(features.extractor, images, features.batch_size)
        return logits_of(model, scaler.transform(pooled))

    return result, predict
