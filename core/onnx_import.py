"""Import ONNX files of MLPs: MLP Studio's own exports and `torch.onnx.export` of an
`nn.Sequential` of Linear and activation layers.

The file is read with the onnx library as data (the graph's nodes and its initializers); it is
never run. An MLP Studio export carries its description (spec, normalization, class names) in
metadata_props, and its weights are found by name. Any other graph is followed node by node
from its input: Gemm/MatMul(+Add) are Dense layers, BatchNormalization, the element-wise
activations (Relu, Sigmoid, Tanh, LeakyRelu, Elu, Softplus, Gelu and torch's erf form of it,
SiLU as x * Sigmoid(x), Selu, Softsign, HardSigmoid, Mish), Softmax at the end, Flatten/Identity/
Dropout passed through, and Sub/Div/Mul/Add by constants before the first layer as the input
normalization. Any other node is refused by name.
"""

from pathlib import Path

import numpy as np
import torch
from mlp_studio.core.errors import DataFormatError, ExportError
from mlp_studio.core.export import METADATA_KEY, ModelBundle, bundle_from_metadata
from mlp_studio.core.foreign_layers import (
    Act,
    BatchNorm,
    Dense,
    Hints,
    Layer,
    Scale,
    assemble,
    existing_file,
)
from mlp_studio.core.limits import MAX_ONNX_BYTES
from mlp_studio.core.reading import loads_json, read_regular

_ELEMENTWISE = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Softplus": "softplus",
                "Gelu": "gelu", "Selu": "selu", "Softsign": "softsign", "Mish": "mish",
                "Softmax": "softmax", "LogSoftmax": "log_softmax"}
_PASS = ("Flatten", "Identity", "Dropout")


def import_onnx(path: str | Path, input_range: str | None = None) -> ModelBundle:
    """An ONNX file as a studio model (ExportError naming the node that is not an MLP's)."""
    path = existing_file(path)
    source = str(path)
    try:
        import onnx
    except ImportError:
        raise ExportError(
            f"Cannot open {source}: reading ONNX files needs the onnx package. Install it "
            "with `pip install onnx`."
        ) from None
    try:
        # Bounded: the onnx library reads a whole file into memory (and a FIFO would block).
        proto = onnx.load_from_string(read_regular(path, MAX_ONNX_BYTES, "model file"))
    except DataFormatError as err:
        raise ExportError(str(err)) from None
    except Exception as err:  # protobuf raises its own DecodeError types
        raise ExportError(f"Cannot open {source}: it is not a valid ONNX file ({err}).") from None
    try:
        graph = _Graph(proto)
        meta = {p.key: p.value for p in proto.metadata_props}.get(METADATA_KEY)
        if meta is not None:
            bundle = _own_export(graph, meta, source)
            if bundle is not None:
                return bundle
        layers = graph.layers()
    except ExportError as err:
        raise ExportError(f"Cannot open {source}: {err}.") from None
    return assemble(layers, Hints(), input_range, source)


def _own_export(graph: "_Graph", text: str, source: str) -> ModelBundle | None:
    """The model an MLP Studio export describes, its weights taken by name; None if the
    description does not fit the graph (then the graph itself is read)."""
    try:
        meta = loads_json(text)
    except ValueError:
        return None
    state = {}
    for name in graph.names():
        if name.startswith("model.net."):
            value = graph.constant(name)
            if value is not None:
                state[name.removeprefix("model.")] = torch.from_numpy(
                    np.array(value, np.float32))
    for key in [k for k in state if k.endswith(".running_mean")]:
        # torch.onnx does not export the batch counter, which only training uses
        state[key.replace("running_mean", "num_batches_tracked")] = torch.tensor(0)
    try:
        return bundle_from_metadata(meta, state, source)
    except ExportError:
        return None


class _Graph:
    def __init__(self, proto) -> None:
        from onnx import numpy_helper

        graph = proto.graph
        self.constants: dict[str, np.ndarray] = {}
        for tensor in graph.initializer:
            if tensor.data_location == 1:  # EXTERNAL: weights in another file
                raise ExportError(
                    f"its weight '{tensor.name}' is stored in a separate file; save the model "
                    "as one .onnx file"
                )
            self.constants[tensor.name] = numpy_helper.to_array(tensor)
        self.nodes = list(graph.node)
        for node in self.nodes:
            if node.op_type == "Constant":
                for attr in node.attribute:
                    if attr.name == "value":
                        self.constants[node.output[0]] = numpy_helper.to_array(attr.t)
                    elif attr.name in ("value_float", "value_int"):
                        self.constants[node.output[0]] = np.asarray(
                            attr.f if attr.name == "value_float" else attr.i)
        # Identity of a constant is the same constant (torch de-duplicates shared weights so)
        for node in self.nodes:
            if node.op_type == "Identity" and node.input[0] in self.constants:
                self.constants[node.output[0]] = self.constants[node.input[0]]
        self.consumers: dict[str, list] = {}
        for node in self.nodes:
            if node.op_type == "Constant" or (
                    node.op_type == "Identity" and node.input[0] in self.constants):
                continue
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        inputs = [i.name for i in graph.input if i.name not in self.constants]
        if len(inputs) != 1:
            raise ExportError(f"it has {len(inputs)} inputs; an MLP has one")
        self.input = inputs[0]
        self.outputs = [o.name for o in graph.output]
        if len(self.outputs) != 1:
            raise ExportError(f"it has {len(self.outputs)} outputs; an MLP has one")

    def names(self) -> list[str]:
        return list(self.constants)

    def constant(self, name: str) -> np.ndarray | None:
        return self.constants.get(name)

    def layers(self) -> list[Layer]:
        out: list[Layer] = []
        current = self.input
        while current != self.outputs[0]:
            nodes = self.consumers.get(current, [])
            if not nodes:
                raise ExportError(f"its tensor '{current}' leads nowhere")
            if len(nodes) == 1:
                current = self._one(nodes[0], current, out)
            else:
                current = self._branch(nodes, current, out)
        return out

    def _attr(self, node, name: str, default=None):
        from onnx import helper

        for attr in node.attribute:
            if attr.name == name:
                return helper.get_attribute_value(attr)
        return default

    def _const_input(self, node, current: str) -> np.ndarray:
        others = [n for n in node.input if n != current]
        if len(others) != 1 or others[0] not in self.constants:
            raise _refuse(node, "it combines tensors that are not weights")
        return np.asarray(self.constants[others[0]], np.float64)

    def _only_consumer(self, name: str):
        nodes = self.consumers.get(name, [])
        return nodes[0] if len(nodes) == 1 else None

    def _one(self, node, current: str, out: list[Layer]) -> str:
        op, name = node.op_type, node.name or node.op_type
        dense_seen = any(isinstance(layer, Dense) for layer in out)
        if op in _PASS:
            if op == "Flatten" and self._attr(node, "axis", 1) != 1:
                raise _refuse(node, "it flattens another axis than the batch's")
            return node.output[0]
        if op == "Gemm":
            if self._attr(node, "transA", 0):
                raise _refuse(node, "it transposes its input")
            weight = self._weight(node, 1)
            weight = weight if self._attr(node, "transB", 0) else weight.T
            weight = weight * float(self._attr(node, "alpha", 1.0))
            bias = (self._weight(node, 2) * float(self._attr(node, "beta", 1.0))
                    if len(node.input) > 2 and node.input[2] else np.zeros(weight.shape[0]))
            out.append(Dense(weight, np.broadcast_to(bias, weight.shape[:1]).copy(), name))
            return node.output[0]
        if op == "MatMul":
            weight = self._weight(node, 1).T
            after = self._only_consumer(node.output[0])
            if after is not None and after.op_type == "Add":
                bias = self._const_input(after, node.output[0])
                out.append(Dense(weight, np.broadcast_to(bias, weight.shape[:1]).copy(), name))
                return after.output[0]
            out.append(Dense(weight, np.zeros(weight.shape[0]), name))
            return node.output[0]
        if op in ("Sub", "Div", "Add", "Mul") and not dense_seen and node.input[0] == current:
            value = self._const_input(node, current)
            ones, zeros = np.ones_like(value), np.zeros_like(value)
            mean, std = {"Sub": (value, ones), "Add": (-value, ones), "Div": (zeros, value),
                         "Mul": (zeros, 1 / np.where(value == 0, np.nan, value))}[op]
            out.append(Scale(mean.reshape(-1), std.reshape(-1), name))
            return node.output[0]
        if op == "BatchNormalization":
            gamma, beta, mean, var = (self._weight(node, i) for i in range(1, 5))
            out.append(BatchNorm(gamma, beta, mean, var, float(self._attr(node, "epsilon", 1e-5)),
                                 name))
            return node.output[0]
        if op == "LeakyRelu":
            out.append(Act("leaky_relu", name, float(self._attr(node, "alpha", 0.01))))
            return node.output[0]
        if op == "Elu":
            if abs(float(self._attr(node, "alpha", 1.0)) - 1.0) > 1e-6:
                raise _refuse(node, "its alpha is not 1")
            out.append(Act("elu", name))
            return node.output[0]
        if op == "HardSigmoid":
            alpha = float(self._attr(node, "alpha", 0.2))
            beta = float(self._attr(node, "beta", 0.5))
            if abs(alpha - 1 / 6) > 1e-6 or abs(beta - 0.5) > 1e-6:
                raise _refuse(node, "only torch's and Keras' hard sigmoid (x/6 + 1/2) maps")
            out.append(Act("hard_sigmoid", name))
            return node.output[0]
        if op == "Gelu" and self._attr(node, "approximate", "none") not in ("none", b"none"):
            raise _refuse(node, "it is the tanh approximation of GELU")
        if op in _ELEMENTWISE:
            if op in ("Softmax", "LogSoftmax") and self._attr(node, "axis", -1) not in (-1, 1):
                raise _refuse(node, "it is not over the classes")
            kind = _ELEMENTWISE[op]
            out.append(Act("softmax" if kind == "log_softmax" else kind, name))
            return node.output[0]
        raise _refuse(node, "")

    def _branch(self, nodes, current: str, out: list[Layer]) -> str:
        """x used twice: SiLU (x * sigmoid(x)) or torch's exact GELU (x * (1 + erf(x/√2)) / 2)."""
        ops = sorted(n.op_type for n in nodes)
        mul = next((n for n in nodes if n.op_type == "Mul"), None)
        other = next((n for n in nodes if n is not mul), None)
        if mul is None or other is None or len(nodes) != 2:
            raise _refuse(nodes[0], f"its input also feeds {', '.join(ops)}")
        name = other.name or other.op_type
        if other.op_type == "Sigmoid" and set(mul.input) == {current, other.output[0]}:
            out.append(Act("silu", name))
            return mul.output[0]
        if other.op_type == "Div":
            erf = self._only_consumer(other.output[0])
            add = erf and self._only_consumer(erf.output[0])
            half = self._only_consumer(mul.output[0])
            if (erf is not None and erf.op_type == "Erf" and add is not None
                    and add.op_type == "Add" and add.output[0] in mul.input
                    and np.allclose(self._const_input(other, current), np.sqrt(2), rtol=1e-6)
                    and np.allclose(self._const_input(add, erf.output[0]), 1.0)
                    and half is not None and half.op_type == "Mul"
                    and np.allclose(self._const_input(half, mul.output[0]), 0.5)):
                out.append(Act("gelu", name))
                return half.output[0]
        raise _refuse(other, f"its input also feeds {', '.join(ops)}")

    def _weight(self, node, index: int) -> np.ndarray:
        if index >= len(node.input) or node.input[index] not in self.constants:
            raise _refuse(node, "its weights are not constants")
        return np.asarray(self.constants[node.input[index]], np.float64)


def _refuse(node, why: str) -> ExportError:
    detail = f": {why}" if why else ""
    return ExportError(
        f"its node '{node.name or node.op_type}' ({node.op_type}) is not part of an MLP{detail}. "
        "MLP Studio imports ONNX files of fully connected layers (Gemm or MatMul + Add) with "
        "element-wise activations, such as torch.onnx.export of an nn.Sequential of Linear "
        "and activation layers"
    )

