"""Activation functions: their spec, the torch modules they become, and curves for plotting."""

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from mlp_studio.core.errors import SpecError
from mlp_studio.core.formula import parse_formula
from torch import Tensor, nn

__all__ = [
    "ACTIVATIONS",
    "ActivationSpec",
    "Formula",
    "Maxout",
    "activation_problems",
    "make_activation",
    "parse_formula",
    "sample_activation",
    "take_fields",
]

ACTIVATIONS = (
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "gelu",
    "silu",
    "softplus",
    "maxout",
    "custom",
)
MAX_PIECES = 8

_MODULES: dict[str, type[nn.Module]] = {
    "identity": nn.Identity,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "softplus": nn.Softplus,
}


@dataclass
class ActivationSpec:
    name: str = "relu"
    slope: float = 0.01  # leaky_relu: the slope for x < 0
    pieces: int = 2  # maxout: k linear pieces per unit
    formula: str = ""  # custom: an expression in x, e.g. "x * sigmoid(1.5*x)"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object, where: str = "activation") -> "ActivationSpec":
        """Types are checked here (SpecError naming the field); values by activation_problems."""
        types = {"name": str, "slope": float, "pieces": int, "formula": str}
        return cls(**take_fields(data, types, where))


def take_fields(data: object, types: dict[str, type], where: str) -> dict:
    """Check a JSON object's keys and value types against `types`; `where` names it in errors.

    Whole numbers are accepted where a float is expected; booleans never count as numbers.
    Missing keys are left out so the dataclass default applies.
    """
    if not isinstance(data, dict):
        raise SpecError(f"{where} must be a JSON object, not {type(data).__name__}.")
    unknown = ", ".join(sorted(repr(k) for k in data if k not in types))
    if unknown:
        allowed = ", ".join(types)
        raise SpecError(f"Unknown field {unknown} in {where}: allowed fields are {allowed}.")
    names = {int: "a whole number", float: "a number", str: "text", bool: "true or false"}
    out = {}
    for key, value in data.items():
        kind = types[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            wanted = names.get(kind, f"a JSON {'list' if kind is list else 'object'}")
            raise SpecError(f"{where}.{key} must be {wanted}, not {value!r}.")
        out[key] = value
    return out


def activation_problems(spec: ActivationSpec) -> list[str]:
    """Everything wrong with an activation spec, one actionable sentence each."""
    if spec.name not in ACTIVATIONS:
        names = ", ".join(ACTIVATIONS)
        return [f"uses an unknown activation '{spec.name}': choose one of {names}."]
    if spec.name == "leaky_relu" and not (
        isinstance(spec.slope, (int, float)) and math.isfinite(spec.slope)
    ):
        return [f"has Leaky ReLU slope {spec.slope}: use a finite number such as 0.01."]
    if spec.name == "maxout" and not (
        isinstance(spec.pieces, int) and 2 <= spec.pieces <= MAX_PIECES
    ):
        return [f"has maxout with {spec.pieces} pieces: use 2 to {MAX_PIECES} pieces per neuron."]
    if spec.name == "custom":
        try:
            parse_formula(spec.formula)
        except SpecError as err:
            return [f"has a custom formula problem: {err}"]
    return []


def _check(spec: ActivationSpec) -> None:
    problems = activation_problems(spec)
    if problems:
        raise SpecError(f"The activation {problems[0]}")


class Formula(nn.Module):
    """A custom activation; it keeps the text so it can be copied, pickled and displayed."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.fn = parse_formula(text)

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(x)

    def extra_repr(self) -> str:
        return repr(self.text)

    def __getstate__(self) -> dict:
        # Closures cannot be pickled; the text rebuilds them.
        state = self.__dict__.copy()
        del state["fn"]
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self.fn = parse_formula(self.text)


class Maxout(nn.Module):
    """Each unit is the max of k consecutive inputs: [N, units * k] -> [N, units]."""

    def __init__(self, pieces: int) -> None:
        super().__init__()
        self.pieces = pieces

    def forward(self, x: Tensor) -> Tensor:
        return x.unflatten(-1, (-1, self.pieces)).amax(-1)

    def extra_repr(self) -> str:
        return f"pieces={self.pieces}"


def make_activation(spec: ActivationSpec) -> nn.Module:
    """The module for an activation. For maxout it is the max over pieces, so the Linear
    before it must produce units * pieces outputs (core.model does this)."""
    _check(spec)
    if spec.name == "leaky_relu":
        return nn.LeakyReLU(spec.slope)
    if spec.name == "maxout":
        return Maxout(spec.pieces)
    if spec.name == "custom":
        return Formula(spec.formula)
    return _MODULES[spec.name]()


def sample_activation(spec: ActivationSpec, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """f(xs) and f'(xs) as float64 arrays for plotting; f' comes from autograd.

    Values may be nan/inf where the function is undefined (e.g. log(x) for x <= 0).
    Maxout has no fixed curve (each unit learns its pieces), so it raises SpecError.
    """
    _check(spec)
    if spec.name == "maxout":
        raise SpecError(
            "Maxout has no fixed curve: each neuron learns the maximum of "
            f"{spec.pieces} straight lines during training."
        )
    x = torch.tensor(np.asarray(xs, dtype=np.float64), requires_grad=True)
    y = make_activation(spec)(x)
    if y.requires_grad:
        (grad,) = torch.autograd.grad(y.sum(), x)
    else:  # a constant formula such as "1" does not depend on x
        grad = torch.zeros_like(x)
    return y.detach().numpy(), grad.numpy()
