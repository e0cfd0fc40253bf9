"""benchmarks/gpu.py, the driver of the GPU figures, run as on a GPU machine but with --tiny
settings on this CPU: every part recorded, the figures of those that ran saved and readable, and
a part at its time limit recorded as a timeout while the next parts still run."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT

PARTS = [
    "augment", "throughput", "throughput_mixed", "inference", "features", "suite",
    "torch_compile", "data_memory",
]  # fmt: skip


def gpu_script(out, *args: str) -> tuple[dict, str]:
    command = [sys.executable, "benchmarks/gpu.py", "--tiny", "--out", str(out), *args]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "summary.json").read_text()), done.stdout


def test_a_part_at_its_limit_is_a_timeout_and_the_next_parts_still_run(tmp_path):
    limits = "augment=1,throughput=1,data_memory=1"
    parts = "augment,throughput,data_memory"
    summary, _ = gpu_script(tmp_path, "--parts", parts, "--limits", limits)
    first, *others = summary["parts"]
    assert first["part"] == "augment" and first["status"] == "timeout"
    assert first["limit_s"] == 1 and first["seconds"] < 30
    assert not (tmp_path / "augment.json").exists()
    assert [p["part"] for p in others] == ["throughput", "data_memory"]
    assert all(p["status"] in ("skipped", "timeout") for p in others)
    assert "augment" in (tmp_path / "logs" / "augment.log").read_text()  # its command, logged


@pytest.mark.slow
def test_every_part_is_recorded_with_its_figures(tmp_path):
    # torch.compile takes minutes on this CPU: its part gets 1 s, and must be a timeout that
    # does not stop data_memory (benchmarks/data_memory.py has its own test; 1 s here too).
    args = ["--budget-s", "600", "--limits", "torch_compile=1,data_memory=1"]
    summary, printed = gpu_script(tmp_path, *args)
    parts = {p["part"]: p for p in summary["parts"]}
    assert list(parts) == PARTS
    for name, part in parts.items():
        assert part["status"] in ("ok", "skipped", "timeout"), (name, part)
        assert part["status"] != "skipped" or part["reason"], name
        if part["status"] == "ok":
            figures = json.loads((tmp_path / part["file"]).read_text())
            assert figures and part["headline"]["goal"], name
    for name in ("augment", "inference", "features", "suite"):
        assert parts[name]["status"] == "ok", parts[name]
        assert isinstance(parts[name]["headline"]["value"], float), parts[name]["headline"]
    timm = importlib.util.find_spec("timm") is not None
    assert (parts["throughput"]["status"] == "skipped") == (not timm)
    torch = importlib.util.find_spec("torch") is not None
    assert parts["torch_compile"]["status"] == ("timeout" if torch else "skipped")
    assert parts["torch_compile"].get("limit_s", 1) == 1
    assert parts["data_memory"]["status"] in ("timeout", "skipped")  # after torch's timeout
    assert json.loads((tmp_path / "suite.json").read_text())["missing"] == []
    assert all(name in printed for name in PARTS) and "summary.json" in printed
