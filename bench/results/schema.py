"""The results files' columns, each declared once: name, type, unit, which way is better, and
what it means. The results store, the row builders, the statistics over seeds, the report and
the reference's column tables (docs/reference/results.md) are all derived from these tables; a
row with a key that is not declared here, or without one that is, is refused (a bug, never
silently dropped).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    type: type  # str, int, float or bool
    meaning: str
    unit: str = ""
    better: str | None = None  # "high" or "low": which way is better, where one is
    kind: str = ""  # "figure": varies by seed, averaged and ranked; "constant": fixed per model
    why_empty: str = ""  # why a report may find no value (said where the column is left out)


def _c(name: str, type_: type, meaning: str, unit: str = "", **more) -> Column:
    return Column(name, type_, meaning, unit, **more)


def _figure(name: str, meaning: str, unit: str, better: str, **more) -> Column:
    return Column(name, float, meaning, unit, better, "figure", **more)


# fmt: off
ACC = "fraction"
RUNS = [
    _c("run_id", str, "stable hash of everything that defines the run (shared by its phases)"),
    _c("suite", str, "suite name; `adhoc` for a run from flags alone"),
    _c("timestamp", str, "UTC start of the run, ISO 8601"),
    _c("status", str, "`ok` or `failed`"),
    _c("error", str, "for failed rows: error type and message; empty when ok"),
    _c("model", str, "registry name"),
    _c("family", str, "registry family"),
    _c("source", str, "where the model came from: `keras.applications`, `baseline`, or a "
       "source's prefix and handle (`kerashub:<preset>`, `file:<path>:<function>`)"),
    _c("dataset", str, "data set name"),
    _c("data_fingerprint", str, "hash of the data set's images (of the CIFAR batch files; for "
       "a folder, of every file's path, size and modification time) and of how it was split; "
       "part of the `run_id`, so changed data is run again"),
    _c("num_classes", int, "classes of the data set", kind="constant"),
    _c("train_size", int, "training images of this run", "images", kind="constant"),
    _c("train_per_class", int, "training images of each class (`train_per_class`): a point of "
       "a data-efficiency curve; empty: all of them", "images"),
    _c("val_size", int, "validation images of this run", "images"),
    _c("val_source", str, "`carved`: a stratified `val_fraction` of train; `folder`: the data "
       "set's own `val/` folder"),
    _c("test_size", int, "test images of this run", "images", kind="constant"),
    _c("weights", str, "`imagenet`, `none`, or the weights-file path"),
    _c("seed", int, "the run's seed"),
    _c("phase", str, "`probe`, `frozen`, `finetune`, `scratch` (or `setup` for a run that "
       "failed before training)"),
    _c("image_size", int, "the size the model actually ran at", "px", kind="constant"),
    _c("batch_size", int, "training and inference batch size actually used (smaller than the "
       "setting after an out-of-memory retry)"),
    _c("epochs_run", int, "epochs trained before early stopping (or the limit)"),
    _c("best_epoch", int, "1-based epoch whose weights were restored and evaluated"),
    _c("learning_rate", float, "Adam learning rate of the phase (empty for the probe)"),
    _c("unfreeze", float, "fine-tuned fraction or count of backbone layers (`finetune` rows only)"),
    _c("bn_mode", str, "`frozen`: BatchNormalization in inference mode with the pretrained "
       "statistics; `train`: it learns (scratch)"),
    _c("augment", bool, "whether training used augmentation"),
    _c("augment_shift", float,
       "its largest shift as a fraction of each side (empty when `augment` is off)"),
    _c("precision", str,
       "Keras dtype policy of the run: `float32`, `mixed_float16` (GPU) or `mixed_bfloat16` (CPU)"),
    _c("jit", str, "XLA compilation of the training step: `auto` (Keras's choice), `on`, `off`"),
    _c("frozen_mode", str,
       "how the phase trained: `features` (a frozen phase on cached features) or `end-to-end`"),
    _c("params_total", int, "parameters of the whole model", better="low", kind="constant"),
    _c("params_trainable", int, "parameters trained in this phase"),
    _c("gmacs", float, "multiply-accumulates of one forward pass of one image through the "
       "whole classifier at `image_size`", "billions", better="low", kind="constant"),
    _figure("train_accuracy", "training accuracy (running average over the epoch) at `best_epoch`",
       ACC, "high"),
    _figure("val_accuracy", "validation accuracy at `best_epoch`", ACC, "high"),
    _figure("test_accuracy", "top-1 on the test split after the phase", ACC, "high"),
    _figure("test_top5_accuracy", "top-5 on the test split (empty with 5 classes or fewer)",
            ACC, "high"),
    _figure("test_macro_f1", "macro-averaged F1 on the test split", ACC, "high"),
    _c("flag", str, "`chance`: test accuracy not above `chance_accuracy` (one-sided binomial "
       "test, p >= 0.01); `diverged`: a training loss not finite or above 10 ln K; empty when "
       "neither. A flagged model is listed, marked, but not ranked"),
    _c("chance_accuracy", float, "what always guessing the test split's most frequent class "
       "scores (1/K when balanced)", ACC),
    _c("above_chance_p", float, "p-value of that test: small when the run learned something",
       ""),
    _figure("test_ece", "expected calibration error of the test predictions: top-1 confidence "
       "in 15 equal-width bins, right-closed, `sum_b n_b/n |accuracy_b - confidence_b|` (Guo et "
       "al., ICML 2017)", ACC, "low", why_empty="runs written before calibration was recorded"),
    _figure("test_nll", "mean negative log-likelihood of the true class on the test split",
       "nats", "low"),
    _figure("test_brier", "multiclass Brier score on the test split: mean of "
       "`sum_k (p_k - [k = y])^2`, from 0 to 2 (Brier, 1950)", "", "low"),
    _c("temperature", float, "the temperature T of temperature scaling, fitted by minimising "
       "the validation NLL of `logits / T` over [0.01, 100]; 1 when no T lowers it (T > 1: the "
       "model was over-confident)"),
    _figure("test_ece_scaled", "`test_ece` of `logits / temperature`: the accuracy is the same, "
       "only the confidence changes", ACC, "low",
       why_empty="runs written before calibration was recorded, or without a validation split"),
    _figure("test_nll_scaled", "`test_nll` of `logits / temperature`", "nats", "low"),
    _c("probe_c", float, "the probe's chosen inverse L2 strength C (of the `probe_c` grid, by "
       "validation accuracy); empty for the other phases"),
    _c("probe_fit_s", float, "the probe's fitting time: the grid and the final fit, features "
       "excluded", "s"),
    _figure("corruption_accuracy", "mean test accuracy over the `corruptions` and severities "
       "1-5 (Hendrycks & Dietterich, ICLR 2019); per corruption in corruptions.csv", ACC, "high",
       why_empty="no `corruptions` asked for in these runs"),
    _figure("relative_robustness", "`corruption_accuracy / test_accuracy`", "", "high",
       why_empty="no `corruptions` asked for in these runs"),
    _c("corruption_time_s", float, "time to corrupt the test images and predict them", "s"),
    _figure("overfit_gap", "`train_accuracy - val_accuracy`", ACC, "low"),
    _figure("efficiency", "test accuracy in percent per million parameters "
       "(`100 * test_accuracy / (params_total / 1e6)`)", "%/M params", "high"),
    _figure("time_per_epoch_s", "median training time of the epochs after the first, "
       "validation excluded (empty if only one epoch ran)", "s", "low",
       why_empty="one epoch per phase (the first is timed on its own)"),
    _figure("first_epoch_s", "training time of the first epoch, tracing and compilation included",
       "s", "low"),
    _figure("compile_s", "what the first epoch (training and validation) took beyond the "
       "median of the later ones: tracing, compilation, warm-up; at least 0, empty if "
       "only one epoch ran", "s", "low"),
    _c("compile_cache_hits", int, "JAX: compiled programs the phase loaded from the persistent "
       "compilation cache instead of compiling them; empty on the other backends"),
    _figure("train_time_s", "wall time of the whole phase's `fit`, validation included (and "
       "the feature extraction in `features` mode)", "s", "low"),
    _c("features_time_s", float, "the probe, and the frozen phase with `frozen_mode=features`: "
       "time to compute the pooled features of the training and validation images, computed "
       "once and counted in both rows where both phases ran; empty otherwise", "s"),
    _figure("train_images_per_s", "`train_size / time_per_epoch_s`", "images/s", "high"),
    _figure("infer_images_per_s",
       "test images per second of `predict` in batches of one shape, timed after a warm-up batch",
       "images/s", "high"),
    _c("infer_batch_size", int, "batch size of that `predict`"),
    _c("data_wait_share", float, "`data_wait_s / epoch_time_s` over the epochs after the "
       "first: the share of training time the device waited for data (and callbacks)", ACC),
    _figure("peak_gpu_mem_mb", "peak GPU memory the backend's allocator held during the phase; "
       "empty without a GPU, never 0", "MiB", "low", why_empty="no GPU in these runs"),
    _figure("peak_gpu_mem_nvml_mb", "peak memory in use on the whole card during the phase as "
       "NVML sees it, the cross-check; empty without a GPU or `nvidia-ml-py`", "MiB", "low"),
    _figure(
       "peak_host_rss_mb", "peak resident set size of the process during the phase", "MiB", "low"),
    _c("weights_files", str, "`save_weights`: the phase's weights kept in the results folder, "
       "the classifier's and the backbone's (loadable with `--weights`), `;`-separated"),
    _c("settings_hash", str, "hash of the protocol settings: rows with equal hashes are "
       "comparable; `env.json` maps it to the settings"),
    _c("backend", str, "Keras backend"),
    _c("backend_version", str, "version of the backend's package (TensorFlow, JAX, PyTorch)"),
    _c("keras_version", str, "Keras version"),
    _c("device", str, "GPU name, or the CPU model where there is no GPU"),
    _c("node", str, "host name of the machine the run ran on"),
    _c("gpu_ids", str, "the GPUs the run's process was given (`CUDA_VISIBLE_DEVICES`: by "
       "Ray, or set by you); empty without a GPU"),
    _c("git_commit", str, "this project's commit (`-dirty` with uncommitted changes)"),
]
RUN_PHASE = [
    _c("run_id", str, "which run"),
    _c("phase", str, "which phase"),
]
EPOCHS = RUN_PHASE + [
    _c("epoch", int, "1-based epoch number"),
    _c("loss", float, "training loss (running average over the epoch)"),
    _c("accuracy", float, "training accuracy (running average over the epoch)", ACC),
    _c("val_loss", float, "sparse cross-entropy of the logits on the validation split"),
    _c("val_accuracy", float, "top-1 on the validation split at the end of the epoch", ACC),
    _c("learning_rate", float, "the optimizer's learning rate in that epoch"),
    _c("epoch_time_s", float, "wall time of the epoch's training, without validation", "s"),
    _c("val_time_s", float, "wall time of the epoch's validation pass", "s"),
    _c("data_wait_s", float, "time of the epoch's training spent outside the training steps: "
       "from each step's end to the next one's begin, where `fit` fetches the next batch", "s"),
]
CLASSES = RUN_PHASE + [
    _c("class_index", int, "the class's index (its label)"),
    _c("class_name", str, "the class's name"),
    _c("test_accuracy", float, "share of that class's test images predicted correctly", ACC),
    _c("support", int, "number of test images of that class", "images"),
]
CONFUSION = RUN_PHASE + [
    _c("true_index", int, "true class (an index of `classes.csv`)"),
    _c("predicted_index", int, "predicted class"),
    _c("count", int,
       "test images with that true and predicted class; only non-zero cells are written", "images"),
]
CALIBRATION = RUN_PHASE + [
    _c("scaled", bool, "whether the logits were divided by the run's `temperature` first"),
    _c("bin", int, "0-based confidence bin of 15 equal-width ones over [0, 1]"),
    _c("lower", float, "the bin's lower edge (excluded)", ACC),
    _c("upper", float, "the bin's upper edge (included)", ACC),
    _c("count", int, "test images whose top-1 confidence falls in the bin", "images"),
    _c("confidence", float, "their mean top-1 confidence", ACC),
    _c("accuracy", float, "their top-1 accuracy", ACC),
]
CORRUPTIONS = RUN_PHASE + [
    _c("corruption", str, "the corruption's name (docs/reference/results.md, \"Corruptions\")"),
    _c("severity", int, "1 (mild) to 5 (severe)"),
    _c("test_accuracy", float, "top-1 on the corrupted test images", ACC),
]
# fmt: on


FILES: dict[str, list[Column]] = {
    "runs": RUNS,
    "epochs": EPOCHS,
    "classes": CLASSES,
    "confusion": CONFUSION,
    "calibration": CALIBRATION,
    "corruptions": CORRUPTIONS,
}
RUN = {c.name: c for c in RUNS}


def names(table: str) -> list[str]:
    return [c.name for c in FILES[table]]


def text_columns(table: str) -> set[str]:
    """Columns read as text whatever they look like (ids and hashes such as 4e1712)."""
    return {c.name for c in FILES[table] if c.type is str}


def figures(better: str | None = None) -> list[str]:
    """runs.csv figures that vary by seed (averaged and ranked), those better `better`."""
    return [c.name for c in RUNS if c.kind == "figure" and better in (None, c.better)]


def constants() -> list[str]:
    return [c.name for c in RUNS if c.kind == "constant"]


def row(table: str, **values) -> dict:
    """A complete row of `table`: every column, None where `values` has none."""
    unknown = set(values) - set(names(table))
    if unknown:
        raise ValueError(f"not columns of {table}.csv: {', '.join(sorted(unknown))}")
    return {name: values.get(name) for name in names(table)}


def check_rows(table: str, rows: list[dict]) -> None:
    """Refuse rows whose keys are not exactly the columns of `table` (schema.row makes them)."""
    expected = set(names(table))
    for given in rows:
        if set(given) != expected:
            extra, missing = set(given) - expected, expected - set(given)
            raise ValueError(
                f"a {table}.csv row does not match the schema: not columns "
                f"{sorted(extra)}, missing {sorted(missing)}"
            )
