"""The benchmark scripts run and write what they print (tiny settings; figures come from real
runs of them, recorded in benchmarks/results/)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_throughput_writes_the_harness_figures(tmp_path, capsys):
    saved = tmp_path / "throughput.json"
    args = ["--models", "simple_cnn", "--batch-size", "4", "--steps", "2", "--epochs", "2"]
    assert load("throughput").main([*args, "--image-size", "32", "--save", str(saved)]) == 0
    record = json.loads(saved.read_text())
    row = record["rows"][0]
    assert row["model"] == "simple_cnn"
    assert row["harness"]["train"] > 0 and row["harness"]["infer"] > 0
    assert record["environment"]["backend"] and record["command"].startswith("python benchmarks")
    assert "simple_cnn: harness train" in capsys.readouterr().out


@pytest.mark.slow
def test_frozen_features_compares_both_modes(tmp_path):
    saved = tmp_path / "features.json"
    args = ["--model", "MobileNetV3Small", "--image-size", "32", "--epochs", "2", "--limit", "100"]
    assert load("frozen_features").main([*args, "--save", str(saved)]) == 0
    record = json.loads(saved.read_text())
    modes = {run["mode"]: run for run in record["runs"]}
    assert set(modes) == {"end-to-end", "features"}
    assert modes["features"]["features_time_s"] > 0 and modes["end-to-end"]["epochs"] == 2
    assert (
        record["speedup"] == modes["end-to-end"]["phase_time_s"] / modes["features"]["phase_time_s"]
    )


TORCH_SIDE = """
import sys, torch
sys.path.insert(0, sys.argv[1])
from timm_side import torch_rates
args = type("Args", (), {"batch_size": 4, "steps": 2, "precision": "float32", "image_size": 32})
net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                          torch.nn.Flatten(), torch.nn.Linear(8, 10))
before = [p.detach().clone() for p in net.parameters()]
rates = torch_rates(net, args)
assert rates["train"] > 0 and rates["infer"] > 0, rates
assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters())), "no training"
print("ok")
"""


@pytest.mark.slow
def test_the_torch_side_times_training_and_inference():
    """timm cannot be imported on this CPU (no matching torchvision); the timing loop it goes
    through is checked on a small PyTorch network, in its own process (without TensorFlow)."""
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch not installed")
    done = subprocess.run(
        [sys.executable, "-c", TORCH_SIDE, str(ROOT / "benchmarks")], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


@pytest.mark.slow
def test_augment_compares_on_off_and_keras_layers(tmp_path):
    saved = tmp_path / "augment.json"
    args = ["--model", "simple_cnn", "--image-size", "32", "--batch-size", "16", "--steps", "2"]
    args += ["--epochs", "2", "--repeats", "1", "--keras-layers", "--save", str(saved)]
    assert load("augment").main(args) == 0
    record = json.loads(saved.read_text())
    assert set(record["best"]) == {"off", "on", "keras-layers"}
    assert all(rate > 0 for rate in record["best"].values())
    assert record["ratios"]["on/off"] == record["best"]["on"] / record["best"]["off"]


@pytest.mark.slow
def test_suite_measures_each_model_and_labels_the_projection(tmp_path):
    saved, out = tmp_path / "suite.json", tmp_path / "results"
    args = ["--models", "MobileNetV3Small", "--dataset", "digits", "--image-size", "32"]
    args += ["--limit", "100", "--test-limit", "50", "--epochs-frozen", "2"]
    args += ["--epochs-finetune", "1", "--epochs-scratch", "2", "--full", "1000,100,200"]
    assert load("suite").main([*args, "--out", str(out), "--save", str(saved)]) == 0
    record = json.loads(saved.read_text())
    models = {m["model"]: m for m in record["models"]}
    assert set(models["MobileNetV3Small"]["projection"]["phases_s"]) == {"frozen", "finetune"}
    assert (out / "weights" / "MobileNetV3Small-32.weights.h5").is_file()
    # The cifar10 suite's limits are projected: 10 frozen epochs where 2 ran.
    assert record["epoch_limits_projected"]["frozen"] == 10
    frozen = models["MobileNetV3Small"]["measured"][0]
    assert frozen["phase"] == "frozen" and frozen["epochs_run"] == 2
    assert record["projection_s"] == sum(m["projection"]["total_s"] for m in models.values())
    assert record["projection_s"] > record["measured_s"]  # 10x the data, more epochs


@pytest.mark.slow
def test_data_memory_measures_a_real_run_and_both_feeds(tmp_path):
    """Folders made by resizing, a real bench run polled from outside, the two feeds and the
    two decoders compared: every figure measured, none made up."""
    saved = tmp_path / "data-memory.json"
    args = ["--source", str(ROOT / "tests" / "fixtures" / "cifar10-mini"), "--sizes", "180"]
    args += ["--image-size", "48", "--work", str(tmp_path / "work"), "--repeats", "1"]
    script = str(ROOT / "benchmarks" / "data_memory.py")  # as run: its workers import it
    done = subprocess.run([sys.executable, script, *args, "--save", str(saved)], timeout=600)
    assert done.returncode == 0
    record = json.loads(saved.read_text())
    (run,) = record["runs"]
    assert run["exit_code"] == 0 and run["status"] == "ok" and run["images"] == 180
    for role in ("suite", "run"):
        assert 0 < run[f"{role}_peak_private_mb"] <= run[f"{role}_peak_rss_mb"]
    assert 0 <= run["data_wait_share"] < 1 and run["train_images_per_s"] > 0
    compared = record["in_process"]
    assert compared["train_images"] == 144 and compared["train_images_per_s_view"] > 0
    ratio = compared["train_images_per_s_view"] / compared["train_images_per_s_in_memory"]
    assert compared["view_over_in_memory"] == pytest.approx(ratio, abs=1e-3)
    assert compared["decode_images_per_s_all_cores"] > 0
