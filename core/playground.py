"""2-D playground data: generated problems, input features, splits (drawn points and CSV files:
core.playground_files; grids over the plane: core.playground_grids).

The generators follow TensorFlow Playground (dataset.ts): points live in the square
[-6, 6] x [-6, 6], `noise` is Playground's slider as a fraction (its 0-50 % is 0.0-0.5 here; up
to 1.0 is allowed), class 1 is Playground's +1 (blue) and class 0 its -1 (orange). The spiral
takes 2 to 5 arms, one class per arm.

The playground has no validation set of its own: by default the test split doubles as the
validation split (PreparedData.x_val is x_test), which is what Playground's "test loss" shows;
`val_fraction` > 0 carves a separate validation split out of the training points instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from mlp_studio.core.data import PreparedData, prepare_arrays
from mlp_studio.core.errors import SpecError

CLASSIFICATION_DATASETS = ("circle", "xor", "gaussians", "spiral")
REGRESSION_DATASETS = ("plane", "gaussian_sum")
DATASETS = CLASSIFICATION_DATASETS + REGRESSION_DATASETS
DATASET_LABELS = {
    "circle": "Circle",
    "xor": "Exclusive or",
    "gaussians": "Two Gaussians",
    "spiral": "Spiral",
    "plane": "Plane (regression)",
    "gaussian_sum": "Gaussian bumps (regression)",
}
FEATURES = ("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)")
FEATURE_LABELS = {
    "x1": "x₁",
    "x2": "x₂",
    "x1^2": "x₁²",
    "x2^2": "x₂²",
    "x1*x2": "x₁·x₂",
    "sin(x1)": "sin(x₁)",
    "sin(x2)": "sin(x₂)",
}
EXTENT = (-6.0, 6.0, -6.0, 6.0)  # x1 min, x1 max, x2 min, x2 max
MAX_CLASSES = 10
MAX_SPIRAL_ARMS = 5
MAX_POINTS = 100_000  # interactive training and drawing stay fluid below this
CLASS_NAMES = tuple("ABCDEFGHIJ")  # generated and drawn classes; CSV keeps the file's labels
REGRESSION_NAME = "y"


@dataclass(frozen=True, eq=False)
class Points:
    """A 2-D dataset before splitting: positions, labels and how to show them."""

    xy: np.ndarray  # float32 [N, 2]
    labels: np.ndarray  # int64 [N] class indices, or float32 [N] targets for regression
    task: str  # "classification" | "regression"
    class_names: tuple[str, ...]  # one per class; (REGRESSION_NAME,) for regression
    extent: tuple[float, float, float, float] = EXTENT  # x1 min, x1 max, x2 min, x2 max
    source: str = ""  # a dataset name, "drawn" or a file path, for display

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.xy)


# ---------------------------------------------------------------- generators


def generate(
    name: str, n_points: int = 500, noise: float = 0.0, seed: int = 0, classes: int = 2
) -> Points:
    """One of DATASETS with `n_points` points; `classes` is the number of spiral arms."""
    if name not in DATASETS:
        raise SpecError(
            f"Unknown playground dataset '{name}'. Choose one of: {', '.join(DATASETS)}."
        )
    if not isinstance(n_points, (int, np.integer)) or not 2 <= n_points <= MAX_POINTS:
        raise SpecError(
            f"Number of points {n_points} must be a whole number from 2 to {MAX_POINTS}."
        )
    if not (math.isfinite(noise) and 0.0 <= noise <= 1.0):
        raise SpecError(f"Noise {noise} must be between 0 and 1 (Playground's 0-50 % is 0-0.5).")
    if name == "spiral" and not 2 <= classes <= MAX_SPIRAL_ARMS:
        raise SpecError(f"A spiral has 2 to {MAX_SPIRAL_ARMS} arms (classes), not {classes}.")
    rng = np.random.default_rng(seed)
    n = int(n_points)
    if name == "circle":
        xy, labels = _circle(rng, n, noise)
    elif name == "xor":
        xy, labels = _xor(rng, n, noise)
    elif name == "gaussians":
        xy, labels = _two_gaussians(rng, n, noise)
    elif name == "spiral":
        xy, labels = _spiral(rng, n, noise, classes)
    else:
        xy, labels = _regression(rng, n, noise, _plane if name == "plane" else _gaussian_bumps)
        return Points(
            xy.astype(np.float32),
            labels.astype(np.float32),
            "regression",
            (REGRESSION_NAME,),
            EXTENT,
            name,
        )
    num_classes = classes if name == "spiral" else 2
    return Points(
        xy.astype(np.float32),
        labels.astype(np.int64),
        "classification",
        CLASS_NAMES[:num_classes],
        EXTENT,
        name,
    )


def _halves(n: int) -> tuple[int, int]:
    return n - n // 2, n // 2


def _polar(r: np.ndarray, angle: np.ndarray) -> np.ndarray:
    return np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)


def _circle(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Class 1 inside radius 2.5, class 0 in the ring 3.5-5. As in Playground, the label comes
    from a noisy copy of each point, so noise flips labels near the boundary."""
    radius = 5.0
    n_in, n_out = _halves(n)
    r = np.concatenate(
        [rng.uniform(0, radius * 0.5, n_in), rng.uniform(radius * 0.7, radius, n_out)]
    )
    xy = _polar(r, rng.uniform(0, 2 * np.pi, n))
    noisy = xy + rng.uniform(-radius, radius, (n, 2)) * noise
    return xy, (np.hypot(noisy[:, 0], noisy[:, 1]) < radius * 0.5).astype(np.int64)


def _xor(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Four quadrants, pushed 0.3 away from the axes; class 1 where x1 and x2 share a sign."""
    xy = rng.uniform(-5, 5, (n, 2))
    xy += np.where(xy > 0, 0.3, -0.3)
    noisy = xy + rng.uniform(-5, 5, (n, 2)) * noise
    return xy, (noisy[:, 0] * noisy[:, 1] >= 0).astype(np.int64)


def _two_gaussians(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Class 1 around (2, 2), class 0 around (-2, -2); noise widens them (variance 0.5 to 4 over
    Playground's noise range 0-0.5)."""
    std = math.sqrt(0.5 + 7.0 * noise)
    n1, n0 = _halves(n)
    xy = np.concatenate([rng.normal(2, std, (n1, 2)), rng.normal(-2, std, (n0, 2))])
    return xy, np.concatenate([np.ones(n1, np.int64), np.zeros(n0, np.int64)])


def _spiral(
    rng: np.random.Generator, n: int, noise: float, arms: int
) -> tuple[np.ndarray, np.ndarray]:
    """`arms` interleaved spirals (1.75 turns out to radius 5), arm k is class k."""
    xy, labels = [], []
    for k in range(arms):
        m = n // arms + (1 if k < n % arms else 0)
        s = np.arange(m) / max(m, 1)
        r = s * 5
        t = 1.75 * s * 2 * np.pi + 2 * np.pi * k / arms
        xy.append(_polar(r, t) + rng.uniform(-1, 1, (m, 2)) * noise)
        labels.append(np.full(m, k, np.int64))
    return np.concatenate(xy), np.concatenate(labels)


def _plane(xy: np.ndarray) -> np.ndarray:
    return (xy[:, 0] + xy[:, 1]) / 10.0


_BUMPS = ((-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1))


def _gaussian_bumps(xy: np.ndarray) -> np.ndarray:
    """Six signed bumps; each point takes the strongest one (Playground's "regress Gaussian")."""
    label = np.zeros(len(xy))
    for cx, cy, sign in _BUMPS:
        value = sign * np.clip(1 - np.hypot(xy[:, 0] - cx, xy[:, 1] - cy) / 2, 0, 1)
        label = np.where(np.abs(value) > np.abs(label), value, label)
    return label


def _regression(rng: np.random.Generator, n: int, noise: float, target) -> tuple[np.ndarray, ...]:
    xy = rng.uniform(-6, 6, (n, 2))
    noisy = xy + rng.uniform(-6, 6, (n, 2)) * noise
    return xy, target(noisy)


# ---------------------------------------------------------------- user points and CSV files


# ---------------------------------------------------------------- features and prepared data


def features(points: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Input features [N, F] float32 of 2-D points [N, 2], in the order of `names`."""
    unknown = [n for n in names if n not in FEATURES]
    if unknown or not names:
        raise SpecError(
            f"Choose at least one input feature from {', '.join(FEATURES)}"
            + (f" (unknown: {', '.join(unknown)})." if unknown else ".")
        )
    p = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    x1, x2 = p[:, 0], p[:, 1]
    make = {
        "x1": lambda: x1,
        "x2": lambda: x2,
        "x1^2": lambda: x1 * x1,
        "x2^2": lambda: x2 * x2,
        "x1*x2": lambda: x1 * x2,
        "sin(x1)": lambda: np.sin(x1),
        "sin(x2)": lambda: np.sin(x2),
    }
    out = np.empty((len(p), len(names)), np.float32)
    for column, name in enumerate(names):
        out[:, column] = make[name]()
    return out


@dataclass(frozen=True, eq=False)
class PlaygroundData:
    """A split playground dataset: the points, which of them are in each split, the tensors."""

    points: Points
    train: np.ndarray  # int64 indices into points
    val: np.ndarray  # the same array as `test` when the test split doubles as validation
    test: np.ndarray
    feature_names: tuple[str, ...]
    data: PreparedData

    @property
    def val_is_test(self) -> bool:
        return self.val is self.test


def split_points(
    n: int, train_fraction: float, seed: int = 0, val_fraction: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random (train, val, test) indices; at least one point in each split.

    val_fraction 0: the test indices are returned as validation too (the same array).
    """
    if not (math.isfinite(train_fraction) and 0.0 < train_fraction < 1.0):
        raise SpecError(f"Training share {train_fraction} must be above 0 and below 1.")
    if not (math.isfinite(val_fraction) and 0.0 <= val_fraction < 1.0):
        raise SpecError(f"Validation share {val_fraction} must be at least 0 and below 1.")
    needed = 3 if val_fraction > 0 else 2
    if n < needed:
        raise SpecError(
            f"{n} point(s) are too few: add at least {needed} so that training and test"
            + (" and validation" if needed == 3 else "")
            + " each get one."
        )
    order = np.random.default_rng(seed).permutation(n)
    n_train = min(max(round(n * train_fraction), 1), n - 1)
    train, test = order[:n_train], order[n_train:]
    if val_fraction == 0:
        return train, test, test
    n_val = min(max(round(n_train * val_fraction), 1), n_train - 1) if n_train > 1 else 0
    if n_val == 0:
        raise SpecError("The training split has one point: raise the training share.")
    return train[n_val:], train[:n_val], test


def make_data(
    points: Points,
    feature_names: Sequence[str] = ("x1", "x2"),
    train_fraction: float = 0.5,
    seed: int = 0,
    val_fraction: float = 0.0,
    normalization: str = "per_pixel",
    split: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> PlaygroundData:
    """Split, compute features, normalize (per feature, from the training split) and tensorize.

    "per_pixel" standardizes each feature on its own: x1² spans 0-36 while sin(x1) spans -1-1.
    `split` gives (train, val, test) indices instead of a random split (a drawing keeps each
    point's side as points are added); pass the test array as val to use it as validation.
    """
    names = tuple(feature_names)
    inputs = features(points.xy, names)
    if split is None:
        split = split_points(len(points), train_fraction, seed, val_fraction)
    train, val, test = (np.asarray(part, np.int64) for part in split)
    if split[1] is split[2]:
        val = test  # keep "test doubles as validation" visible as identity
    if len(train) == 0 or len(test) == 0 or len(val) == 0:
        raise SpecError("Every split needs at least one point: add points or change the share.")
    y = points.labels
    data = prepare_arrays(
        inputs[train],
        y[train],
        inputs[val],
        y[val],
        inputs[test],
        y[test],
        normalization,
        list(points.class_names),
        task=points.task,
    )
    return PlaygroundData(points, train, val, test, names, data)


# ---------------------------------------------------------------- grids over the input plane


