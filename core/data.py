"""Preparing data for training: split, subset, imbalance, remedies, normalization, tensors.

Order of the steps in `prepare_mnist` (each one documented where it happens):
1. split the pooled 70k images (training 0..59999, test 60000..69999) into train/val/test;
2. subset: cap the training split (validation and test are left whole);
3. imbalance: keep a fraction of each of the ten digits in the training split;
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
from mlp_studio.core.errors import SpecError
from mlp_studio.core.mnist import MnistArrays
from mlp_studio.core.normalization import NORMALIZATIONS, Normalization, fit_normalization

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
    # Per digit 0..9, applied to the training split before any binary relabelling, so
    # fractions always mean the ten digits, also in the "is it a d?" task.
    keep_fractions: tuple[float, ...] = (1.0,) * NUM_DIGITS
    remedy: str = "none"  # "none" | "oversample" | "undersample" | "class_weights"

    def problems(self) -> list[str]:
        out = []
        f = self.keep_fractions
        if len(f) != NUM_DIGITS:
            out.append(f"keep fractions need one value per digit ({NUM_DIGITS}), got {len(f)}")
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
    target_digit: int | None = None  # None: ten digits; d: binary task "is it a d?"

    def problems(self) -> list[str]:
        out = []
        if self.normalization not in NORMALIZATIONS:
            out.append(
                f"unknown normalization {self.normalization!r}; choose one of {NORMALIZATIONS}"
            )
        digit = self.target_digit
        if digit is not None and (not _whole(digit) or not 0 <= digit <= 9):
            out.append(f"target digit must be 0-9 (or off), got {digit!r}")
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

    def class_counts(self) -> dict[str, np.ndarray]:
        """Samples per class in each split: {"train": [C], "val": [C], "test": [C]}.

        Regression has no classes: each split's count is its one output's sample count.
        """
        splits = (("train", self.y_train), ("val", self.y_val), ("test", self.y_test))
        if self.task == "regression":
            return {name: np.full(self.num_classes, len(y), np.int64) for name, y in splits}
        return {name: np.bincount(y.numpy(), minlength=self.num_classes) for name, y in splits}


def class_weights(labels: np.ndarray, num_classes: int) -> torch.Tensor:
    """N / (C * count_c) per class, 0 for a class absent from `labels`; float32 [C]."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    safe = np.where(counts > 0, counts, 1.0)
    weights = np.where(counts > 0, len(labels) / (num_classes * safe), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


def _split_counts(class_sizes: np.ndarray, split_sizes: list[int]) -> np.ndarray:
    """[C, S] samples of each class per split: margins exact, each within 1 of its share.

    Start from floor(share) and hand out the missing ones split by split, always to the
    classes still owing the most (Ryser's greedy; it always completes for such margins).
    """
    share = np.outer(class_sizes, split_sizes) / max(int(class_sizes.sum()), 1)
    counts = np.floor(share).astype(np.int64)
    owing = class_sizes - counts.sum(axis=1)
    for s, size in enumerate(split_sizes):
        extra = size - int(counts[:, s].sum())
        order = np.lexsort((counts[:, s] - share[:, s], -owing))  # most owed, then largest rest
        counts[order[:extra], s] += 1
        owing[order[:extra]] -= 1
    return counts


def _split_indices(
    pool: np.ndarray,
    labels: np.ndarray,
    sizes: list[int],
    stratified: bool,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """Cut `pool` (indices, with their `labels`) into disjoint parts of `sizes`, shuffled."""
    if not stratified:
        cuts = np.cumsum(sizes)[:-1]
        return np.split(rng.permutation(pool), cuts)
    classes = np.unique(labels)
    counts = _split_counts(np.array([(labels == c).sum() for c in classes]), sizes)
    parts: list[list[np.ndarray]] = [[] for _ in sizes]
    for row, c in enumerate(classes):
        members = rng.permutation(pool[labels == c])
        for s, piece in enumerate(np.split(members, np.cumsum(counts[row])[:-1])):
            parts[s].append(piece)
    return [rng.permutation(np.concatenate(p)) for p in parts]


def _keep_per_class(
    idx: np.ndarray, labels: np.ndarray, keep: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Keep a random `keep[c]` samples of each class c from `idx` (order stays random)."""
    chosen = np.zeros(len(idx), bool)
    for c, k in enumerate(keep):
        where = np.flatnonzero(labels == c)
        chosen[rng.permutation(where)[: int(k)]] = True
    return idx[chosen]


def _apply_fractions(
    idx: np.ndarray, labels: np.ndarray, fractions: tuple[float, ...], rng: np.random.Generator
) -> np.ndarray:
    """round(f * count) of each digit; at least 1 when f > 0 and the digit is present."""
    present = np.bincount(labels, minlength=len(fractions))
    f = np.asarray(fractions)
    keep = np.round(f * present).astype(np.int64)
    keep = np.where((f > 0) & (present > 0), np.maximum(keep, 1), keep)
    return _keep_per_class(idx, labels, keep, rng)


def _remedy(
    idx: np.ndarray,
    labels: np.ndarray,
    remedy: str,
    num_classes: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Over/undersample `idx` (with final class `labels`) to equal counts per present class."""
    counts = np.bincount(labels, minlength=num_classes)
    present = counts[counts > 0]
    if remedy == "undersample":
        return _keep_per_class(idx, labels, np.where(counts > 0, present.min(), 0), rng)
    if remedy == "oversample":
        extra = [
            rng.choice(idx[labels == c], size=present.max() - counts[c], replace=True)
            for c in range(num_classes)
            if 0 < counts[c] < present.max()
        ]
        return rng.permutation(np.concatenate([idx, *extra]))
    return idx


def _tensors(
    x: np.ndarray, y: np.ndarray, norm: Normalization, y_dtype: type = np.int64
) -> tuple[torch.Tensor, ...]:
    xs = torch.from_numpy(norm.apply(x))
    return xs, torch.from_numpy(np.asarray(y, dtype=y_dtype))


def prepare_mnist(mnist: MnistArrays, config: DataConfig) -> PreparedData:
    """Split, select, normalize and tensorize MNIST for one configuration (see module doc)."""
    config.validate()
    split, balance = config.split, config.balance
    rng = np.random.default_rng(split.seed)
    images = np.concatenate([mnist.train_images, mnist.test_images])
    labels = np.concatenate([mnist.train_labels, mnist.test_labels]).astype(np.int64)
    n_official = len(mnist.train_images)

    if split.mode == "test_as_val":
        train = rng.permutation(n_official)
        val = test = np.arange(n_official, len(images))
    elif split.mode == "official":
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
        train, val = _split_indices(
            pool, labels[pool], [n_official - n_val, n_val], split.stratified, rng
        )
        test = np.arange(n_official, len(images))  # MNIST's own test set, always whole
    else:
        n = len(images)
        n_val, n_test = (round(n * p / 100.0) for p in split.percentages[1:])
        pool = np.arange(n)
        train, val, test = _split_indices(
            pool, labels, [n - n_val - n_test, n_val, n_test], split.stratified, rng
        )

    if split.subset is not None and split.subset < len(train):
        train = _split_indices(
            train, labels[train], [split.subset, len(train) - split.subset], split.stratified, rng
        )[0]
    train = _apply_fractions(train, labels[train], balance.keep_fractions, rng)
    if len(train) == 0:
        raise SpecError(
            "the training split is empty: raise the train percentage, the subset size or "
            "the keep fractions"
        )

    raw = {"train": images[train], "val": images[val], "test": images[test]}
    # Statistics before the remedy: duplicates add no information, and the normalization
    # then stays the same whichever remedy the user compares.
    norm = fit_normalization(config.normalization, raw["train"].reshape(len(train), -1))

    if config.target_digit is None:
        targets, names = labels, list(DIGIT_NAMES)
    else:
        d = config.target_digit
        targets, names = (labels == d).astype(np.int64), [f"not {d}", str(d)]
    if balance.remedy in ("oversample", "undersample"):
        train = _remedy(train, targets[train], balance.remedy, len(names), rng)
        raw["train"] = images[train]

    x_train, y_train = _tensors(raw["train"], targets[train], norm)
    x_test, y_test = _tensors(raw["test"], targets[test], norm)
    val_is_test = split.mode == "test_as_val"
    x_val, y_val = (x_test, y_test) if val_is_test else _tensors(raw["val"], targets[val], norm)
    weights = (
        class_weights(targets[train], len(names)) if balance.remedy == "class_weights" else None
    )
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
        raw_train=raw["train"],
        raw_val=raw["val"],
        raw_test=raw["test"],
        input_shape=tuple(images.shape[1:]),
        indices={"train": train, "val": val, "test": test},
        val_is_test=val_is_test,
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
