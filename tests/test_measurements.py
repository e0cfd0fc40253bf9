"""The measurements reviewers ask for beyond the protocol's accuracy: the linear probe, the
data-efficiency sizes, calibration and accuracy under corruptions, recorded like every figure."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.preprocessing import StandardScaler

from bench.data import load_dataset
from bench.data.splits import make_splits, split_indices
from bench.errors import BenchError
from bench.settings import Settings
from bench.training.features import Features
from bench.training.probe import run_probe
from tests.helpers import bench_main, random_weights


def flatten_model(shape) -> keras.Model:
    """A 'backbone' whose pooled features are the pixels: the probe's input is then known."""
    inputs = keras.Input(shape)
    pooled = keras.layers.Flatten(name="pool")(keras.layers.Rescaling(1 / 255)(inputs))
    return keras.Model(inputs, keras.layers.Dense(3, name="logits")(pooled))


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_the_probe_is_an_independent_scikit_learn_fit_at_the_chosen_strength(digits):
    splits = make_splits(digits, 0.2, 0, 300, 150)
    settings = Settings(probe_c=[1e-3, 1e-1, 10.0], batch_size=32)
    model = flatten_model(digits.x_train.shape[1:])
    result, predict = run_probe(model.count_params(), splits, settings, Features(model, 32))

    def pixels(x):
        return np.asarray(x).reshape(len(x), -1) / np.float32(255)

    scaler = StandardScaler().fit(pixels(splits.x_train))
    train, val, test = (
        scaler.transform(pixels(x)) for x in (splits.x_train, splits.x_val, splits.x_test)
    )
    by_c = {}
    for c in settings.probe_c:
        fitted = LogisticRegression(C=c, max_iter=1000).fit(train, splits.y_train)
        accuracy = np.mean(fitted.predict(val) == splits.y_val)
        by_c[c] = (accuracy, -log_loss(splits.y_val, fitted.predict_proba(val)))
    chosen = max(by_c, key=by_c.get)  # a tie in accuracy: the lower log-loss
    independent = LogisticRegression(C=chosen, max_iter=1000).fit(train, splits.y_train)
    assert result.probe_c == chosen and result.val_accuracy == pytest.approx(by_c[chosen][0])
    expected = np.mean(independent.predict(test) == splits.y_test)
    assert result.test["test_accuracy"] == pytest.approx(expected, abs=1 / len(test))
    assert result.test["test_accuracy"] > 0.8  # pixels of digits are linearly separable enough
    assert np.array_equal(predict(splits.x_test).argmax(1), result.test_logits.argmax(1))
    assert result.params_trainable == (train.shape[1] + 1) * 10 and result.probe_fit_s > 0


def test_sizes_per_class_are_nested_stratified_and_share_validation_and_test(digits):
    indices = {k: split_indices(digits, 0.1, 3, per_class=k) for k in (1, 5, 10)}
    _, val_all, test_all = split_indices(digits, 0.1, 3)
    for k, (train, val, test) in indices.items():
        assert np.array_equal(val, val_all) and np.array_equal(test, test_all)
        assert (np.bincount(digits.y_train[train], minlength=10) == k).all()
        assert not set(train) & set(val)
    assert set(indices[1][0]) <= set(indices[5][0]) <= set(indices[10][0])
    other_seed = split_indices(digits, 0.1, 4, per_class=5)[0]
    assert not np.array_equal(other_seed, indices[5][0])


def test_more_images_per_class_than_a_class_has_is_one_line(digits):
    with pytest.raises(BenchError, match="train_per_class=500: class 0 has only"):
        split_indices(digits, 0.1, 0, limit=300, per_class=500)


def test_bad_sizes_and_corruption_names_are_one_line(capsys, run_args):
    for flags, message in (
        (["--train-per-class", "5,five"], "must be positive counts or all"),
        (["--train-per-class", "5,5"], "names a size twice"),
        (["--corruptions", "gausian_noise"], "did you mean gaussian_noise?"),
    ):
        code, _, err = bench_main(capsys, *run_args(*flags))
        assert code == 2 and message in err and "Traceback" not in err, err


@pytest.fixture(scope="module", params=["tensorflow", "jax"])
def measured(request, tmp_path_factory):
    """A pretrained-style backbone (a weights file) with the probe, two sizes per class, and two
    corruptions, end to end through the command, on TensorFlow and on JAX."""
    import bench.cli

    weights = random_weights("MobileNetV3Small", tmp_path_factory.mktemp("weights"))
    out = tmp_path_factory.mktemp("measured")
    args = [
        "run",
        "--models",
        "MobileNetV3Small",
        "--dataset",
        "digits",
        "--weights",
        str(weights),
        "--image-size",
        "32",
        "--limit",
        "300",
        "--test-limit",
        "100",
        "--epochs-frozen",
        "1",
        "--epochs-finetune",
        "1",
        "--batch-size",
        "32",
        "--probe",
        "--train-per-class",
        "5,all",
        "--corruptions",
        "gaussian_noise,contrast",
        "--out",
        str(out),
        "--backend",
        request.param,
    ]
    assert bench.cli.main(args) == 0
    return out


@pytest.mark.slow
def test_every_measurement_is_recorded_for_every_phase_and_size(measured):
    runs = pd.read_csv(measured / "runs.csv")
    assert (runs["status"] == "ok").all() and runs["backend"].nunique() == 1
    assert sorted(runs["phase"].unique()) == ["finetune", "frozen", "probe"]
    assert runs["run_id"].nunique() == 2  # one run per size
    sizes = runs.groupby("run_id")["train_per_class"].first()
    assert sorted(sizes.fillna(0)) == [0, 5]
    assert (runs.loc[runs["train_per_class"] == 5, "train_size"] == 50).all()
    probe = runs[runs["phase"] == "probe"]
    assert probe["probe_c"].notna().all() and probe["learning_rate"].isna().all()
    assert probe["features_time_s"].gt(0).all() and probe["epochs_run"].eq(0).all()
    for column in (
        "test_ece",
        "test_nll",
        "test_brier",
        "temperature",
        "test_ece_scaled",
        "corruption_accuracy",
        "relative_robustness",
        "corruption_time_s",
    ):
        assert runs[column].notna().all(), column
    corrupted = pd.read_csv(measured / "corruptions.csv")
    assert len(corrupted) == len(runs) * 2 * 5  # per phase: 2 corruptions x 5 severities
    mean = corrupted.groupby(["run_id", "phase"])["test_accuracy"].mean()
    recorded = runs.set_index(["run_id", "phase"])["corruption_accuracy"]
    assert np.allclose(mean.sort_index(), recorded.sort_index())
    bins = pd.read_csv(measured / "calibration.csv")
    assert set(bins["scaled"]) == {True, False}
    unscaled = bins[~bins["scaled"]]
    assert (unscaled.groupby(["run_id", "phase"])["count"].sum() == 100).all()


@pytest.mark.slow
def test_the_measurement_figures_are_drawn_from_real_runs(measured):
    import matplotlib.pyplot as plt

    from bench.reports import plots
    from bench.reports.comparison import load_comparison
    from bench.results import ResultsStore

    store = ResultsStore(measured, create=False)
    wanted = {"data_efficiency", "reliability", "corruption_severity", "clean_vs_corrupted"}
    for name, figure, caption in plots.figures(load_comparison(store)):
        plt.close(figure)
        if name in wanted:
            assert caption.missing == "", (name, caption.missing)
            wanted.discard(name)
    assert not wanted
    five = load_comparison(store, train_per_class=5)
    assert (five.ok["train_size"] == 50).all() and set(five.ok["phase"]) == {
        "probe",
        "frozen",
        "finetune",
    }


def test_the_probe_and_the_frozen_phase_share_one_pass_for_the_features(digits):
    splits = make_splits(digits, 0.2, 0, 200, 50)
    model = flatten_model(digits.x_train.shape[1:])
    features = Features(model, 32)
    run_probe(model.count_params(), splits, Settings(probe_c=[1.0]), features)
    seconds = dict(features.seconds)
    again = features.of("train", splits.x_train)  # what the frozen phase on features reads
    assert again is features.arrays["train"] and features.seconds == seconds
    assert again.shape == (len(splits.x_train), 32 * 32 * 3)


def test_a_strength_at_the_edge_of_the_grid_is_a_warning(digits, caplog):
    splits = make_splits(digits, 0.2, 0, 200, 50)
    model = flatten_model(digits.x_train.shape[1:])
    run_probe(model.count_params(), splits, Settings(probe_c=[1e-3, 1e-2]), Features(model, 32))
    assert "at the edge of --probe-c" in caplog.text
    caplog.clear()
    run_probe(model.count_params(), splits, Settings(probe_c=[0.1]), Features(model, 32))
    assert "edge" not in caplog.text  # one strength, asked for as such


def test_a_tie_in_validation_accuracy_goes_to_the_lower_log_loss():
    from bench.training.probe import choose_c

    x = np.array([[-2.0], [-1.0], [1.0], [2.0]] * 5)
    y = np.array([0, 0, 1, 1] * 5)
    c, accuracy = choose_c(x, y, x, y, [1e-6, 1.0])  # both separate it perfectly
    assert accuracy == 1.0 and c == 1.0  # 1e-6 would leave every probability near 0.5
