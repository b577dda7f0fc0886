"""Preparing data for training: split, subset, imbalance, remedies, normalization, tensors.

Order of the steps in `prepare_dataset` (each one documented where it happens):
1. split the pooled samples (MNIST: training 0..59999, test 60000..69999) into train/val/test;
2. subset: cap the training split (validation and test are left whole);
3. imbalance: keep a fraction of each class in the training split;
4. normalization statistics from the training split as it is now (no duplicates yet);
5. binary task: relabel to "not d" / "d";
6. remedy (oversample / undersample / class weights) on the final classes.
One `numpy.random.default_rng(seed)` drives every random step in that order, so the
validation and test splits depend only on the split settings.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from mlp_studio.core.dataset import Dataset
from mlp_studio.core.errors import SpecError
from mlp_studio.core.mnist import MnistArrays
from mlp_studio.core.normalization import NORMALIZATIONS, Normalization, fit_normalization
from mlp_studio.core.splits import (
    apply_fractions,
    class_weights,
    rebalance,
    split_indices,
)
from mlp_studio.core.target_scaling import TARGET_SCALINGS, TargetScaling, fit_target_scaling

SPLIT_MODES = ("official", "pooled", "test_as_val")
REMEDIES = ("none", "oversample", "undersample", "class_weights")
NUM_DIGITS = 10
DIGIT_NAMES = tuple(str(d) for d in range(NUM_DIGITS))


# ---------------------------------------------------------------- normalization


# ---------------------------------------------------------------- configuration


def _whole(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@dataclass
class SplitConfig:
    mode: str = "official"  # "official": MNIST's test set + validation carved from training;
    # "pooled": all 70k pooled and split by `percentages`; "test_as_val": all 60k train and the
    # test set also validates, as Keras' examples do (then no epoch may be chosen by it)
    val_fraction: float = 0.1  # official mode, unless val_count is set
    val_count: int | None = None
    percentages: tuple[float, float, float] = (70.0, 20.0, 10.0)  # pooled: train, val, test
    stratified: bool = True
    seed: int = 0
    subset: int | None = None  # keep at most this many training samples (val/test stay whole)

    def problems(self) -> list[str]:
        out = []
        if self.mode not in SPLIT_MODES:
            out.append(f"unknown split mode {self.mode!r}; choose one of {SPLIT_MODES}")
        if not 0.0 < self.val_fraction < 1.0:
            out.append(
                f"validation fraction must be between 0 and 1 (exclusive), got {self.val_fraction}"
            )
        if not _whole(self.seed) or self.seed < 0:
            out.append(f"seed must be a whole number >= 0, got {self.seed!r}")
        if self.val_count is not None and (not _whole(self.val_count) or self.val_count < 1):
            out.append(f"validation count must be a whole number >= 1, got {self.val_count!r}")
        p = self.percentages
        if len(p) != 3:
            out.append(f"percentages need three numbers (train, val, test), got {list(p)}")
        elif not all(math.isfinite(v) for v in p):  # NaN passes every comparison below
            out.append(f"percentages must be finite numbers, got {list(p)}")
        elif any(v < 0 for v in p) or p[0] <= 0 or abs(sum(p) - 100.0) > 1e-6:
            out.append(
                f"percentages (train, val, test) must each be >= 0, train > 0, and sum to 100; "
                f"got {list(p)} (sum {sum(p):g})"
            )
        if self.subset is not None and (not _whole(self.subset) or self.subset < 1):
            out.append(f"subset size must be a whole number >= 1 (or off), got {self.subset!r}")
        return out


@dataclass
class BalanceConfig:
    # Per class (the ten digits for MNIST), applied to the training split before any binary
    # relabelling, so fractions always mean the data's classes, also in the "is it a d?" task.
    # Their number must match the data's classes unless all are 1 (the default: keep all).
    keep_fractions: tuple[float, ...] = (1.0,) * NUM_DIGITS
    remedy: str = "none"  # "none" | "oversample" | "undersample" | "class_weights"

    def problems(self) -> list[str]:
        out = []
        f = self.keep_fractions
        if len(f) == 0:
            out.append("keep fractions need one value per class, got none")
        elif not all(0.0 <= v <= 1.0 for v in f):
            out.append(f"keep fractions must each be between 0 and 1, got {list(f)}")
        elif not any(v > 0 for v in f):
            out.append("keep fractions are all 0: at least one digit must stay in training")
        if self.remedy not in REMEDIES:
            out.append(f"unknown imbalance remedy {self.remedy!r}; choose one of {REMEDIES}")
        return out


def long_tail_fractions(num_classes: int = 10, smallest: float = 0.05) -> tuple[float, ...]:
    """Geometric keep fractions: 1.0 for class 0 down to `smallest` for the last class."""
    if num_classes < 1:
        raise SpecError(f"long tail needs at least one class, got {num_classes}")
    if not 0.0 < smallest <= 1.0:
        raise SpecError(f"long tail smallest fraction must be in (0, 1], got {smallest}")
    if num_classes == 1:
        return (1.0,)
    return tuple(float(smallest ** (c / (num_classes - 1))) for c in range(num_classes))


@dataclass
class DataConfig:
    normalization: str = "unit"
    split: SplitConfig = field(default_factory=SplitConfig)
    balance: BalanceConfig = field(default_factory=BalanceConfig)
    target_digit: int | None = None  # None: all classes; d: binary task "is it class d?"
    # Regression only: "standardize" the targets with the training split's mean and std (the
    # loss is computed on them; everything shown is in the target's units) or "none".
    target_scaling: str = "standardize"

    def problems(self) -> list[str]:
        out = []
        if self.normalization not in NORMALIZATIONS:
            out.append(
                f"unknown normalization {self.normalization!r}; choose one of {NORMALIZATIONS}"
            )
        if self.target_scaling not in TARGET_SCALINGS:
            out.append(f"unknown target scaling {self.target_scaling!r}; choose one of "
                       f"{', '.join(TARGET_SCALINGS)}")
        digit = self.target_digit
        if digit is not None and (not _whole(digit) or digit < 0):
            out.append(f"target class must be a whole number >= 0 (or off), got {digit!r}")
        return out + self.split.problems() + self.balance.problems()

    def validate(self) -> None:
        problems = self.problems()
        if problems:
            raise SpecError("invalid data settings: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["split"]["percentages"] = list(self.split.percentages)
        d["balance"]["keep_fractions"] = list(self.balance.keep_fractions)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataConfig:
        """Missing keys take defaults; unknown keys or wrong types raise SpecError."""
        try:
            split = dict(_known(d.get("split", {}), SplitConfig, "split"))
            if "percentages" in split:
                split["percentages"] = tuple(float(v) for v in split["percentages"])
            balance = dict(_known(d.get("balance", {}), BalanceConfig, "balance"))
            if "keep_fractions" in balance:
                balance["keep_fractions"] = tuple(float(v) for v in balance["keep_fractions"])
            top = _known({k: v for k, v in d.items() if k not in ("split", "balance")}, cls, "data")
            config = cls(**top, split=SplitConfig(**split), balance=BalanceConfig(**balance))
            config.validate()  # comparisons on wrong types raise TypeError, reported below
        except (TypeError, ValueError, AttributeError) as err:
            raise SpecError(f"data settings are malformed: {err}") from err
        return config


def _known(d: Any, cls: type, what: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise SpecError(f"{what} settings must be a mapping, got {type(d).__name__}")
    unknown = sorted(set(d) - set(cls.__dataclass_fields__))
    if unknown:
        raise SpecError(f"unknown {what} setting(s): {', '.join(unknown)}")
    return d


# ---------------------------------------------------------------- prepared data


@dataclass
class PreparedData:
    """Normalized tensors of each split plus what the GUI needs to show them.

    task "regression" (2-D playground surfaces): y_* are real-valued float32 [N] targets,
    num_classes is the number of network outputs (1) and class_names names it (["y"]).
    """

    x_train: torch.Tensor  # float32 [N, D], normalized, contiguous
    y_train: torch.Tensor  # int64 [N] class indices (float32 [N] targets for regression)
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    normalization: Normalization
    num_classes: int
    class_names: list[str]
    class_weights: torch.Tensor | None  # float32 [C] when remedy == "class_weights"
    raw_train: np.ndarray | None  # uint8 [N, 28, 28] (None for 2-D data)
    raw_val: np.ndarray | None
    raw_test: np.ndarray | None
    input_shape: tuple[int, ...]  # (28, 28) for MNIST, (D,) otherwise
    # MNIST only: row i of a split is pooled image indices[split][i] (train 0..59999, test
    # 60000..69999); oversampled duplicates repeat their index. Empty for prepare_arrays.
    indices: dict[str, np.ndarray] = field(default_factory=dict)
    task: str = "classification"  # or "regression"
    val_is_test: bool = False  # the validation split is the test split (SplitConfig test_as_val)
    # Regression: fitted on the training split's targets (core.target_scaling); y_* stay in
    # the target's units. None for classification and data prepared without one.
    target_scaling: TargetScaling | None = None

    def class_counts(self) -> dict[str, np.ndarray]:
        """Samples per class in each split: {"train": [C], "val": [C], "test": [C]}.

        Regression has no classes: each split's count is its one output's sample count.
        """
        splits = (("train", self.y_train), ("val", self.y_val), ("test", self.y_test))
        if self.task == "regression":
            return {name: np.full(self.num_classes, len(y), np.int64) for name, y in splits}
        return {name: np.bincount(y.numpy(), minlength=self.num_classes) for name, y in splits}


def _tensors(
    x: np.ndarray, y: np.ndarray, norm: Normalization, y_dtype: type = np.int64
) -> tuple[torch.Tensor, ...]:
    xs = torch.from_numpy(norm.apply(x))
    return xs, torch.from_numpy(np.asarray(y, dtype=y_dtype))


def prepare_mnist(mnist: MnistArrays, config: DataConfig) -> PreparedData:
    """Split, select, normalize and tensorize MNIST for one configuration (see module doc)."""
    from mlp_studio.core.mnist_families import dataset_of

    return prepare_dataset(dataset_of(mnist), config)


def _check_fits(ds: Dataset, config: DataConfig) -> None:
    """The settings that depend on the data's classes, checked against this data."""
    n = len(ds.class_names)
    keep, remedy, digit = config.balance.keep_fractions, config.balance.remedy, config.target_digit
    if ds.task == "regression":
        if any(v != 1.0 for v in keep) or remedy != "none" or digit is not None:
            raise SpecError(
                "regression has no classes to balance or pick: set the keep fractions to 1, "
                "the remedy to none and the target class off"
            )
        return
    if len(keep) != n and any(v != 1.0 for v in keep):
        raise SpecError(
            f"keep fractions give {len(keep)} values but {ds.name} has {n} classes: give one "
            "per class"
        )
    if digit is not None and digit >= n:
        raise SpecError(
            f"target class {digit} does not exist: {ds.name} has classes 0-{n - 1}"
        )


def prepare_dataset(ds: Dataset, config: DataConfig) -> PreparedData:
    """Split, select, normalize and tensorize any Dataset for one configuration (module doc).

    Data without an official test split (image folders, tables) is always split by the
    percentages, whatever the split mode says. Regression: splits are never stratified and
    there is nothing to balance. Tables are normalized per feature (a kind that assumes 0-255
    pixels becomes per-feature standardization); statistics come from the training split only.
    """
    config.validate()
    _check_fits(ds, config)
    split, balance = config.split, config.balance
    regression = ds.task == "regression"
    stratified = split.stratified and not regression
    rng = np.random.default_rng(split.seed)
    has_test = ds.x_test is not None
    x = np.concatenate([ds.x_train, ds.x_test]) if has_test else ds.x_train
    y = np.concatenate([ds.y_train, ds.y_test]) if has_test else ds.y_train
    labels = np.zeros(len(y), np.int64) if regression else y.astype(np.int64)
    n_official = len(ds.x_train)

    if split.mode == "test_as_val" and has_test:
        train = rng.permutation(n_official)
        val = test = np.arange(n_official, len(x))
    elif split.mode == "official" and has_test:
        n_val = (
            split.val_count
            if split.val_count is not None
            else round(split.val_fraction * n_official)
        )
        if not 0 < n_val < n_official:
            raise SpecError(
                f"validation size {n_val} leaves no training data: choose fewer than "
                f"{n_official} validation samples"
            )
        pool = np.arange(n_official)
        train, val = split_indices(
            pool, labels[pool], [n_official - n_val, n_val], stratified, rng
        )
        test = np.arange(n_official, len(x))  # the data's own test set, always whole
    else:
        n = len(x)
        n_val, n_test = (round(n * p / 100.0) for p in split.percentages[1:])
        pool = np.arange(n)
        train, val, test = split_indices(
            pool, labels, [n - n_val - n_test, n_val, n_test], stratified, rng
        )

    if split.subset is not None and split.subset < len(train):
        train = split_indices(
            train, labels[train], [split.subset, len(train) - split.subset], stratified, rng
        )[0]
    if not regression and len(balance.keep_fractions) == len(ds.class_names):
        train = apply_fractions(train, labels[train], balance.keep_fractions, rng)
    if len(train) == 0:
        raise SpecError(
            "the training split is empty: raise the train percentage, the subset size or "
            "the keep fractions"
        )

    raw = {"train": x[train], "val": x[val], "test": x[test]}
    # Statistics before the remedy: duplicates add no information, and the normalization
    # then stays the same whichever remedy the user compares.
    kind = config.normalization
    if ds.kind == "table" and kind != "none":
        kind = "per_pixel"
    norm = fit_normalization(kind, raw["train"].reshape(len(train), -1))

    names = list(ds.class_names)
    targets = y.astype(np.float32) if regression else labels
    if config.target_digit is not None:
        d = config.target_digit
        targets, names = (labels == d).astype(np.int64), [f"not {names[d]}", names[d]]
    if balance.remedy in ("oversample", "undersample"):
        train = rebalance(train, targets[train], balance.remedy, len(names), rng)
        raw["train"] = x[train]

    y_dtype = np.float32 if regression else np.int64
    x_train, y_train = _tensors(raw["train"], targets[train], norm, y_dtype)
    x_test, y_test = _tensors(raw["test"], targets[test], norm, y_dtype)
    val_is_test = val is test
    x_val, y_val = (
        (x_test, y_test) if val_is_test else _tensors(raw["val"], targets[val], norm, y_dtype)
    )
    weights = (
        class_weights(targets[train], len(names)) if balance.remedy == "class_weights" else None
    )
    images = ds.kind != "table"
    return PreparedData(
        x_train,
        y_train,
        x_val,
        y_val,
        x_test,
        y_test,
        normalization=norm,
        num_classes=len(names),
        class_names=names,
        class_weights=weights,
        raw_train=raw["train"] if images else None,
        raw_val=raw["val"] if images else None,
        raw_test=raw["test"] if images else None,
        input_shape=ds.input_shape,
        indices={"train": train, "val": val, "test": test},
        task=ds.task,
        val_is_test=val_is_test,
        # The training split's targets only: validation and test must not leak into it.
        target_scaling=(fit_target_scaling(config.target_scaling, targets[train])
                        if regression else None),
    )


def prepare_arrays(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    normalization_kind: str,
    class_names: list[str],
    task: str = "classification",
) -> PreparedData:
    """Generic [N, D] inputs (e.g. 2-D playground points): fit on train, normalize, tensorize.

    The fixed kinds ("unit", "symmetric") assume 0-255 inputs; for other data use "none",
    "standardize" or "per_pixel". task "regression": y are finite real values and
    class_names names the single output (e.g. ["y"]).
    """
    if task not in ("classification", "regression"):
        raise SpecError(f"unknown task {task!r}; choose 'classification' or 'regression'")
    regression = task == "regression"
    if regression and len(class_names) != 1:
        raise SpecError(f"regression has one output: give one output name, got {class_names}")
    num_classes = len(class_names)
    arrays = [(x_train, y_train), (x_val, y_val), (x_test, y_test)]
    d = np.asarray(x_train).shape[-1] if np.asarray(x_train).ndim == 2 else None
    for name, (x, y) in zip(("train", "val", "test"), arrays, strict=True):
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim != 2 or x.shape[1] != d or y.shape != (len(x),):
            raise SpecError(
                f"{name} data must be x [N, D] and y [N] with one D for all splits; "
                f"got x {x.shape}, y {y.shape}"
            )
        if regression:
            if not np.isfinite(y).all():
                raise SpecError(f"{name} targets must be finite numbers (no NaN or infinity)")
        elif len(y) and (y.min() < 0 or y.max() >= num_classes):
            raise SpecError(
                f"{name} labels must be in 0..{num_classes - 1} "
                f"(one per class name), got {y.min()}..{y.max()}"
            )
    norm = fit_normalization(normalization_kind, np.asarray(x_train))
    y_dtype = np.float32 if regression else np.int64
    (xt, yt), (xv, yv), (xs, ys) = (_tensors(np.asarray(x), y, norm, y_dtype) for x, y in arrays)
    return PreparedData(
        xt,
        yt,
        xv,
        yv,
        xs,
        ys,
        normalization=norm,
        num_classes=num_classes,
        class_names=list(class_names),
        class_weights=None,
        raw_train=None,
        raw_val=None,
        raw_test=None,
        input_shape=(int(d),),
        task=task,
    )


def pixel_histogram(
    x: np.ndarray | torch.Tensor, bins: int = 50, max_rows: int = 10_000
) -> tuple[np.ndarray, np.ndarray]:
    """Histogram (counts, edges) of the values in x, from at most `max_rows` evenly spaced rows.

    Evenly spaced rather than random rows: the same data always draws the same picture.
    """
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if len(a) > max_rows:
        a = a[np.linspace(0, len(a) - 1, max_rows).astype(np.int64)]
    a = a.reshape(-1)
    if a.size == 0:
        return np.zeros(bins, np.int64), np.linspace(0.0, 1.0, bins + 1)
    lo, hi = float(a.min()), float(a.max())
    if lo == hi:  # np.histogram needs a non-empty range
        lo, hi = lo - 0.5, hi + 0.5
    return np.histogram(a, bins=bins, range=(lo, hi))
