"""Input normalization: the kinds, fitting one on training images, applying it, and its plain-dict
form (sessions and exports carry it)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from mlp_studio.core.errors import SpecError

NORMALIZATIONS = ("none", "unit", "symmetric", "standardize", "per_pixel")


@dataclass(frozen=True, eq=False)
class Normalization:
    """Every kind is (x - mean) / std with x in raw units (0-255 for MNIST).

    Keeping the two vectors (not the kind) as the definition lets export and the drawing
    canvas build the same preprocessing into a model without knowing the kinds.
    """

    kind: str
    mean: np.ndarray  # float32 [D]
    std: np.ndarray  # float32 [D], never 0

    def __post_init__(self) -> None:
        mean = np.array(self.mean, dtype=np.float32).reshape(-1)
        std = np.array(self.std, dtype=np.float32).reshape(-1)
        if self.kind not in NORMALIZATIONS:
            raise SpecError(f"unknown normalization {self.kind!r}; choose one of {NORMALIZATIONS}")
        if mean.shape != std.shape or mean.size == 0:
            raise SpecError(
                f"normalization mean and std must be non-empty and of equal length "
                f"(got {mean.size} and {std.size})"
            )
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise SpecError("normalization mean/std must be finite and every std must be > 0")
        mean.flags.writeable = False  # frozen means frozen: the vectors travel with a model
        std.flags.writeable = False
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    @property
    def size(self) -> int:
        return int(self.mean.size)

    def apply(self, x: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """Raw [N, D] (or [N, 28, 28], flattened) or [D] -> float32, numpy or torch as given."""
        if isinstance(x, torch.Tensor):
            if x.dim() > 2:
                x = x.reshape(x.shape[0], math.prod(x.shape[1:]))
            mean = torch.from_numpy(self.mean.copy()).to(x.device)
            std = torch.from_numpy(self.std.copy()).to(x.device)
            return ((x.to(torch.float32) - mean) / std).contiguous()
        x = np.asarray(x)
        if x.ndim > 2:  # math.prod, not -1: a split may be empty
            x = x.reshape(x.shape[0], math.prod(x.shape[1:]))
        out = np.array(x, dtype=np.float32, order="C")  # always a copy; then work in place
        out -= self.mean
        out /= self.std
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Normalization:
        try:
            return cls(kind=d["kind"], mean=np.asarray(d["mean"]), std=np.asarray(d["std"]))
        except (KeyError, TypeError, ValueError) as err:
            raise SpecError(f"normalization data is incomplete or malformed: {err}") from err


def _column_mean_std(x: np.ndarray, chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and population std in float64, in row chunks.

    Chunks keep the float64 temporaries small (a full float64 copy of MNIST is 370 MB);
    two passes avoid the cancellation of sum(x^2) - n * mean^2.
    """
    n = x.shape[0]
    total = np.zeros(x.shape[1], np.float64)
    for i in range(0, n, chunk):
        total += x[i : i + chunk].sum(axis=0, dtype=np.float64)
    mean = total / n
    squares = np.zeros(x.shape[1], np.float64)
    for i in range(0, n, chunk):
        centred = x[i : i + chunk].astype(np.float64) - mean
        squares += np.einsum("ij,ij->j", centred, centred)
    return mean, np.sqrt(squares / n)


def fit_normalization(kind: str, train_x: np.ndarray) -> Normalization:
    """Fit `kind` on raw training inputs [N, D] (uint8 or float). Std is the population std.

    per_pixel: a pixel that is constant over the training set (MNIST's borders are always 0)
    has std 0. It gets std 1 instead of a tiny epsilon: training values still map to exactly
    0, and an unseen image with ink there gives (x - mean) in raw units rather than a value
    blown up by 1/epsilon. The network never saw that input vary, so it learned nothing from
    it either way.
    """
    if kind not in NORMALIZATIONS:
        raise SpecError(f"unknown normalization {kind!r}; choose one of {NORMALIZATIONS}")
    x = np.asarray(train_x)
    if x.ndim != 2 or x.shape[0] == 0:
        raise SpecError(f"normalization needs a non-empty [N, D] training array, got {x.shape}")
    d = x.shape[1]
    if kind == "none":
        mean, std = np.zeros(d), np.ones(d)
    elif kind == "unit":
        mean, std = np.zeros(d), np.full(d, 255.0)
    elif kind == "symmetric":
        mean, std = np.full(d, 127.5), np.full(d, 127.5)
    else:
        col_mean, col_std = _column_mean_std(x)
        if kind == "per_pixel":
            mean, std = col_mean, np.where(col_std > 0, col_std, 1.0)
        else:  # standardize: one mean/std over all pixels (law of total variance over columns)
            m = col_mean.mean()
            s = float(np.sqrt(np.mean(col_std**2 + (col_mean - m) ** 2)))
            mean, std = np.full(d, m), np.full(d, s if s > 0 else 1.0)
    # float32 rounding can turn a tiny positive std into 0; the guard must hold after the cast
    std32 = np.asarray(std, np.float32)
    std32[std32 <= 0] = 1.0
    return Normalization(kind, np.asarray(mean, np.float32), std32)
