"""The cost of a model: multiply-accumulates (MACs) of one forward pass of one image.

timm's convention (its `benchmark.py`, through DeepSpeed's or fvcore's profiler): one MAC per
multiply-add of a convolution or a dense layer; bias additions,
normalization, activations, pooling, resizing and preprocessing are elementwise and count
nothing. The count walks the Keras graph and reads each layer's input and output shapes, so it
needs no backend profiler and gives the same figure on TensorFlow, JAX and PyTorch.

A layer that calls layers of its own inside its `call` (a KerasHub transformer block) has no
graph to walk: it runs once on zeros of one image, with those calls recorded. Keras's
`MultiHeadAttention` also counts its attention products (queries x keys, weights x values);
the bare matrix products of other attention layers (Swin's, DINOv3's) count nothing.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import keras
from keras import layers

from bench.errors import BenchError

log = logging.getLogger("bench")


def gmacs(model: keras.Layer) -> float:
    """Giga-MACs of one forward pass of one image through `model`."""
    return macs(model) / 1e9


def macs(model: keras.Layer) -> int:
    return sum(layer_macs(op, node) for op, node in _graph_nodes(model))


def _graph_nodes(model: keras.Layer) -> Iterator[tuple[keras.Layer, object]]:
    """(layer, node) for every call in the model's graph, nested models and wrappers included."""
    if isinstance(model, keras.Sequential):
        model = model._functional  # a built Sequential keeps its graph here
    if isinstance(model, keras.Model) and hasattr(model, "_nodes_by_depth"):
        for nodes in model._nodes_by_depth.values():
            for node in nodes:
                yield node.operation, node
        return
    # A custom layer wrapping models (bench.models.layers.Backbone): count the models inside it.
    for inner in model._flatten_layers(include_self=False, recursive=False):
        if isinstance(inner, keras.Model):
            yield from _graph_nodes(inner)


def layer_macs(layer: keras.Layer, node) -> int:
    """MACs of one call of `layer` (batch dimension excluded)."""
    formula = _own_formula(layer)
    if formula is not None:
        inputs = [tuple(t.shape[1:]) for t in node.input_tensors]
        output = tuple(node.output_tensors[0].shape[1:])
        if None in output or None in inputs[0]:
            raise BenchError(f"cannot count MACs of {layer.name}: its input size is not fixed")
        return formula(layer, inputs, output)
    if not isinstance(layer, keras.Layer):
        return 0  # a bare keras.ops operation such as x * y: elementwise
    if isinstance(layer, keras.Model) or _nested_models(layer):  # a wrapper such as Backbone
        return macs(layer)
    return _traced_macs(layer, node)  # 0 for elementwise layers: nothing inside to count


def _nested_models(layer: keras.Layer) -> bool:
    inner = layer._flatten_layers(include_self=False, recursive=False)
    return any(isinstance(part, keras.Model) for part in inner)


def _traced_macs(layer: keras.Layer, node) -> int:
    """MACs of a layer that calls layers of its own inside its `call` (a transformer block
    of KerasHub's: its Dense layers are no nodes of any graph). It runs once, on zeros of one
    image, with each call of those layers recorded with its shapes."""
    counted = [
        part
        for part in layer._flatten_layers(include_self=False)
        if _own_formula(part) or isinstance(part, layers.MultiHeadAttention)
    ]
    if not counted:
        return 0
    calls: list[tuple[keras.Layer, list, tuple]] = []
    for part in counted:
        part.call = _recording(part, part.call, calls)  # shadows the method, for this run
    try:
        args, kwargs = node.arguments.fill_in({id(t): _zeros(layer, t) for t in node.input_tensors})
        layer(*args, **kwargs)
    except BenchError:
        raise
    except Exception as err:  # noqa: BLE001 - a layer that zeros do not suit: its run goes on
        log.warning("GMACs leave out %s, which cannot run on zeros: %s", layer.name, err)
        return 0
    finally:
        for part in counted:
            vars(part).pop("call", None)
    return sum(_call_macs(part, inputs, output) for part, inputs, output in calls)


def _zeros(layer: keras.Layer, tensor):
    if None in tensor.shape[1:]:
        raise BenchError(f"cannot count MACs of {layer.name}: its input size is not fixed")
    return keras.ops.zeros((1, *tensor.shape[1:]), tensor.dtype)


def _recording(part: keras.Layer, call, calls: list):
    def recorded(*args, **kwargs):
        outputs = call(*args, **kwargs)
        tensors = [a for a in keras.tree.flatten((args, kwargs)) if hasattr(a, "shape")]
        output = keras.tree.flatten(outputs)[0]
        calls.append((part, [tuple(t.shape[1:]) for t in tensors], tuple(output.shape[1:])))
        return outputs

    return recorded


def _call_macs(part: keras.Layer, inputs: list, output: tuple) -> int:
    if isinstance(part, layers.MultiHeadAttention):  # its projections are counted as layers
        return _attention_products(part, inputs)
    return _own_formula(part)(part, inputs, output)


def _attention_products(layer, inputs) -> int:
    """Query times keys, and the attention times values: heads x queries x keys x depth."""
    queries, keys = math.prod(inputs[0][:-1]), math.prod(inputs[1][:-1])
    depth = layer.key_dim + (layer.value_dim or layer.key_dim)
    return layer.num_heads * queries * keys * depth


def _conv(layer, inputs, output) -> int:
    in_channels = inputs[0][-1] if layer.data_format == "channels_last" else inputs[0][0]
    return math.prod(output) * math.prod(layer.kernel_size) * in_channels // layer.groups


def _conv_transpose(layer, inputs, output) -> int:
    out_channels = output[-1] if layer.data_format == "channels_last" else output[0]
    return math.prod(inputs[0]) * math.prod(layer.kernel_size) * out_channels


def _depthwise(layer, inputs, output) -> int:
    return math.prod(output) * math.prod(layer.kernel_size)


def _separable(layer, inputs, output) -> int:
    channels_last = layer.data_format == "channels_last"
    in_channels = inputs[0][-1] if channels_last else inputs[0][0]
    spatial = output[:-1] if channels_last else output[1:]
    depthwise = math.prod(spatial) * in_channels * layer.depth_multiplier
    return depthwise * math.prod(layer.kernel_size) + depthwise * layer.filters


def _dense(layer, inputs, output) -> int:
    return math.prod(output) * inputs[0][-1]


def _einsum_dense(layer, inputs, output) -> int:
    """Each output times the kernel dimensions it sums over (those not in the output)."""
    operands, out_letters = layer.equation.split("->")
    kernel_letters = operands.split(",")[1]
    dims = zip(kernel_letters, layer.kernel.shape, strict=True)
    summed = [n for letter, n in dims if letter not in out_letters]
    return math.prod(output) * math.prod(summed)


# Checked in order: SeparableConv and DepthwiseConv are not Conv subclasses in Keras 3, but
# Conv2DTranspose is, so it comes first.
_FORMULAS = [
    (layers.Conv1DTranspose, _conv_transpose),
    (layers.Conv2DTranspose, _conv_transpose),
    (layers.Conv3DTranspose, _conv_transpose),
    (layers.SeparableConv1D, _separable),
    (layers.SeparableConv2D, _separable),
    (layers.DepthwiseConv1D, _depthwise),
    (layers.DepthwiseConv2D, _depthwise),
    (layers.Conv1D, _conv),
    (layers.Conv2D, _conv),
    (layers.Conv3D, _conv),
    (layers.Dense, _dense),
    (layers.EinsumDense, _einsum_dense),
]


def _own_formula(layer: keras.Layer):
    for kind, formula in _FORMULAS:
        if isinstance(layer, kind):
            return formula
    return None
