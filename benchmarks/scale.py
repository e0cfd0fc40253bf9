"""The same suite with the local executor and on Ray at 1, 2 and 4 runs at a time.

Each configuration runs the whole suite from an empty results folder through `bench run`
(one process per run, or one Ray task per run) and is timed from start to end. Ray's overhead
per run is what its one-at-a-time suite takes beyond the local executor's, divided by the runs;
the speed-up is the local time over each Ray time. On a CPU, concurrency comes from giving each
run a share of the machine's cores (`--cpus-per-run`), on GPUs from one GPU per run.

    python benchmarks/scale.py --runs 8 --save benchmarks/results/scale-cpu.json
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import save  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def timed_suite(args, extra: list[str]) -> float:
    """Seconds for the suite from an empty results folder, through the bench command."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "bench", "run", "--models", args.model, "--quiet"]
        command += ["--seeds", ",".join(map(str, range(args.runs))), "--out", out]
        command += ["--dataset", args.dataset, "--weights", "none", "--image-size", "32"]
        command += ["--epochs-scratch", str(args.epochs), "--limit", str(args.limit), *extra]
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, env={**os.environ, "BENCH_OFFLINE": "1"})
        return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="simple_cnn")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--runs", type=int, default=8, help="runs in the suite (seeds)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=600, help="training images per run")
    parser.add_argument("--concurrency", default="1,2,4", help="Ray runs at a time")
    parser.add_argument("--gpus", action="store_true", help="one GPU per Ray run")
    parser.add_argument("--save", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    local = timed_suite(args, [])
    print(f"local executor: {local:.1f} s for {args.runs} runs", flush=True)
    ray: dict[int, float] = {}
    for at_once in map(int, args.concurrency.split(",")):
        share = ["--gpus-per-run", "1"] if args.gpus else ["--gpus-per-run", "0"]
        share += ["--cpus-per-run", f"{cores / at_once:g}"]
        ray[at_once] = timed_suite(args, ["--executor", "ray", *share])
        print(
            f"ray, {at_once} at a time: {ray[at_once]:.1f} s, "
            f"speed-up {local / ray[at_once]:.2f}x over local",
            flush=True,
        )
    overhead = (ray[min(ray)] - local) / args.runs
    print(f"Ray's overhead per run (one at a time against local): {overhead:.2f} s")
    save(
        args.save,
        __file__,
        argv,
        args,
        cores=cores,
        local_s=local,
        ray_s=ray,
        speedup={k: local / v for k, v in ray.items()},
        overhead_per_run_s=overhead,
    )


if __name__ == "__main__":
    main()
