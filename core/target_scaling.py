"""Regression target scaling: standardizing real-valued targets with the training split's mean
and standard deviation (scikit-learn's TransformedTargetRegressor with a StandardScaler).

Targets in the hundreds (house prices in thousands) leave a network whose output starts near 0
hundreds of units away from every target: the loss is huge, its gradients are out of scale with
the input side and training barely moves. Standardized, the targets have mean 0 and standard
deviation 1, as the inputs do.

The scaling belongs to the model (core.model.MLP keeps it as two buffers): the network's own
output z is in scaled units, and the MLP returns z * std + mean, so every prediction, metric
and plot is in the target's units. The loss is computed on the scaled values. A file (export,
model bundle) holds the un-scaling folded into the output layer, W * std and b * std + mean,
so any reader gets the target's units without knowing of the scaling (see fold / unfold).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from mlp_studio.core.errors import SpecError

if TYPE_CHECKING:  # torch loads when a function needs it: the app shows its window first
    from torch import Tensor

TARGET_SCALINGS = ("standardize", "none")
# The MLP's buffers; a state dict holds them only when they are not the identity, so every
# classifier's and every earlier file's tensors are what they always were.
MEAN_KEY, STD_KEY = "target_mean", "target_std"
# MSLE compares log(1 + y) of non-negative targets: standardized targets are negative for half
# the samples, so a model trained with MSLE keeps its targets' own units.
UNSCALED_LOSSES = ("msle",)


@dataclass(frozen=True, eq=False)
class TargetScaling:
    """y_scaled = (y - mean) / std for each of the network's outputs; std never 0."""

    kind: str
    mean: np.ndarray  # float32 [K]
    std: np.ndarray  # float32 [K]

    def __post_init__(self) -> None:
        if self.kind not in TARGET_SCALINGS:
            raise SpecError(f"unknown target scaling {self.kind!r}; choose one of "
                            f"{', '.join(TARGET_SCALINGS)}")
        mean = np.array(self.mean, np.float32).reshape(-1)
        std = np.array(self.std, np.float32).reshape(-1)
        if mean.shape != std.shape or mean.size == 0:
            raise SpecError("target scaling mean and std must be non-empty and of equal length")
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise SpecError("target scaling mean/std must be finite and every std must be > 0")
        mean.flags.writeable = False
        std.flags.writeable = False
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    @property
    def identity(self) -> bool:
        return bool((self.mean == 0).all() and (self.std == 1).all())

    def describe(self, name: str = "y") -> str:
        """The formula with its numbers, for people: "(y - 180.4) / 69.81"."""
        if self.identity:
            return f"{name} as it is (not scaled)"
        return f"({name} - {float(self.mean[0]):.4g}) / {float(self.std[0]):.4g}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: object) -> TargetScaling:
        try:
            return cls(kind=d["kind"], mean=np.asarray(d["mean"], np.float32),  # type: ignore[index]
                       std=np.asarray(d["std"], np.float32))  # type: ignore[index]
        except (KeyError, TypeError, ValueError) as err:
            raise SpecError(f"target scaling data is incomplete or malformed: {err}") from err


def identity_scaling(outputs: int) -> TargetScaling:
    return TargetScaling("none", np.zeros(outputs, np.float32), np.ones(outputs, np.float32))


def fit_target_scaling(kind: str, train_targets: np.ndarray) -> TargetScaling:
    """Fit `kind` on the training split's targets [N] (never on validation or test: no
    leakage). Population std, as StandardScaler; constant targets get std 1."""
    if kind not in TARGET_SCALINGS:
        raise SpecError(f"unknown target scaling {kind!r}; choose one of "
                        f"{', '.join(TARGET_SCALINGS)}")
    y = np.asarray(train_targets, np.float64).reshape(-1)
    if kind == "none" or y.size == 0:
        return identity_scaling(1)
    std = float(y.std())
    std32 = np.float32(std)
    return TargetScaling(kind, np.array([y.mean()], np.float32),
                         np.array([std32 if std32 > 0 else 1.0], np.float32))


def scaling_for_loss(scaling: TargetScaling | None, loss: str, outputs: int) -> TargetScaling:
    """The scaling a model trains with: the data's, except with a loss that needs the targets'
    own units (MSLE), or for data without one (classification)."""
    from mlp_studio.core.losses import canonical_loss

    if scaling is None or canonical_loss(loss) in UNSCALED_LOSSES or scaling.mean.size != outputs:
        return identity_scaling(outputs)
    return scaling


def adopt_target_scaling(model: Any, data: Any, loss: str) -> None:
    """Give `model` (a core.model.MLP) the scaling a run on `data` (PreparedData) trains with.

    Set, not folded into the weights: fresh weights then start out predicting the training
    mean. A model that trained with another scaling changes what it predicts, as it does when
    the input normalization changes."""
    model.set_target_scaling(scaling_for_loss(data.target_scaling, loss, model.spec.output_size)
                             if data.task == "regression" else None)


def loss_units(scaling: TargetScaling | None) -> str:
    """What a loss figure is computed on, for labels: "standardized targets" or ""."""
    return "" if scaling is None or scaling.identity else "standardized targets"


def scale_values(values: Tensor, scaling: TargetScaling) -> Tensor:
    """Targets or predictions [N] or [N, K] in the target's units -> scaled units."""
    import torch

    mean = torch.tensor(scaling.mean.tolist(), device=values.device, dtype=values.dtype)
    std = torch.tensor(scaling.std.tolist(), device=values.device, dtype=values.dtype)
    if values.dim() == 1:
        mean, std = mean[0], std[0]
    return (values - mean) / std


# ---------------------------------------------------------------- files


def _output_layer_keys(state: dict[str, Tensor]) -> tuple[str, str]:
    """The output Linear's weight and bias names: the highest-numbered net.<i>.weight."""
    index = max(int(k.split(".")[1]) for k in state
                if k.startswith("net.") and k.endswith(".weight") and state[k].dim() == 2)
    return f"net.{index}.weight", f"net.{index}.bias"


def fold(state: dict[str, Tensor]) -> tuple[dict[str, Tensor], TargetScaling | None]:
    """A state dict whose scaling buffers are folded into the output layer (W * std,
    b * std + mean), and the scaling that was folded (None: there was none)."""
    import torch

    if MEAN_KEY not in state:
        return dict(state), None
    out = {k: v for k, v in state.items() if k not in (MEAN_KEY, STD_KEY)}
    mean, std = state[MEAN_KEY].to(torch.float32), state[STD_KEY].to(torch.float32)
    w, b = _output_layer_keys(out)
    out[w] = out[w] * std[:, None].to(out[w].dtype)
    out[b] = out[b] * std.to(out[b].dtype) + mean.to(out[b].dtype)
    scaling = TargetScaling("standardize", mean.cpu().numpy(), std.cpu().numpy())
    return out, scaling


def unfold(state: dict[str, Tensor], scaling: TargetScaling | None) -> dict[str, Tensor]:
    """fold's inverse: the state dict a model trains on further, with the scaling buffers."""
    import torch

    if scaling is None or scaling.identity or MEAN_KEY in state:
        return dict(state)
    out = dict(state)
    w, b = _output_layer_keys(out)
    mean, std = torch.from_numpy(scaling.mean.copy()), torch.from_numpy(scaling.std.copy())
    if std.numel() != out[b].numel():
        raise SpecError(f"the target scaling has {std.numel()} values for a network of "
                        f"{out[b].numel()} outputs")
    out[w] = out[w] / std[:, None].to(out[w].dtype)
    out[b] = (out[b] - mean.to(out[b].dtype)) / std.to(out[b].dtype)
    out[MEAN_KEY], out[STD_KEY] = mean, std
    return out
