"""A plain list of layers read from another framework's file, and the studio model it becomes.

The Keras and ONNX importers only parse their files (zip/JSON/HDF5, protobuf) into the small
records below; `assemble` checks that they form an MLP the studio can build (Dense ->
[BatchNorm] -> activation -> [Dropout], ..., Dense -> head) and turns them into a normal
ModelBundle: NetworkSpec, state_dict, normalization, loss and class names. Nothing from a file
is ever executed.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from mlp_studio.core.activations import ActivationSpec
from mlp_studio.core.data import Normalization
from mlp_studio.core.errors import ExportError, SpecError
from mlp_studio.core.export import IMAGE_INPUTS, ModelBundle, check_weights
from mlp_studio.core.losses import canonical_loss
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.reading import existing_file as reading_existing_file

INPUT_RANGES = ("raw", "unit")
TORCH_BN_EPS = 1e-5  # nn.BatchNorm1d's epsilon: other epsilons are folded into the variance

# Keras/ONNX activations the studio has no button for, written as studio formulas (exact;
# the Keras exporter maps these texts back to the Keras names, so they survive a round trip).
FORMULAS = {
    "selu": "where(x > 0, 1.0507009873554805*x, 1.7580993408473766*(exp(min(x, 0)) - 1))",
    "softsign": "x / (1 + abs(x))",
    "mish": "x * tanh(softplus(x))",
    "relu6": "clamp(x, 0, 6)",
    "hard_sigmoid": "clamp(x/6 + 0.5, 0, 1)",
    "hard_silu": "x * clamp(x/6 + 0.5, 0, 1)",
    "exponential": "exp(x)",
    "celu": "max(x, 0) + min(exp(x) - 1, 0)",
    "log_sigmoid": "-softplus(-x)",
    "tanh_shrink": "x - tanh(x)",
    "hard_tanh": "clamp(x, -1, 1)",
    "squareplus": "(x + sqrt(x^2 + 4)) / 2",
    "soft_shrink": "where(x > 0.5, x - 0.5, where(x < -0.5, x + 0.5, 0))",
    "hard_shrink": "where(abs(x) > 0.5, x, 0)",
}
# Names the studio has itself (Keras spellings included).
BUILT_IN = {
    "linear": "identity", "identity": "identity", "sigmoid": "sigmoid", "tanh": "tanh",
    "relu": "relu", "elu": "elu", "gelu": "gelu", "silu": "silu", "swish": "silu",
    "softplus": "softplus",
}


class InputRangeNeeded(ExportError):
    """The file does not say whether it takes raw pixels 0-255 or unit-range 0-1 inputs."""


@dataclass
class Scale:
    """y = (x - mean) / std, element-wise (a Rescaling or Normalization layer, Sub/Div)."""

    mean: np.ndarray
    std: np.ndarray
    name: str


@dataclass
class Dense:
    weight: np.ndarray  # [out, in], torch's orientation
    bias: np.ndarray  # [out]
    name: str


@dataclass
class BatchNorm:
    gamma: np.ndarray
    beta: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    eps: float
    name: str


@dataclass
class Act:
    """An element-wise activation (Keras name), or "softmax"/"maxout:K" (layer-wise)."""

    kind: str
    name: str
    slope: float = 0.0  # leaky_relu


@dataclass
class Drop:
    rate: float
    name: str


@dataclass
class Hints:
    """What a file says beyond its layers."""

    loss: str | None = None  # a studio loss name, when the file names its training loss
    from_logits: bool | None = None
    class_names: list[str] = field(default_factory=list)


Layer = Scale | Dense | BatchNorm | Act | Drop


def existing_file(path: str | Path) -> Path:
    """`path` as a Path; ExportError when it is a folder or does not exist."""
    return reading_existing_file(path, ExportError, "a model file")


def activation_spec(kind: str, slope: float, where: str) -> ActivationSpec:
    """The studio activation for a Keras/ONNX activation name; ExportError naming `where`."""
    if kind in BUILT_IN:
        return ActivationSpec(BUILT_IN[kind])
    if kind == "leaky_relu":
        return ActivationSpec("leaky_relu", slope=float(slope))
    if kind in FORMULAS:
        return ActivationSpec("custom", formula=FORMULAS[kind])
    raise ExportError(
        f"the layer '{where}' uses the activation '{kind}', which MLP Studio cannot build "
        "(it has linear, sigmoid, tanh, relu, leaky_relu, elu, gelu, silu, softplus and "
        f"{', '.join(FORMULAS)})"
    )


def _normalization(scales: list[Scale], size: int, input_range: str | None) -> Normalization:
    """Compose the leading scale steps; without any, the user's input range decides."""
    if not scales:
        if size != IMAGE_INPUTS:  # playground features: taken as they are
            return Normalization("none", np.zeros(size), np.ones(size))
        if input_range not in INPUT_RANGES:
            raise InputRangeNeeded(
                "the file does not say whether it takes raw pixels (0-255) or pixels scaled "
                "to 0-1: choose the input range (raw or unit; --input-range on the command line)"
            )
        std = 1.0 if input_range == "raw" else 255.0
        kind = "none" if input_range == "raw" else "unit"
        return Normalization(kind, np.zeros(size), np.full(size, std))
    mean, std = np.zeros(size), np.ones(size)
    for step in scales:
        if step.mean.size not in (1, size):
            raise ExportError(
                f"its layer '{step.name}' normalizes {step.mean.size} values, but the network "
                f"takes {size} inputs"
            )
        # ((x - m) / s - m2) / s2 = (x - (m + m2 s)) / (s s2)
        mean, std = mean + step.mean.astype(np.float64) * std, std * step.std.astype(np.float64)
    if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
        raise ExportError("its input normalization has zero, negative or infinite scales")
    return Normalization(_kind(mean, std), mean.astype(np.float32), std.astype(np.float32))


def _kind(mean: np.ndarray, std: np.ndarray) -> str:
    for kind, m, s in (("none", 0, 1), ("unit", 0, 255), ("symmetric", 127.5, 127.5)):
        if np.allclose(mean, m, rtol=1e-5, atol=1e-5) and np.allclose(std, s, rtol=1e-5):
            return kind
    if np.ptp(mean) == 0 and np.ptp(std) == 0:
        return "standardize"
    return "per_pixel"


def assemble(
    layers: list[Layer],
    hints: Hints,
    input_range: str | None,
    source: str,
) -> ModelBundle:
    """The studio model for a layer list; ExportError "Cannot open <source>: ..." otherwise."""
    try:
        return _assemble(layers, hints, input_range)
    except ExportError as err:
        raise type(err)(f"Cannot open {source}: {err}.") from None


def _assemble(layers: list[Layer], hints: Hints, input_range: str | None) -> ModelBundle:
    scales = []
    rest = list(layers)
    while rest and isinstance(rest[0], Scale):
        scales.append(rest.pop(0))
    groups: list[tuple[Dense, list[Layer]]] = []
    for layer in rest:
        if isinstance(layer, Dense):
            groups.append((layer, []))
        elif not groups:
            raise ExportError(f"its layer '{layer.name}' comes before the first Dense layer")
        elif isinstance(layer, Scale):
            raise ExportError(
                f"its layer '{layer.name}' rescales values between Dense layers: MLP Studio "
                "normalizes only the inputs"
            )
        else:
            groups[-1][1].append(layer)
    if not groups:
        raise ExportError("it has no Dense (fully connected) layer")
    size = groups[0][0].weight.shape[1]
    hidden, tensors = [], []
    previous = size
    for dense, after in groups[:-1]:
        layer, params = _hidden_layer(dense, after)
        if dense.weight.shape[1] != previous:
            raise ExportError(
                f"its layer '{dense.name}' takes {dense.weight.shape[1]} inputs but the layer "
                f"before gives {previous}"
            )
        hidden.append(layer)
        tensors.append(params)
        previous = layer.units
    out, after = groups[-1]
    if out.weight.shape[1] != previous:
        raise ExportError(
            f"its layer '{out.name}' takes {out.weight.shape[1]} inputs but the layer before "
            f"gives {previous}"
        )
    weight, bias, loss, task, names = _head(out, after, hints)
    tensors.append((weight, bias, None))
    normalization = _normalization(scales, size, input_range)
    spec = NetworkSpec(size, hidden, weight.shape[0], "he", 0)
    try:
        spec.validate()
    except SpecError as err:
        raise ExportError(f"it is not a network MLP Studio can build: {err}") from None
    return ModelBundle(spec, normalization, loss, names, _state_dict(spec, tensors), task)


def _hidden_layer(dense: Dense, after: list[Layer]) -> tuple[LayerSpec, tuple]:
    batch_norm, activation, dropout = None, None, 0.0
    for layer in after:
        if isinstance(layer, BatchNorm):
            if batch_norm is not None or activation is not None:
                raise ExportError(
                    f"its layer '{layer.name}' normalizes after the activation (or twice): MLP "
                    "Studio puts batch normalization between a Dense layer and its activation"
                )
            batch_norm = layer
        elif isinstance(layer, Act):
            if layer.kind in ("linear", "identity"):
                continue
            if activation is not None:
                raise ExportError(
                    f"its layer '{layer.name}' is a second activation after '{dense.name}': "
                    "MLP Studio has one activation per layer"
                )
            activation = layer
        elif isinstance(layer, Drop):
            if dropout:
                raise ExportError(f"its layer '{layer.name}' is a second dropout after one layer")
            dropout = float(layer.rate)
    width = dense.weight.shape[0]
    if activation is None:
        act = ActivationSpec("identity")
    elif activation.kind.startswith("maxout:"):
        pieces = int(activation.kind.split(":")[1])
        if width % pieces:
            raise ExportError(
                f"its layer '{activation.name}' takes the maximum of {pieces} pieces, but "
                f"'{dense.name}' has {width} outputs"
            )
        act = ActivationSpec("maxout", pieces=pieces)
    elif activation.kind == "softmax":
        raise ExportError(
            f"its layer '{activation.name}' applies softmax inside the network: MLP Studio "
            "uses softmax only at the output"
        )
    else:
        act = activation_spec(activation.kind, activation.slope, activation.name)
    units = width // act.pieces if act.name == "maxout" else width
    layer = LayerSpec(units, act, dropout, batch_norm is not None)
    return layer, (dense.weight, dense.bias, batch_norm)


def _head(out: Dense, after: list[Layer], hints: Hints):
    """The output layer's weights, and the loss/task/class names its head implies."""
    kinds = []
    for layer in after:
        if isinstance(layer, (BatchNorm, Drop)):
            raise ExportError(
                f"its layer '{layer.name}' comes after the output layer '{out.name}': MLP "
                "Studio's output layer is a plain Dense layer"
            )
        if isinstance(layer, Act) and layer.kind not in ("linear", "identity"):
            kinds.append(layer)
    names = [k.kind for k in kinds]
    weight, bias = out.weight, out.bias
    n = weight.shape[0]
    task = "classification"
    if names in (["softmax"], ["log_softmax"]):
        loss = hints.loss if _softmax_loss(hints.loss) else "sparse_categorical_cross_entropy"
    elif names in (["sigmoid"], ["log_sigmoid", "softmax"]):
        if n == 1:  # a binary classifier: [0, z] through a softmax gives [1 - s(z), s(z)]
            weight = np.concatenate([np.zeros_like(weight), weight])
            bias = np.concatenate([np.zeros_like(bias), bias])
            loss = "sparse_categorical_cross_entropy"
        else:
            loss = "binary_cross_entropy"
    elif not names:
        if n == 1 or (hints.loss in ("mse", "mae", "msle") and not hints.from_logits):
            task, loss = "regression", hints.loss if hints.loss in ("mse", "mae", "msle") else "mse"
        else:  # scores (logits): shown through a softmax, like the studio's hinge models
            loss = hints.loss if hints.loss and _softmax_loss(hints.loss) is not None else (
                "sparse_categorical_cross_entropy")
    else:
        raise ExportError(
            f"its output layer '{out.name}' ends in {' then '.join(names)}: MLP Studio's "
            "outputs end in softmax, sigmoid or nothing"
        )
    size = weight.shape[0]
    class_names = list(hints.class_names) if len(hints.class_names) == size else []
    if task == "regression":
        class_names = class_names or (["y"] if size == 1 else [f"y{i + 1}" for i in range(size)])
    class_names = class_names or [str(i) for i in range(size)]
    return weight, bias, loss, task, class_names


def _softmax_loss(loss: str | None) -> str | None:
    """`loss` when it is a studio loss whose output head is a softmax, else None."""
    from mlp_studio.core.losses import LOSSES

    if loss is None:
        return None
    name = canonical_loss(loss)
    return name if LOSSES[name].output in ("softmax", "identity") else None


def _state_dict(spec: NetworkSpec, tensors: list[tuple]) -> dict[str, torch.Tensor]:
    """Fill a fresh MLP's state_dict with the layers' weights, in order."""
    model = build_model(spec)
    linears = [m for m in model.net if isinstance(m, torch.nn.Linear)]
    norms = [m for m in model.net if isinstance(m, torch.nn.BatchNorm1d)]
    norm_index = 0
    with torch.no_grad():
        for linear, (weight, bias, bn) in zip(linears, tensors, strict=True):
            linear.weight.copy_(_tensor(weight, linear.weight.shape))
            linear.bias.copy_(_tensor(bias, linear.bias.shape))
            if bn is not None:
                norm = norms[norm_index]
                norm_index += 1
                var = np.asarray(bn.var, np.float64)
                if not np.isclose(bn.eps, TORCH_BN_EPS, rtol=1e-3):
                    var = var + bn.eps - TORCH_BN_EPS  # same (x - m) / sqrt(var + eps)
                for target, value in ((norm.weight, bn.gamma), (norm.bias, bn.beta),
                                      (norm.running_mean, bn.mean), (norm.running_var, var)):
                    target.copy_(_tensor(value, target.shape))
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    check_weights(spec, state)
    return state


def _tensor(value: np.ndarray, shape: torch.Size) -> torch.Tensor:
    array = np.asarray(value, np.float32)
    if array.size == 1 and len(shape) == 1:
        array = np.full(tuple(shape), float(array.reshape(-1)[0]), np.float32)
    if tuple(array.shape) != tuple(shape):
        raise ExportError(f"a weight of shape {list(array.shape)} where {list(shape)} is needed")
    if not np.isfinite(array).all():
        raise ExportError("its weights contain NaN or infinite values")
    return torch.from_numpy(array.copy())
