"""Backpropagation for one sample, written out step by step with the chain rule (issue 15).

For the current network and one input, every layer l = 1..L (L: the output layer) gets its
pre-activation z, activation a, and the gradients dL/da, dL/dz, dL/dW, dL/db, all in float64
numpy and computed explicitly, not by autograd:

    forward:   z^l = W^l a^(l-1) + b^l,   a^l = f(z^l)          (a^0 = x)
    output:    dL/da^L from the loss's formula, dL/dz^L = f'(z^L)^T dL/da^L
               (softmax's Jacobian diag(p) - p p^T, sigmoid's p(1 - p), identity's 1)
    backward:  dL/da^l = W^(l+1)^T dL/dz^(l+1),   dL/dz^l = dL/da^l * f'(z^l)
    weights:   dL/dW^l = dL/dz^l (a^(l-1))^T,     dL/db^l = dL/dz^l

f' is each activation's own derivative written out (sigmoid's s(1 - s), ReLU's step, ...).
A custom formula has no derivative written by hand: its f' is the formula differentiated by
torch, element by element, as the Network panel plots it; the chain above stays explicit.

The loss is the data loss of one sample as training computes it (a class weight cancels for a
single sample; an L1 penalty is not included). The network is taken in evaluation mode, so
dropout is off. Batch norm and maxout layers are not handled: SpecError says so.

`gradient_check` compares one weight's analytic gradient with central finite differences of
the engine's own forward pass and loss (core.model, core.losses) in float64.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
from mlp_studio.core.activations import ActivationSpec, parse_formula
from mlp_studio.core.errors import SpecError
from mlp_studio.core.losses import LOSSES, canonical_loss, loss_function
from mlp_studio.core.model import MLP
from mlp_studio.core.target_scaling import TargetScaling

SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
# Central differences: the truncation error (~eps^2) and the rounding error (~1e-16 / eps)
# balance near 1e-5 in float64 for losses and slopes of order 1.
FD_STEP = 1e-5


@dataclass(frozen=True)
class LayerStep:
    number: int  # l, 1..L
    label: str  # "hidden layer 1", "output layer"
    activation: str  # what f is, in words ("relu", "softmax (the loss's)")
    z: np.ndarray  # [n_l]
    a: np.ndarray  # [n_l]
    dL_da: np.ndarray  # [n_l]
    dL_dz: np.ndarray  # [n_l]
    dL_dW: np.ndarray  # [n_l, n_(l-1)]
    dL_db: np.ndarray  # [n_l]
    chain: str  # the chain-rule line that gives dL/dz^l


@dataclass(frozen=True)
class BackwardPass:
    x: np.ndarray  # a^0, [n_0]
    target: float  # the class index, or the real target (regression)
    loss: float
    loss_label: str
    layers: list[LayerStep]  # l = 1..L in forward order; the backward pass goes L..1
    # A regression with standardized targets: the output layer's a and the loss are in scaled
    # units, the loss's target is (target - mean) / std (core.target_scaling).
    scaling: TargetScaling | None = None

    def predicted(self) -> float:
        """A regression's prediction in the target's units."""
        value = float(self.layers[-1].a[0])
        if self.scaling is None:
            return value
        return value * float(self.scaling.std[0]) + float(self.scaling.mean[0])

    @property
    def backward_order(self) -> list[LayerStep]:
        return list(reversed(self.layers))


@dataclass(frozen=True)
class GradientCheck:
    layer: int  # l, 1..L
    row: int  # the neuron of layer l
    col: int  # the input from layer l - 1
    analytic: float
    numeric: float
    relative_error: float


def sup(number: int) -> str:
    return str(number).translate(SUPERSCRIPTS)


def supported_problem(model: MLP) -> str | None:
    """Why the step-by-step view cannot show this network, or None."""
    for number, layer in enumerate(model.spec.hidden, start=1):
        if layer.batch_norm:
            return (f"Hidden layer {number} uses batch norm, which the step-by-step view does "
                    "not write out: switch it off in the Network panel to follow the chain rule.")
        if layer.activation.name == "maxout":
            return (f"Hidden layer {number} is a maxout layer, which the step-by-step view does "
                    "not write out: choose another activation to follow the chain rule.")
    return None


def backward_pass(model: MLP, x: np.ndarray, target: float, loss: str,
                  task: str = "classification") -> BackwardPass:
    """Every layer's z, a and gradients for input `x` [n_0] and its `target`."""
    problem = supported_problem(model)
    if problem:
        raise SpecError(problem)
    name = canonical_loss(loss)
    weights, biases = _parameters(model)
    x = np.asarray(x, np.float64).reshape(-1)
    if x.shape[0] != weights[0].shape[1]:
        raise SpecError(f"The sample has {x.shape[0]} values but the network takes "
                        f"{weights[0].shape[1]}: pick a sample of the loaded data.")
    acts = [h.activation for h in model.spec.hidden]
    output = "identity" if task == "regression" else LOSSES[name].output

    zs, as_ = [], [x]
    for index, (w, b) in enumerate(zip(weights, biases, strict=True)):
        z = w @ as_[-1] + b
        zs.append(z)
        as_.append(_activate(acts[index], z) if index < len(acts) else _output(output, z))

    scaling = model.target_scaling if task == "regression" else None
    y = _target_vector(_loss_target(target, scaling), len(zs[-1]), task)
    loss_value, dL_da = _loss_and_grad(name, task, as_[-1], y)
    dL_dz = _output_backward(output, as_[-1], dL_da)
    count = len(weights)
    steps: list[LayerStep] = [None] * count  # filled from the output down
    steps[-1] = _step(count, "output layer", f"{output} (the loss's)", zs[-1], as_[-1], dL_da,
                      dL_dz, as_[-2], _output_chain(count, output, name, task))
    for index in range(count - 2, -1, -1):
        dL_da = weights[index + 1].T @ dL_dz
        dL_dz = dL_da * _derivative(acts[index], zs[index])
        number = index + 1
        steps[index] = _step(number, f"hidden layer {number}", _act_name(acts[index]),
                             zs[index], as_[index + 1], dL_da, dL_dz, as_[index],
                             _hidden_chain(number, acts[index]))
    label = LOSSES[name].label + (" on standardized targets" if scaling is not None else "")
    return BackwardPass(x, float(target), loss_value, label, steps, scaling)


def _loss_target(target: float, scaling: TargetScaling | None) -> float:
    """The target as the loss sees it: standardized when the model un-scales its output."""
    if scaling is None:
        return target
    return (target - float(scaling.mean[0])) / float(scaling.std[0])


def _step(number, label, activation, z, a, dL_da, dL_dz, a_prev, chain) -> LayerStep:
    return LayerStep(number, label, activation, z, a, dL_da, dL_dz, np.outer(dL_dz, a_prev),
                     dL_dz.copy(), chain)


def _parameters(model: MLP) -> tuple[list[np.ndarray], list[np.ndarray]]:
    linears = model.linears
    return ([lin.weight.detach().cpu().double().numpy().copy() for lin in linears],
            [lin.bias.detach().cpu().double().numpy().copy() for lin in linears])


def _target_vector(target: float, size: int, task: str) -> np.ndarray:
    if task == "regression":
        return np.full(size, float(target))
    if not (0 <= int(target) < size) or int(target) != target:
        raise SpecError(f"The target {target} is not one of the {size} classes.")
    y = np.zeros(size)
    y[int(target)] = 1.0
    return y


# ---- activations and their derivatives, written out ----

def _act_name(spec: ActivationSpec) -> str:
    if spec.name == "leaky_relu":
        return f"leaky_relu (slope {spec.slope:g})"
    if spec.name == "custom":
        return f"f(x) = {spec.formula.strip()}"
    return spec.name


def erf(z: np.ndarray) -> np.ndarray:
    return torch.special.erf(torch.from_numpy(np.asarray(z, np.float64))).numpy()


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * z))  # no overflow for large |z|


def _activate(spec: ActivationSpec, z: np.ndarray) -> np.ndarray:
    name = spec.name
    if name == "identity":
        return z.copy()
    if name == "sigmoid":
        return _sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0)
    if name == "leaky_relu":
        return np.where(z > 0, z, spec.slope * z)
    if name == "elu":
        return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))
    if name == "gelu":
        return z * 0.5 * (1 + erf(z / math.sqrt(2)))
    if name == "silu":
        return z * _sigmoid(z)
    if name == "softplus":  # torch's: linear above 20
        return np.where(z > 20, z, np.log1p(np.exp(np.minimum(z, 20))))
    if name == "custom":
        return parse_formula(spec.formula)(torch.from_numpy(z)).numpy().copy()
    raise SpecError(f"The activation {name} has no step-by-step form.")


def _derivative(spec: ActivationSpec, z: np.ndarray) -> np.ndarray:
    """f'(z), element by element (at a kink, the side torch takes: ReLU'(0) = 0)."""
    name = spec.name
    if name == "identity":
        return np.ones_like(z)
    if name == "sigmoid":
        s = _sigmoid(z)
        return s * (1 - s)
    if name == "tanh":
        return 1 - np.tanh(z) ** 2
    if name == "relu":
        return (z > 0).astype(np.float64)
    if name == "leaky_relu":
        return np.where(z > 0, 1.0, spec.slope)
    if name == "elu":
        return np.where(z > 0, 1.0, np.exp(np.minimum(z, 0)))
    if name == "gelu":  # Phi(z) + z phi(z)
        return 0.5 * (1 + erf(z / math.sqrt(2))) + z * np.exp(-0.5 * z * z) / math.sqrt(
            2 * math.pi)
    if name == "silu":  # s + z s (1 - s)
        s = _sigmoid(z)
        return s * (1 + z * (1 - s))
    if name == "softplus":
        return np.where(z > 20, 1.0, _sigmoid(z))
    if name == "custom":  # the formula's own derivative, element by element
        t = torch.from_numpy(z.copy()).requires_grad_(True)
        y = parse_formula(spec.formula)(t)
        if not y.requires_grad:  # a constant formula
            return np.zeros_like(z)
        (grad,) = torch.autograd.grad(y.sum(), t)
        return grad.numpy().copy()
    raise SpecError(f"The activation {name} has no step-by-step form.")


def _output(kind: str, z: np.ndarray) -> np.ndarray:
    if kind == "softmax":
        e = np.exp(z - z.max())
        return e / e.sum()
    if kind == "sigmoid":
        return _sigmoid(z)
    return z.copy()


def _output_backward(kind: str, p: np.ndarray, g: np.ndarray) -> np.ndarray:
    """dL/dz from dL/da through the output activation's Jacobian."""
    if kind == "softmax":  # (diag(p) - p p^T) g
        return p * (g - p @ g)
    if kind == "sigmoid":
        return g * p * (1 - p)
    return g.copy()


# ---- the losses of one sample and dL/da of the output ----

def _loss_and_grad(name: str, task: str, p: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """The loss of one sample and its derivative by the output activation a^L = p."""
    c = len(p)
    if name in ("sparse_categorical_cross_entropy", "categorical_cross_entropy"):
        k = int(np.argmax(y))
        g = np.zeros(c)
        g[k] = -1 / p[k]
        return float(-np.log(p[k])), g
    if name == "mse":
        return float(np.mean((p - y) ** 2)), 2 * (p - y) / c
    if name == "mae":
        return float(np.mean(np.abs(p - y))), np.sign(p - y) / c
    if name == "msle":
        q = np.maximum(p, 0) if task == "regression" else p
        t = np.maximum(y, 0) if task == "regression" else y
        d = np.log1p(q) - np.log1p(t)
        slope = 1 / (1 + q) * ((p > 0) if task == "regression" else 1)
        return float(np.mean(d * d)), 2 * d * slope / c
    if name == "binary_cross_entropy":
        loss = -np.mean(y * np.log(p) + (1 - y) * np.log1p(-p))
        return float(loss), (p - y) / (p * (1 - p)) / c
    if name in ("hinge", "squared_hinge"):
        t = 2 * y - 1
        margin = np.maximum(0, 1 - t * p)
        if name == "hinge":
            return float(np.mean(margin)), np.where(margin > 0, -t, 0.0) / c
        return float(np.mean(margin**2)), -2 * margin * t / c
    if name == "kl_divergence":
        t = np.clip(y, 1e-7, 1.0)
        return float(np.sum(t * (np.log(t) - np.log(p)))), -t / p
    raise SpecError(f"The loss {name} has no step-by-step form.")


# ---- the chain-rule lines ----

def _hidden_chain(number: int, spec: ActivationSpec) -> str:
    l, n = sup(number), sup(number + 1)
    f = {"sigmoid": "σ", "tanh": "tanh", "relu": "ReLU", "leaky_relu": "LeakyReLU",
         "elu": "ELU", "gelu": "GELU", "silu": "SiLU", "softplus": "softplus",
         "identity": "id", "custom": "f"}[spec.name]
    return (f"dL/da{l} = W{n}ᵀ · dL/dz{n},   dL/dz{l} = (W{n}ᵀ · dL/dz{n}) ⊙ {f}'(z{l}),   "
            f"dL/dW{l} = dL/dz{l} · a{sup(number - 1)}ᵀ,   dL/db{l} = dL/dz{l}")


def _output_chain(number: int, output: str, loss: str, task: str) -> str:
    l, prev = sup(number), sup(number - 1)
    if output == "softmax" and loss in ("sparse_categorical_cross_entropy",
                                        "categorical_cross_entropy"):
        first = f"dL/dz{l} = (diag(p) − p pᵀ) · dL/da{l} = p − y   (softmax with cross-entropy)"
    elif output == "softmax":
        first = f"dL/dz{l} = (diag(p) − p pᵀ) · dL/da{l}   (softmax's Jacobian)"
    elif output == "sigmoid":
        first = f"dL/dz{l} = dL/da{l} ⊙ σ(z{l})(1 − σ(z{l}))   (sigmoid outputs)"
    else:
        first = f"dL/dz{l} = dL/da{l}   (the outputs are the scores: a{l} = z{l})"
    return (f"dL/da{l} from the loss ({LOSSES[loss].formula}),   {first},   "
            f"dL/dW{l} = dL/dz{l} · a{prev}ᵀ,   dL/db{l} = dL/dz{l}")


# ---- the gradient check ----

def gradient_check(model: MLP, x: np.ndarray, target: float, loss: str, layer: int, row: int,
                   col: int, task: str = "classification",
                   passed: BackwardPass | None = None) -> GradientCheck:
    """dL/dW^layer[row, col]: the explicit chain rule's value against central differences of
    the engine's forward pass and loss in float64; relative error |a - n| / max(|a|, |n|)
    (0 when both are 0)."""
    count = len(model.linears)
    if not 1 <= layer <= count:
        raise SpecError(f"Layer {layer} does not exist: choose 1 to {count}.")
    weight = model.linears[layer - 1].weight
    rows, cols = weight.shape
    if not (0 <= row < rows and 0 <= col < cols):
        raise SpecError(f"Layer {layer}'s weights have {rows} rows (its neurons) and {cols} "
                        f"columns (its inputs): choose a row 0 to {rows - 1} and a column 0 to "
                        f"{cols - 1}.")
    passed = passed or backward_pass(model, x, target, loss, task)
    analytic = float(passed.layers[layer - 1].dL_dW[row, col])

    double = copy.deepcopy(model).double().eval()
    name = canonical_loss(loss)
    fn = loss_function(name, model.spec.output_size, task=task)
    xt = torch.as_tensor(np.asarray(x, np.float64).reshape(1, -1))
    scaling = model.target_scaling if task == "regression" else None
    yt = (torch.tensor([_loss_target(float(target), scaling)], dtype=torch.float64)
          if task == "regression" else torch.tensor([int(target)]))
    w = double.linears[layer - 1].weight
    values = []
    with torch.no_grad():
        start = w[row, col].item()
        for sign in (1, -1):
            w[row, col] = start + sign * FD_STEP
            values.append(fn(double.net(xt), yt).item())  # the loss's units, as training
        w[row, col] = start
    numeric = (values[0] - values[1]) / (2 * FD_STEP)
    scale = max(abs(analytic), abs(numeric))
    error = abs(analytic - numeric) / scale if scale > 0 else 0.0
    return GradientCheck(layer, row, col, analytic, numeric, error)
