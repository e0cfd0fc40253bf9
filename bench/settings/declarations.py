"""Settings of a benchmark, each declared once: its type, default, help, group, allowed values,
and whether it is hashed (part of the settings hash: what makes two results comparable).

The `bench run` flags, the settings-file checks (`bench.settings.loading`), the hash and the
reference's settings table are all derived from these declarations. Every field is recorded
with the results, so two rows are comparable exactly when their hashed settings agree.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from bench.common.hashing import stable_hash
from bench.errors import BenchError, shorten
from bench.settings.declare import (
    NOT_NEGATIVE,
    POSITIVE,
    UNSET,
    at_least,
    between,
    epochs,
    how,
    install_command,
    install_hint,
    installed,
    measure,
    protocol,
    setting,
    what,
)

TRAINED_PHASES = ("frozen", "finetune", "scratch")  # each has its epochs_ and lr_ setting
# Every phase in the order a run goes through them: the linear probe reads the pretrained
# backbone's features before fine-tuning changes them.
PHASES = ("probe", *TRAINED_PHASES)


@dataclass
class Settings:
    """Everything that defines a run. Defaults are the protocol (docs/protocol.md)."""

    models: list[str] = what([], "models: names (bench list), family:NAME, or all")
    suite: str = what("", "a named suite of the settings file")
    dataset: str | list[str] = what(
        "cifar10",
        "the data set: {datasets}; several (a comma list, or a list in the settings file) run "
        "one after another, each a comparison of its own",
        hashed=True,
        metavar="NAME|LIST",
        checks=(
            (lambda v: len(dataset_names(v)) > 0, "must name at least one data set"),
            (lambda v: all(dataset_names(v)), "names an empty data set"),
            (lambda v: len(set(dataset_names(v))) == len(dataset_names(v)), "names one twice"),
        ),
    )
    data_dir: str | None = what(
        None, "CIFAR's archives (default: the Keras cache), or TFDS's data folder", metavar="DIR"
    )
    seeds: list[int] = what(
        [0],
        "seeds (a comma list; 0-2 is 0,1,2); each model runs once per seed",
        checks=(
            (lambda v: len(v) > 0, "must name at least one seed"),
            (lambda v: all(0 <= s < 2**32 for s in v), "must be in [0, 2**32)"),
            (lambda v: len(set(v)) == len(v), "names a seed twice"),
        ),
    )
    weights: str = what(
        "imagenet",
        "imagenet, none (train from scratch), a backbone weights file, or a folder of them "
        "(<Model>.weights.h5 each)",
        metavar="W",
        hashed=True,
    )
    backend: str = how(
        "",
        "Keras backend of each run's process (default: KERAS_BACKEND or keras.json)",
        choices=("tensorflow", "jax", "torch"),
        checks=((installed, lambda v: f"is not installed ({install_command(v)})"),),
        hashed=False,
    )
    precision: str = how(
        "float32",
        "mixed: float16 (GPU) or bfloat16 compute; variables, logits and loss stay float32",
        choices=("float32", "mixed"),
        added_later="float32",
    )
    jit: bool | None = how(
        None, "compile the training step with XLA (default: Keras's choice)", added_later=None
    )
    frozen_mode: str = how(
        "end-to-end",
        "features: the frozen phase trains the head on the backbone's pooled features, "
        "computed once (no augmentation in that phase)",
        choices=("end-to-end", "features"),
        added_later="end-to-end",
    )
    executor: str = how(
        "local",
        "where runs execute: local (one process per run, one at a time), in-process (every "
        "run in this process) or ray (Ray tasks, as many at once as the cluster's GPUs or CPUs "
        "allow)",
        choices=("in-process", "ray"),
        checks=((lambda v: v != "ray" or installed("ray"), install_hint("ray", "Ray")),),
        hashed=False,
    )
    ray_address: str | None = how(
        None,
        "Ray cluster to join (auto, host:port or ray://host:port); default: start one here",
        metavar="ADDRESS",
        hashed=False,
    )
    gpus_per_run: float | None = how(
        None,
        "GPUs each Ray run takes (default: 1 where the cluster has GPUs, else 0)",
        checks=(at_least(0),),
        hashed=False,
    )
    cpus_per_run: float = how(1.0, "CPUs each Ray run takes", checks=(POSITIVE,), hashed=False)
    min_batch_size: int = how(
        8,
        "out of memory, a run is tried again at half the batch size, down to this",
        checks=(at_least(1),),
        hashed=False,
    )
    image_size: int = protocol(
        224, "size the model resizes images to, on the device", at_least(32, " (any backbone)")
    )
    storage_size: int = protocol(
        0, "size folder and TFDS images are stored at; 0 keeps a common native size", NOT_NEGATIVE
    )
    val_fraction: float = protocol(
        0.1, "validation share of train, stratified (unless the data has its own)", between(0, 1)
    )
    test_fraction: float = protocol(
        0.2, "test share, for data sets without a test split", between(0, 1)
    )
    split_seed: int = protocol(0, "fixes that test split (and test_limit) across runs")
    limit: int | None = protocol(None, "at most N training images, stratified", at_least(1))
    test_limit: int | None = protocol(None, "at most N test images, stratified", at_least(1))
    augment: bool = protocol(True, "random horizontal flip and shift of training images")
    augment_shift: float = protocol(
        0.1, "largest shift, a fraction of each side (whole pixels)", between(0, 0.5, True)
    )
    batch_size: int = protocol(
        64, "training and inference batch size (halved on out of memory)", at_least(1)
    )
    epochs_frozen: int = epochs("frozen", 10)
    epochs_finetune: int = epochs("finetune", 10)
    epochs_scratch: int = epochs("scratch", 30)
    lr_frozen: float = protocol(1e-3, "Adam learning rate of the frozen phase", POSITIVE)
    lr_finetune: float = protocol(1e-5, "Adam learning rate of fine-tuning", POSITIVE)
    lr_scratch: float = protocol(1e-3, "Adam learning rate from scratch", POSITIVE)
    unfreeze: int | float = protocol(
        0.3,
        "fine-tune the top fraction (0.3) or number (20) of weighted backbone layers",
        (lambda v: v > 0, "must be a fraction in (0, 1] or a layer count >= 1"),
        (lambda v: isinstance(v, int) or v <= 1, "as a fraction must be at most 1.0"),
        metavar="F|N",
    )
    patience: int = protocol(3, "early-stopping patience on validation loss", NOT_NEGATIVE)
    dropout: float = protocol(0.2, "dropout before the classifier", between(0, 1, True))
    train_per_class: list[int | str] = what(
        ["all"],
        "training images per class, each size a run of its own (a data-efficiency curve): "
        "counts and all, as 1,5,10,50,all; the smaller sets are nested in the larger",
        checks=(
            (lambda v: len(v) > 0, "must name at least one size"),
            (
                lambda v: all(s == "all" or (isinstance(s, int) and s > 0) for s in v),
                "must be positive counts or all",
            ),
            (lambda v: len(set(v)) == len(v), "names a size twice"),
        ),
    )
    probe: bool = measure(
        False,
        "also fit a linear probe: L-BFGS logistic regression on the pretrained backbone's "
        "pooled features (phase probe, before the others)",
    )
    probe_c: list[float] = measure(
        [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4],
        "the probe's grid of inverse L2 strengths C (scikit-learn's, on standardised "
        "features): the best by validation accuracy is refitted and tested",
        (lambda v: len(v) > 0 and all(c > 0 for c in v), "must be positive numbers"),
    )
    corruptions: list[str] = measure(
        [],
        "after each phase, test accuracy under these common corruptions at severities 1-5, "
        "computed on the fly (all, or a comma list of {corruptions})",
    )
    out: str = setting("results", "results folder", group="output", metavar="DIR", hashed=False)
    save_weights: bool = setting(
        False,
        "keep each phase's trained weights in the results folder (weights/): the classifier, "
        "and the backbone alone, which --weights loads",
        group="output",
        hashed=False,
    )
    mlflow: bool = setting(
        False,
        "log every run, its phases and epochs, and the suite's report to MLflow "
        "(MLFLOW_TRACKING_URI, else a local store in the results folder)",
        group="output",
        hashed=False,
        checks=((lambda v: not v or installed("mlflow"), install_hint("mlflow", "MLflow")),),
    )

    def validate(self) -> Settings:
        """Reject impossible values with a message naming the setting."""
        for spec in FIELDS.values():
            value = getattr(self, spec.name)
            meta = spec.metadata
            checks = list(meta["checks"])
            if meta["choices"]:  # the default is allowed, even when empty ("Keras's own")
                allowed = (spec.default, *meta["choices"])
                why = _one_of(allowed_values(spec.name))
                checks.insert(0, (lambda v, a=allowed: v in a, why))
            for ok, why in checks:
                if not ok(value):
                    why = why(value) if callable(why) else why
                    raise BenchError(f"invalid setting {spec.name}={shorten(repr(value))}: {why}")
        return self

    def datasets(self) -> list[str]:
        """The data sets named, in order."""
        return dataset_names(self.dataset)

    def on_dataset(self, name: str) -> Settings:
        """These settings for one data set: what a suite's pass runs, records and hashes, so a
        single data set keeps the hash and run ids it always had."""
        return dataclasses.replace(self, dataset=name)

    def epochs_of(self, phase: str) -> int:
        """Epochs of a phase; the probe has none (it is fitted once, not trained by epochs)."""
        return 0 if phase == "probe" else getattr(self, f"epochs_{phase}")

    def hashed(self) -> dict[str, Any]:
        """The settings that make two results comparable (not what is run, nor where to)."""
        hashed = {}
        for name, spec in FIELDS.items():
            value, later = getattr(self, name), spec.metadata["added_later"]
            # A setting added after results were first written counts only when it differs
            # from what those results had, so they keep their hash (and are not run again).
            if spec.metadata["hashed"] and (later is UNSET or value != later):
                hashed[name] = value
        # Augmentation on is a different protocol since it became bench's own flip and integer
        # shift (Keras's RandomTranslation before): its shift fraction is always in the hash, so
        # no such run pools with one from before. With augmentation off nothing changed.
        if not self.augment:
            del hashed["augment_shift"]
        return hashed

    def settings_hash(self) -> str:
        return stable_hash(self.hashed())


def dataset_names(value: str | list[str]) -> list[str]:
    """`dataset` as its names: split on commas only, since a name may hold a colon and a path
    (folder:PATH)."""
    parts = [value] if isinstance(value, str) else value
    return [name.strip() for part in parts for name in part.split(",")]


def allowed_values(name: str) -> tuple:
    """A setting's allowed values: its default (unless empty: "use Keras's own") and choices."""
    spec = FIELDS[name]
    default = () if spec.default in (None, "") else (spec.default,)
    return tuple(dict.fromkeys((*default, *spec.metadata["choices"])))


def _one_of(choices: tuple[str, ...]) -> str:
    return f"must be one of {', '.join(choices)}"


FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
