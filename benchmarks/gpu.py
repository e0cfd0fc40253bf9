"""Every figure docs/performance.md still owes a GPU, taken in one call of at most 9 minutes.

Each part runs benchmark scripts in processes of their own, killed at its limit, with Keras on
JAX (PyTorch for `torch_compile`), and saves its JSON beside `summary.json` (status, seconds,
headline against its goal; also printed). Parts run in order of value, each with its share of
the time left. How to run it: docs/development/gpu.md.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psutil

from bench.common.paths import cache_root
from bench.settings.loading import load_config, resolve

HERE = Path(__file__).resolve().parent
# The parts in order of value (JAX first: bench's backend for GPUs), each with its share of a
# 540-s call (by worth and cost: a 224-px ResNet compiles for 25-80 s), script, backend and
# arguments on a GPU (two epochs: the first compiles, untimed) and --tiny. {data}: the data.
TINY = "--image-size 32 --batch-size 4 --steps 2 --epochs 2"
PARTS = {
    "augment": (60, "augment", "jax", "--model ResNet50 --repeats 1 --epochs 2",
                f"--model simple_cnn {TINY} --batch-size 16 --repeats 1"),
    "throughput": (110, "throughput", "jax", "--augment --epochs 2",
                   f"--augment --models MobileNetV2 {TINY}"),
    "throughput_mixed": (90, "throughput", "jax", "--augment --epochs 2 --precision mixed",
                         f"--augment --models MobileNetV2 {TINY} --precision mixed"),
    "inference": (40, "bench", "jax", "", ""),  # see inference()
    "features": (60, "frozen_features", "jax", "--dataset folder:{data} --model ResNet50 "
                 "--image-size 224 --batch-size 128 --epochs 10 --limit 10000",
                 "--dataset folder:{data} --model MobileNetV3Small --image-size 32 --epochs 2"),
    "suite": (100, "suite", "jax", "--limit 10000 --test-limit 2000 --dataset folder:{data}",
              "--image-size 32 --limit 100 --test-limit 50 --epochs-scratch 2 "
              "--full 1000,100,200 --dataset folder:{data}"),
    "torch_compile": (50, "throughput", "torch", "--jit --timm-compile --models ResNet50 "
                      "--epochs 2", f"--jit --timm-compile --models simple_cnn {TINY}"),
    "data_memory": (30, "data_memory", "jax", "--sizes 2000,20000 --image-size 224 --source "
                    "{data}", "--sizes 200 --image-size 64 --source {data}"),
}  # fmt: skip


@dataclass
class Call:
    """One call of the driver: where the figures go, scratch space, data and sizes."""

    out: Path
    scratch: Path
    tiny: bool
    data: Path | None

    def dataset(self) -> Path:
        """The folder data set: the user's, else a synthetic one (20,000 for data_memory)."""
        if self.data is None:
            self.data = synthetic_folder(self.scratch / "data", 16 if self.tiny else 2000)
        return self.data

    def execute(self, name: str, command: list[str], backend: str, limit: float) -> dict:
        """`command` under `limit` seconds, its output into logs/<name>.log."""
        if any("{data}" in a for a in command):
            command = [a.replace("{data}", str(self.dataset())) for a in command]
        env = {**os.environ, **cache_environment(), "KERAS_BACKEND": backend}
        shown = f"KERAS_BACKEND={backend} " + shlex.join(command).replace(sys.executable, "python")
        (self.out / "logs" / name).parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        with (self.out / "logs" / f"{name}.log").open("a") as log:
            print(f"$ {shown}", file=log, flush=True)
            proc = subprocess.Popen(command, cwd=HERE.parent, env=env, stdout=log,
                                    stderr=subprocess.PIPE, text=True)
            try:
                _, err, late = *proc.communicate(timeout=max(limit, 0.1)), False
            except subprocess.TimeoutExpired:
                kill_tree(proc.pid)
                _, err, late = *proc.communicate(), True
            log.write(err)
        record = {"command": shown, "seconds": round(time.perf_counter() - start, 1)}
        if late:
            return {**record, "status": "timeout", "limit_s": round(limit, 1)}
        if proc.returncode:
            tail = err.strip().splitlines()[-12:]
            return {**record, "status": "failed", "returncode": proc.returncode, "stderr": tail}
        return {**record, "status": "ok"}

    def script(self, name: str, script: str, backend: str, args: str, limit: float) -> dict:
        """One run of benchmarks/<script>.py that saves <name>.json here."""
        save = self.out / f"{name}.json"
        save.unlink(missing_ok=True)  # an earlier call's figures are not this one's
        command = [sys.executable, f"benchmarks/{script}.py", *shlex.split(args), "--save"]
        return {**self.execute(name, [*command, str(save)], backend, limit), "file": save.name}


def kill_tree(pid: int) -> None:
    """A process, stopped first, and all it started (bench's run processes too): none is left."""
    with contextlib.suppress(psutil.Error):  # it has just ended
        (root := psutil.Process(pid)).suspend()
        for process in [*root.children(recursive=True), root]:
            with contextlib.suppress(psutil.Error):
                process.kill()


def cache_environment() -> dict[str, str]:
    """JAX's cache as bench's runs have it, no preallocation (JAX and timm share the GPU)."""
    wanted = {"JAX_COMPILATION_CACHE_DIR": str(cache_root() / "compiled" / "jax"),
              "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
              "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
              "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}.items()  # fmt: skip
    return {k: v for k, v in wanted if k not in os.environ}


def synthetic_folder(root: Path, per_class: int) -> Path:
    """10 classes of random 32x32 JPEGs in train/ and test/ (a sixth as many): CIFAR's shape."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, count in (("train", per_class), ("test", max(per_class // 6, 4))):
        for label in range(10):
            (here := root / split / f"c{label}").mkdir(parents=True)
            for i in range(count):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), "uint8")).save(here / f"{i}.jpg")
    return root


def missing(part: str) -> str | None:
    """Why a part cannot run here, or None (timm is imported in a process of its own)."""
    needs = {"torch_compile": "torch", "throughput": "timm", "throughput_mixed": "timm"}.get(part)
    if part == "data_memory" and not (HERE / "data_memory.py").is_file():
        return "not present: benchmarks/data_memory.py"
    if needs and importlib.util.find_spec(needs) is None:
        return f"{needs} is not installed"
    if needs != "timm":
        return None
    done = subprocess.run([sys.executable, "-c", "import timm"], capture_output=True, text=True)
    return f"timm cannot be imported: {done.stderr.strip()[-200:]}" if done.returncode else None


def inference(call: Call, limit: float) -> dict:
    """`infer_images_per_s` of a bench run against throughput.py's (538 vs 12,122 before)."""
    tiny = ("simple_cnn", 32, 16, 100, 64)  # model, image size, batch, train and test images
    model, size, batch, train, test = tiny if call.tiny else ("ResNet50", 224, 128, 2000, 2560)
    deadline, results = time.perf_counter() + limit, call.scratch / "inference"
    same = f"--models {model} --image-size {size} --batch-size {batch}"
    args = f"run {same} --weights none --dataset folder:{{data}} --backend jax --seeds 0 "
    args += f"--epochs-scratch 2 --limit {train} --test-limit {test} --out {results} --force"
    record = call.execute("inference", [sys.executable, "-m", "bench", *args.split()], "jax", limit)
    if record["status"] != "ok":
        return record
    row = next(csv.DictReader((results / "runs.csv").read_text().splitlines()))
    source = "throughput.json"
    if (figure := infer_rate(call.out / source, model, size, batch)) is None:
        source = "inference_throughput.json"  # throughput did not run: measured here
        args = f"{same} --steps {2 if call.tiny else 20} --epochs 2"
        step = call.script(source[:-5], "throughput", "jax", args, deadline - time.perf_counter())
        if step["status"] != "ok":
            return {**step, "command": [record["command"], step["command"]]}
        figure = infer_rate(call.out / source, model, size, batch)
    ours = float(row["infer_images_per_s"])
    run = {"command": record["command"], "model": model, "image_size": size, "batch_size": batch,
           "test_size": int(row["test_size"]), "infer_images_per_s": ours}
    theirs = {"file": source, "infer_images_per_s": figure}
    saved = {"bench_run": run, "throughput": theirs, "ratio": ours / figure}
    (call.out / "inference.json").write_text(json.dumps(saved, indent=2))
    return {**record, "seconds": round(limit + time.perf_counter() - deadline, 1),
            "file": "inference.json"}  # fmt: skip


def infer_rate(path: Path, model: str, size: int, batch: int) -> float | None:
    """throughput.py's harness inference img/s for that model, size and batch, if saved."""
    record = json.loads(path.read_text()) if path.is_file() else {"rows": [], "settings": {}}
    same = [record["settings"].get(k) for k in ("image_size", "batch_size")] == [size, batch]
    return next((r["harness"]["infer"] for r in record["rows"] if r["model"] == model and same),
                None)  # fmt: skip


def suite(call: Call, limit: float) -> dict:
    """One model per process, each saving suite/<model>.json, so a cut keeps what it measured
    and a later call into the same --out runs only the models still missing."""
    names = ["simple_cnn"] if call.tiny else resolve(load_config(), "cifar10", {}).models
    deadline = time.perf_counter() + limit
    (folder := call.out / "suite").mkdir(exist_ok=True)
    record: dict = {"status": "ok", "seconds": 0.0, "file": "suite.json"}
    for model in [n for n in names if not (folder / f"{n}.json").is_file()]:
        args = f"{PARTS['suite'][3 + call.tiny]} --models {model} --out {call.scratch / 'suite'}"
        step = call.script(f"suite/{model}", "suite", "jax", args, deadline - time.perf_counter())
        record["seconds"] += step["seconds"]
        record["command"] = step["command"].replace(model, "MODEL")
        if step["status"] == "timeout":
            record.update(status="timeout", limit_s=round(limit, 1))
            break
        if step["status"] == "failed":  # recorded; the next model may still run
            record.update(status="failed", failed_model=model, stderr=step["stderr"])
    done = [json.loads(p.read_text()) for n in names if (p := folder / f"{n}.json").is_file()]
    measured = [m["model"] for d in done for m in d["models"] if "projection" in m]
    (call.out / "suite.json").write_text(json.dumps({"projection": "an upper bound, suite.py",
        "models": names, "measured": measured, "missing": [n for n in names if n not in measured],
        "projection_s": sum(d["projection_s"] for d in done) or None,  # None: none measured
        "measured_s": sum(d["measured_s"] for d in done)}, indent=2))  # fmt: skip
    return record


def run_part(call: Call, part: str, limit: float) -> dict:
    if why := missing(part):
        return {"status": "skipped", "reason": why}
    if part in ("inference", "suite"):  # more than one process each
        return inference(call, limit) if part == "inference" else suite(call, limit)
    _, script, backend, *args = PARTS[part]
    return call.script(part, script, backend, args[call.tiny], limit)


# Per part: headline figure, its reader, goal (a bound to reach, or the goal in words, its test).
HEADLINES = {
    "augment": ("train img/s, augmentation on / off", lambda d: d["ratios"]["on/off"], 0.95),
    "throughput": ("harness / timm eager, train, worst model",
                   lambda d: min(r["ratio"]["train"] for r in d["rows"] if r.get("ratio")), 1.0),
    "inference": ("infer_images_per_s, bench run / throughput", lambda d: d["ratio"], 0.8),
    "features": ("frozen phase, end to end / features", lambda d: d["speedup"], 10.0),
    "suite": ("cifar10 suite, projected h, measured models", lambda d: d["projection_s"] / 3600,
              ("< 1, every model", lambda hours, d: hours < 1 and not d["missing"])),
    "data_memory": ("run process's peak RSS MiB, by images", lambda d: {
        r["images"]: r["run_peak_rss_mb"] for r in d["runs"]}, ("none yet", lambda *_: None)),
}  # fmt: skip
HEADLINES["throughput_mixed"] = HEADLINES["throughput"]
HEADLINES["torch_compile"] = ("torch --jit / timm eager, worst", HEADLINES["throughput"][1], 0.8)


def headline(part: str, path: Path) -> dict:
    figure, read, bound = HEADLINES[part]
    goal, meets = bound if isinstance(bound, tuple) else (f">= {bound:g}", lambda v, _: v >= bound)
    try:
        met = meets(value := read(record := json.loads(path.read_text())), record)
    except (OSError, ValueError, KeyError, TypeError) as err:  # a figure missing, not a crash
        value, met = None, f"no figure: {err!r}"
    return {"figure": figure, "goal": goal, "value": value, "met": met}


def table(records: list[dict]) -> str:
    lines = [f"{'part':<17} {'status':<8} {'s':>5}  {'figure':<44} {'value':>8}  goal"]
    for r in records:
        h = r.get("headline", {})
        shown = f"{h['value']:8.3f}" if isinstance(h.get("value"), float) else str(h.get("value"))
        mark = {True: ": met", False: ": NOT MET"}.get(h.get("met"), "")
        what = h.get("figure") or r.get("reason") or " ".join(r.get("stderr", [])[-1:])[:44]
        lines.append(f"{r['part']:<17} {r['status']:<8} {r.get('seconds', 0):5.0f}  "
                     f"{what:<44} {shown if h else '':>8}  {h.get('goal', '')}{mark}")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "results" / f"gpu-{date.today()}")
    parser.add_argument("--data", type=Path, help="a folder data set (default: synthetic)")
    parser.add_argument("--budget-s", type=float, default=540, help="the whole call's seconds")
    parser.add_argument("--parts", type=lambda v: v.split(","), default=list(PARTS), help="a,b")
    parser.add_argument("--limits", default="", help="part=seconds,... instead of its share")
    parser.add_argument("--tiny", action="store_true", help="tiny models and sizes: a CPU check")
    args = parser.parse_args(argv)
    parts, limits = args.parts, dict(p.split("=") for p in args.limits.split(",") if p)
    if unknown := (set(parts) | set(limits)) - set(PARTS):
        parser.error(f"unknown parts {sorted(unknown)}; the parts: {','.join(PARTS)}")
    deadline = (started := time.perf_counter()) + args.budget_s - 10  # 10 s for the summary
    args.out.mkdir(parents=True, exist_ok=True)
    call = Call(args.out, Path(tempfile.mkdtemp(prefix="bench-gpu-")), args.tiny, args.data)
    summary = {"command": "python benchmarks/gpu.py " + shlex.join(argv or sys.argv[1:]),
               "date": f"{date.today()}", "tiny": args.tiny, "budget_s": args.budget_s, "parts": []}
    try:
        if {"inference", "features", "suite", "data_memory"} & set(parts):
            call.dataset()  # written before the time is shared out, so inside the budget
        for i, part in enumerate(parts):
            share = PARTS[part][0] / sum(PARTS[p][0] for p in parts[i:])
            limit = float(limits.get(part, (deadline - time.perf_counter()) * share))
            record = {"part": part, **run_part(call, part, limit)}
            if (args.out / record.get("file", "-")).is_file():  # a cut suite keeps its figures
                record["headline"] = headline(part, args.out / record["file"])
            summary["parts"].append(record)
            summary["seconds"] = round(time.perf_counter() - started, 1)
            (args.out / "summary.json").write_text(json.dumps(summary, indent=2))  # at each
            print(f"[{part}] {record['status']} (limit {limit:.0f} s)", flush=True)
    finally:
        shutil.rmtree(call.scratch, ignore_errors=True)
    print(f"\n{table(summary['parts'])}\n\n{args.out / 'summary.json'}, {summary['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
