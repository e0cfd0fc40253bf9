"""Memory and speed of bench's data path as the data set grows: folders of N images at one
storage size (made from a folder of class folders by resizing), each run through `bench run`
in a fresh cache, with the peak memory of the suite's process, of the run's process and of the
decoding workers polled from outside; then, in this process on the smallest folder, training
images/s from the decoded cache's view against a materialised in-memory copy (Keras's own
array feed: the path before streaming), and decoding images/s on every core against one.

    python benchmarks/data_memory.py --source DIR --sizes 2000,20000,60000 --image-size 224 \\
        --save benchmarks/results/data-memory-cpu.json

Resident memory counts the pages of the memory-mapped cache that a process has read (the page
cache, which the kernel reclaims at will); `private` is resident memory minus those file-backed
pages: what the process itself holds.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from common import save  # noqa: E402


def make_folder(source: Path, count: int, size: int, out: Path) -> Path:
    """`count` images of `source`'s class folders (taken in turn from each class), resized to
    `size` px JPEGs under `out`; made once."""
    if (out / ".done").exists():
        return out
    classes = sorted(p for p in source.rglob("*") if p.is_dir() and any(p.glob("*.jpg")))
    by_class: dict[str, list[Path]] = {}
    for folder in classes:
        by_class.setdefault(folder.name, []).extend(sorted(folder.glob("*.jpg")))
    names = sorted(by_class)
    per_class = -(-count // len(names))
    jobs = [
        (path, out / name / f"{i:05d}.jpg", size)
        for name in names
        for i, path in enumerate(by_class[name][:per_class])
    ][:count]
    if len(jobs) < count:
        raise SystemExit(f"{source} holds only {len(jobs)} images, fewer than {count}")
    for name in names:
        (out / name).mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor() as pool:
        list(pool.map(_resize, jobs, chunksize=256))
    (out / ".done").touch()
    return out


def _resize(job) -> None:
    source, target, size = job
    with Image.open(source) as image:
        image.convert("RGB").resize((size, size), Image.BILINEAR).save(target, quality=90)


class Peaks:
    """Peak resident and private memory (MiB) of a process tree, by role, polled every 0.1 s."""

    def __init__(self, root: psutil.Process):
        self.root, self.peaks, self._stop = root, {}, threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _role(self, process: psutil.Process) -> str:
        if process.pid == self.root.pid:
            return "suite"
        return "run" if "bench.execution.worker" in " ".join(process.cmdline()) else "decoder"

    def _poll(self) -> None:
        while not self._stop.wait(0.1):
            try:
                tree = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                return
            for process in tree:
                try:
                    memory, role = process.memory_info(), self._role(process)
                except psutil.Error:
                    continue
                rss, private = memory.rss / 2**20, (memory.rss - memory.shared) / 2**20
                old = self.peaks.get(role, (0.0, 0.0))
                self.peaks[role] = (max(old[0], rss), max(old[1], private))

    def __enter__(self) -> Peaks:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()


def bench_run(folder: Path, args, cache: Path, out: Path, backend: str) -> dict:
    """One `bench run` of simple_cnn on the folder, two epochs (its throughput leaves out the
    first, which compiles); its peaks and its runs.csv row."""
    command = [
        sys.executable, "-m", "bench", "run", "--quiet", "--models", "simple_cnn",
        "--dataset", f"folder:{folder}", "--weights", "none", "--epochs-scratch", "2",
        "--patience", "2",
        "--storage-size", str(args.image_size), "--image-size", str(args.model_size),
        "--batch-size", str(args.batch_size), "--backend", backend, "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "BENCH_CACHE": str(cache)}
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    with Peaks(psutil.Process(process.pid)) as peaks:
        code = process.wait()
    row = pd.read_csv(out / "runs.csv").iloc[-1] if (out / "runs.csv").exists() else {}
    figures = {f"{role}_peak_{kind}_mb": round(v[i], 1) for role, v in peaks.peaks.items()
               for i, kind in enumerate(("rss", "private"))}  # fmt: skip
    return {
        "backend": backend, "exit_code": code, "wall_s": round(time.perf_counter() - start, 1),
        **figures,
        **{k: row.get(k) for k in ("status", "train_size", "train_images_per_s",
                                    "data_wait_share", "peak_host_rss_mb", "error")},
    }  # fmt: skip


def in_process_comparison(folder: Path, args, cache: Path) -> dict:
    """Training images/s of one model on the same images: from the cache's view, and from a
    materialised copy through Keras's array feed; decoding images/s on all cores and on one."""
    os.environ["BENCH_CACHE"] = str(cache)
    import keras

    from bench.data import decoding, load_dataset
    from bench.training.batches import Batches

    paths = sorted(folder.rglob("*.jpg"))
    rates = {}
    for label, count in (("all_cores", os.cpu_count()), ("one_process", 1)):
        real = os.cpu_count
        os.cpu_count = lambda c=count: c  # noqa: B023 - workers() sizes itself from it
        try:
            target = cache / f"decode-{label}.npy"
            target.parent.mkdir(parents=True, exist_ok=True)
            shape = (len(paths), args.image_size, args.image_size, 3)
            np.lib.format.open_memmap(target, "w+", np.uint8, shape).flush()
            start = time.perf_counter()
            decoding.decode_into(paths, (args.image_size,) * 2, target, label)
            rates[f"decode_images_per_s_{label}"] = len(paths) / (time.perf_counter() - start)
            target.unlink()
        finally:
            os.cpu_count = real
    dataset = load_dataset(f"folder:{folder}", storage_size=args.image_size)
    x, y = dataset.x_train, dataset.y_train

    def model():
        keras.utils.set_random_seed(0)
        inputs = keras.Input(x.shape[1:], dtype="uint8")
        h = keras.layers.Resizing(args.model_size, args.model_size)(
            keras.ops.cast(inputs, "float32")
        )
        h = keras.layers.Conv2D(32, 3, activation="relu")(h)
        h = keras.layers.GlobalAveragePooling2D()(h)
        m = keras.Model(inputs, keras.layers.Dense(dataset.num_classes)(h))
        m.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return m

    def rate(fit) -> float:
        fit(epochs=1)  # compiles
        start = time.perf_counter()
        fit(epochs=2)
        return 2 * len(y) / (time.perf_counter() - start)

    copy = np.asarray(x)
    feeds = {  # the same model and images: Keras's own array feed, and bench's batches
        "in_memory": lambda m, epochs: m.fit(
            copy, y, batch_size=args.batch_size, epochs=epochs, shuffle=True, verbose=0
        ),
        "view": lambda m, epochs: m.fit(
            Batches(x, y, args.batch_size, seed=0), epochs=epochs, verbose=0
        ),
    }
    measured = {name: [] for name in feeds}
    for _ in range(args.repeats):  # alternated, so a slow spell of the machine hits both
        for name, fit in feeds.items():
            m = model()
            measured[name].append(rate(lambda epochs, m=m, fit=fit: fit(m, epochs)))
    median = {name: float(np.median(values)) for name, values in measured.items()}
    return {
        **{k: round(v, 1) for k, v in rates.items()},
        "decode_speedup": round(rates["decode_images_per_s_all_cores"]
                                / rates["decode_images_per_s_one_process"], 2),
        "train_images": len(y),
        "train_images_per_s_in_memory": round(median["in_memory"], 1),
        "train_images_per_s_view": round(median["view"], 1),
        "view_over_in_memory": round(median["view"] / median["in_memory"], 3),
        "each_repeat": {name: [round(v, 1) for v in values] for name, values in measured.items()},
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, required=True, help="a folder of class folders")
    parser.add_argument("--sizes", default="2000,20000,60000", help="images per folder")
    parser.add_argument("--image-size", type=int, default=224, help="storage size (px)")
    parser.add_argument("--model-size", type=int, default=32, help="the model's input size")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="of the in-process comparison")
    parser.add_argument("--backends", default=os.environ.get("KERAS_BACKEND", "tensorflow"))
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "data-memory")
    parser.add_argument(
        "--as-is", action="store_true", help="run on --source itself (its own images and layout)"
    )
    parser.add_argument("--save", help="write the figures as JSON here")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    folders = {
        count: args.source
        if args.as_is
        else make_folder(
            args.source, count, args.image_size, args.work / f"{count}-{args.image_size}px"
        )
        for count in ([len(list(args.source.rglob("*.jpg")))] if args.as_is else sizes)
    }
    rows = []
    for count, folder in folders.items():
        for backend in args.backends.split(","):
            with tempfile.TemporaryDirectory(dir=args.work) as scratch:
                row = bench_run(
                    folder, args, Path(scratch) / "cache", Path(scratch) / "out", backend
                )
            rows.append({"images": count, **row})
            print(rows[-1], flush=True)
    with tempfile.TemporaryDirectory(dir=args.work) as scratch:
        comparison = in_process_comparison(
            next(iter(folders.values())), args, Path(scratch) / "cache"
        )
    print(comparison)
    save(args.save, __file__, argv, args, runs=rows, in_process=comparison)


if __name__ == "__main__":
    main()
