"""Trained weights kept and reused: `save_weights` keeps each phase's weights in the results
folder (the whole classifier, and the backbone alone, which `--weights` loads again), and
`--weights DIR` gives each model its own file from a folder (`<Model>.weights.h5`)."""

from __future__ import annotations

import os
from pathlib import Path

from bench.errors import BenchError
from bench.models.classifier import Classifier, check_weights_file
from bench.models.spec import ModelSpec

FOLDER = "weights"  # in the results folder


def weights_source(spec: ModelSpec, weights: str) -> str:
    """What one model loads: imagenet, none, a file, or its own file in a folder (baselines
    always start from random weights)."""
    if not spec.pretrained:
        return "none"
    if weights in ("imagenet", "none") or not Path(weights).is_dir():
        return weights
    path = Path(weights) / f"{spec.name}.weights.h5"
    if not path.is_file():
        raise BenchError(f"no weights file for {spec.name} in {weights}: expected {path}")
    check_weights_file(str(path))
    return str(path)


def check_weights(weights: str) -> None:
    """Before a suite: a weights file must be one; a folder is looked into per model."""
    if weights not in ("imagenet", "none") and not Path(weights).is_dir():
        check_weights_file(weights)


def save_phase_weights(classifier: Classifier, results: str, run_id: str, phase: str) -> str:
    """The classifier's and the backbone's weights after a phase, each written to a temporary
    file and renamed (a killed run leaves no half file); their paths in the results folder."""
    folder = Path(results) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for part, model in (("", classifier.model), ("-backbone", classifier.backbone)):
        name = f"{run_id}-{phase}{part}.weights.h5"
        save_weights_atomically(model, folder / name)
        names.append(f"{FOLDER}/{name}")
    return ";".join(names)


def save_weights_atomically(model, path: Path) -> None:
    """`model.save_weights(path)` through a temporary file renamed over it: a killed process
    (or two converting at once) never leaves half a file. The temporary name keeps the
    `.weights.h5` suffix Keras insists on."""
    tmp = path.parent / f".{path.name}.{os.getpid()}.weights.h5"
    try:
        model.save_weights(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
