"""Training and inference images per second of the harness, and of timm on the same device.

For ResNet50, MobileNetV2 and EfficientNetB0 at 224 (inputs CIFAR-sized, 32x32 uint8, resized inside
the model, as the protocol does), the harness's figures come from its own code path:
`bench.training.phases.run_phase` in the `scratch` phase (the whole network trains, like timm's
train benchmark), `time_per_epoch_s` over the epochs after the first, and `infer_images_per_s`. When
PyTorch and timm are importable, timm's same architectures train and infer in the same run on the
same device, batch size and precision (inputs resized on the device too); the ratio harness / timm
is printed per model and mode. `--augment` measures the harness with the protocol's default
augmentation on (timm's side never augments); `--timm-compile` adds timm under torch.compile beside
timm eager.

    python benchmarks/throughput.py                                  # current Keras backend
    KERAS_BACKEND=jax python benchmarks/throughput.py --precision mixed --augment --save FILE
    KERAS_BACKEND=torch python benchmarks/throughput.py --jit --timm-compile
    python benchmarks/throughput.py --models MobileNetV2 --batch-size 16 --steps 4   # a CPU

Goals (GPU): harness training at least 1.0 of timm eager with augmentation on (JAX, float32
and mixed); on the torch backend at least 0.8 of timm eager.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


from bench.models import registry  # noqa: E402
from bench.models.classifier import build_classifier  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from common import save, train_synthetic  # noqa: E402

TIMM_NAMES = {
    "ResNet50": "resnet50",
    "MobileNetV2": "mobilenetv2_100",
    "EfficientNetB0": "efficientnet_b0",
}


def harness(model: str, args) -> dict:
    """Images per second as the harness measures and records them."""
    spec = registry.get(model)
    build = lambda: build_classifier(  # noqa: E731
        spec, (32, 32, 3), 10, image_size=args.image_size, weights="none", augment=args.augment
    )
    result = train_synthetic(build, args, augment=args.augment)
    count = args.batch_size * args.steps
    return {"train": count / result.time_per_epoch_s, "infer": result.infer_images_per_s}


def timm_rates(model: str, args, compiled: bool = False) -> dict | None:
    """timm's same architecture, same device, batch size and precision, measured by
    timm_side.py in a process of its own: PyTorch and TensorFlow abort when loaded together,
    and the two frameworks must not share the GPU's memory. None without timm."""
    if model not in TIMM_NAMES or importlib.util.find_spec("timm") is None:
        print(f"timm side not measured (no timm, or no timm {model}): harness figures only")
        return None
    command = [sys.executable, str(Path(__file__).with_name("timm_side.py")), TIMM_NAMES[model]]
    command += ["--batch-size", str(args.batch_size), "--steps", str(args.steps)]
    command += ["--precision", args.precision, "--image-size", str(args.image_size)]
    command += ["--compile"] if compiled else []
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"timm side not measured ({reason}): harness figures only", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="ResNet50,MobileNetV2,EfficientNetB0")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20, help="timed batches per epoch")
    parser.add_argument("--epochs", type=int, default=3, help="harness epochs (first untimed)")
    parser.add_argument("--precision", choices=["float32", "mixed"], default="float32")
    parser.add_argument("--image-size", type=int, default=224, help="resize to (default 224)")
    parser.add_argument("--jit", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument(
        "--augment", action="store_true", help="the harness with its default augmentation on"
    )
    parser.add_argument("--timm-compile", action="store_true", help="also timm under torch.compile")
    parser.add_argument("--save", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)

    rows = []
    for model in args.models.split(","):
        ours, theirs = harness(model, args), timm_rates(model, args)
        row = {"model": model, "harness": ours, "timm": theirs}
        if theirs:
            row["ratio"] = {mode: ours[mode] / theirs[mode] for mode in ours}
        compiled = timm_rates(model, args, compiled=True) if args.timm_compile else None
        if compiled:
            row["timm_compiled"] = compiled
            row["ratio_compiled"] = {mode: ours[mode] / compiled[mode] for mode in ours}
        rows.append(row)
        line = f"{model:>15}: harness train {ours['train']:8.1f} img/s, infer {ours['infer']:8.1f}"
        if theirs:
            line += (
                f" | timm train {theirs['train']:8.1f}, infer {theirs['infer']:8.1f}"
                f" | ratio train {row['ratio']['train']:.2f}, infer {row['ratio']['infer']:.2f}"
            )
        if compiled:
            line += f" | vs timm compiled: train {row['ratio_compiled']['train']:.2f}"
        print(line, flush=True)
    save(args.save, __file__, argv, args, rows=rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
