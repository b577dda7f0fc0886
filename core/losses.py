"""The lecture's losses. Each one knows the target encoding and output activation it needs.

The model always returns raw outputs and labels are always class indices; a loss turns the
indices into its own encoding (one-hot, +-1, probabilities) and applies its own output
activation, so any loss can be paired with any network without the user re-encoding data.

Regression (2-D playground surfaces): targets are real values float32 [N], the network has one
output per target value, and only MSE, MAE and MSLE apply, on the raw outputs (identity output).
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from mlp_studio.core.errors import SpecError
from torch import Tensor


@dataclass(frozen=True)
class LossInfo:
    name: str
    label: str
    target: str  # "index" | "one_hot" | "plus_minus_one" | "probabilities"
    output: str  # "softmax" | "sigmoid" | "identity"
    formula: str


LOSSES: dict[str, LossInfo] = {
    info.name: info
    for info in (
        LossInfo("mse", "Mean squared error", "one_hot", "softmax", "mean((p - y)^2)"),
        LossInfo(
            "msle", "Mean squared log error", "one_hot", "softmax",
            "mean((log(1 + p) - log(1 + y))^2)",
        ),
        LossInfo("mae", "Mean absolute error", "one_hot", "softmax", "mean(|p - y|)"),
        LossInfo(
            "binary_cross_entropy", "Binary cross-entropy", "one_hot", "sigmoid",
            "-mean(y log p + (1 - y) log(1 - p))",
        ),
        LossInfo("hinge", "Hinge", "plus_minus_one", "identity", "mean(max(0, 1 - y s))"),
        LossInfo(
            "squared_hinge", "Squared hinge", "plus_minus_one", "identity",
            "mean(max(0, 1 - y s)^2)",
        ),
        LossInfo(
            "categorical_cross_entropy", "Categorical cross-entropy", "one_hot", "softmax",
            "-sum(y log p)",
        ),
        LossInfo(
            "sparse_categorical_cross_entropy", "Sparse categorical cross-entropy", "index",
            "softmax", "-log p[label]",
        ),
        LossInfo(
            "kl_divergence", "KL divergence", "probabilities", "softmax",
            "sum(y log(y / p))",
        ),
    )
}

# Aliases people type on the command line.
ALIASES = {
    "cross-entropy": "sparse_categorical_cross_entropy",
    "cross_entropy": "sparse_categorical_cross_entropy",
    "ce": "sparse_categorical_cross_entropy",
    "bce": "binary_cross_entropy",
    "kl": "kl_divergence",
}

# KL needs strictly positive targets; Keras clips to the same epsilon.
_KL_EPS = 1e-7

TASKS = ("classification", "regression")
REGRESSION_LOSSES = ("mse", "mae", "msle")


_TARGET_WORDS = {
    "index": "class-index targets",
    "one_hot": "one-hot targets",
    "plus_minus_one": "±1 targets",
    "probabilities": "probability targets",
}
_OUTPUT_WORDS = {"softmax": "softmax outputs", "sigmoid": "sigmoid outputs",
                 "identity": "raw scores"}


def pairing(loss: str) -> str:
    """The output activation and target encoding a loss sets, in words for the GUI."""
    info = LOSSES[canonical_loss(loss)]
    return f"{_OUTPUT_WORDS[info.output]}, {_TARGET_WORDS[info.target]}"


def canonical_loss(name: str) -> str:
    key = name.strip().lower().replace("-", "_")
    key = ALIASES.get(name.strip().lower(), ALIASES.get(key, key))
    if key not in LOSSES:
        raise SpecError(f"Unknown loss '{name}'. Choose one of: {', '.join(LOSSES)}.")
    return key


def loss_function(
    name: str, num_classes: int, class_weights: Tensor | None = None, task: str = "classification"
) -> Callable[[Tensor, Tensor], Tensor]:
    """Return loss(outputs [N, C] raw, labels [N] int64) -> scalar, weighted per class if given.

    task "regression": loss(outputs [N, 1] raw, targets [N] float32) -> scalar (see module doc).
    """
    info = LOSSES[canonical_loss(name)]
    if task == "regression":
        return regression_loss(info.name)
    if info.name == "sparse_categorical_cross_entropy":
        # The fused kernel is the fast path and already weights as sum(w*l)/sum(w).
        return lambda outputs, labels: F.cross_entropy(outputs, labels, weight=class_weights)

    per_sample = _PER_SAMPLE[info.name]

    def loss(outputs: Tensor, labels: Tensor) -> Tensor:
        values = per_sample(outputs, F.one_hot(labels, num_classes).to(outputs.dtype))
        if class_weights is None:
            return values.mean()
        w = class_weights[labels]
        return (values * w).sum() / w.sum().clamp_min(1e-12)

    return loss


def _kl(outputs: Tensor, onehot: Tensor) -> Tensor:
    target = onehot.clamp(_KL_EPS, 1.0)
    return (target * (target.log() - F.log_softmax(outputs, dim=1))).sum(1)


_PER_SAMPLE: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "mse": lambda o, y: (F.softmax(o, 1) - y).square().mean(1),
    "msle": lambda o, y: (torch.log1p(F.softmax(o, 1)) - torch.log1p(y)).square().mean(1),
    "mae": lambda o, y: (F.softmax(o, 1) - y).abs().mean(1),
    "binary_cross_entropy": lambda o, y: F.binary_cross_entropy_with_logits(
        o, y, reduction="none"
    ).mean(1),
    "hinge": lambda o, y: (1 - (2 * y - 1) * o).clamp_min(0).mean(1),
    "squared_hinge": lambda o, y: (1 - (2 * y - 1) * o).clamp_min(0).square().mean(1),
    "categorical_cross_entropy": lambda o, y: -(y * F.log_softmax(o, 1)).sum(1),
    "kl_divergence": _kl,
}


def check_loss_for_task(loss: str, task: str) -> None:
    """SpecError when `loss` cannot train `task` (only MSE, MAE and MSLE fit real values)."""
    if task not in TASKS:
        raise SpecError(f"Unknown task '{task}'. Choose one of: {', '.join(TASKS)}.")
    name = canonical_loss(loss)
    if task == "regression" and name not in REGRESSION_LOSSES:
        raise SpecError(
            f"The loss '{LOSSES[name].label}' needs class labels, but this data has real-valued "
            f"targets (regression): choose mean squared error (mse), mean absolute error (mae) "
            f"or mean squared log error (msle)."
        )


def regression_loss(name: str) -> Callable[[Tensor, Tensor], Tensor]:
    """loss(outputs [N, K] raw, targets [N]) -> scalar; every output is compared to the target.

    MSLE clips negative values to 0 before log(1 + v), as Keras does: it is meant for
    non-negative targets.
    """
    name = canonical_loss(name)
    check_loss_for_task(name, "regression")
    per_value = _REGRESSION[name]
    return lambda outputs, targets: per_value(outputs, targets.unsqueeze(1)).mean()


_REGRESSION: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "mse": lambda o, y: (o - y).square(),
    "mae": lambda o, y: (o - y).abs(),
    "msle": lambda o, y: (torch.log1p(o.clamp_min(0)) - torch.log1p(y.clamp_min(0))).square(),
}


def probabilities(loss: str, outputs: Tensor) -> Tensor:
    """Class probabilities [N, C] from raw outputs, through the loss's own output activation.

    Sigmoid outputs are independent per class, so they are normalized to sum to 1; hinge
    scores have no probabilistic meaning, so they are shown through a softmax.
    """
    output = LOSSES[canonical_loss(loss)].output
    if output == "sigmoid":
        p = torch.sigmoid(outputs)
        return p / p.sum(1, keepdim=True).clamp_min(1e-12)
    return F.softmax(outputs, dim=1)
