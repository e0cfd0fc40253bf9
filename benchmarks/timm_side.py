"""timm's side of benchmarks/throughput.py, in a process without TensorFlow: training and
inference images per second of a timm model (or any PyTorch module), timed like timm's own
benchmark. Prints one JSON line: {"train": ..., "infer": ...}.

    python benchmarks/timm_side.py resnet50 --batch-size 128 --steps 20 --precision mixed
    python benchmarks/timm_side.py resnet50 --compile     # under torch.compile
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def synthetic(count: int, classes: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The same CIFAR-sized uint8 images and labels throughput.py gives the harness."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8), rng.integers(0, classes, count)


def torch_rates(net, args) -> dict:
    """Training and inference images per second of a PyTorch model, timed like timm's own
    benchmark: warm-up steps, then `args.steps` batches between device synchronisations."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    device = "cuda" if torch.cuda.is_available() else "cpu"
    net = net.to(device)
    if device == "cuda":
        net = net.to(memory_format=torch.channels_last)
    model = torch.compile(net) if getattr(args, "compile", False) else net
    mixed = args.precision == "mixed"
    dtype = torch.float16 if device == "cuda" else torch.bfloat16
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)
    scaler = torch.amp.GradScaler(enabled=mixed and device == "cuda")
    x, y = synthetic(args.batch_size)
    images = torch.from_numpy(x).to(device).permute(0, 3, 1, 2)
    labels = torch.from_numpy(y).to(device)

    def batch():  # uint8 32x32 in, resized on the device, as the harness does
        return F.interpolate(
            images.float(), size=args.image_size, mode="bilinear", align_corners=False
        )

    def train_step():
        with torch.autocast(device, dtype=dtype, enabled=mixed):
            loss = F.cross_entropy(model(batch()), labels)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    def infer_step():
        with torch.no_grad(), torch.autocast(device, dtype=dtype, enabled=mixed):
            model(batch())

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    rates = {}
    for mode, step in (("train", train_step), ("infer", infer_step)):
        net.train(mode == "train")
        for _ in range(3):  # warm-up: cuDNN autotuning, allocator, torch.compile
            step()
        sync()
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        sync()
        rates[mode] = args.batch_size * args.steps / (time.perf_counter() - start)
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a timm model name, e.g. resnet50")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--precision", choices=["float32", "mixed"], default="float32")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--compile", action="store_true", help="run the model under torch.compile")
    args = parser.parse_args(argv)
    try:
        import timm
    except (ImportError, RuntimeError) as err:  # e.g. a torchvision built for another torch
        print(f"timm cannot be imported: {err}", file=sys.stderr)
        return 1
    net = timm.create_model(args.model, pretrained=False, num_classes=10)
    print(json.dumps(torch_rates(net, args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
