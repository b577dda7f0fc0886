"""The Data dock's background work: preparing a dataset (run off the GUI thread by the panel),
what a finished preparation holds, and what to tell the user when a job fails."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from mlp_studio.core.data import DataConfig, PreparedData, pixel_histogram, prepare_dataset
from mlp_studio.core.dataset import Dataset
from mlp_studio.core.errors import StudioError

HIST_BINS = 64


@dataclass(frozen=True)
class Prepared:
    """One finished preparation: the config it used, the data, and what the panel draws of it."""

    config: DataConfig
    data: PreparedData
    raw_hist: tuple[np.ndarray, np.ndarray] | None  # None for tables (no raw pixels)
    norm_hist: tuple[np.ndarray, np.ndarray]
    norm_stats: tuple[float, float, float, float]  # mean, std, min, max of normalized x_train
    distinct_train: np.ndarray | None  # [C] distinct training images when some are repeated


def prepare(dataset: Dataset, config: DataConfig) -> Prepared:
    data = prepare_dataset(dataset, config)
    x = data.x_train
    stats = (float(x.mean()), float(x.std()), float(x.min()), float(x.max()))
    distinct = None
    train = data.indices.get("train")
    if train is not None:
        _, first = np.unique(train, return_index=True)
        if len(first) < len(train):  # oversampled: count each image once
            distinct = np.bincount(data.y_train.numpy()[first], minlength=data.num_classes)
    return Prepared(
        config,
        data,
        None if data.raw_train is None else pixel_histogram(data.raw_train, bins=HIST_BINS),
        pixel_histogram(x, bins=HIST_BINS),
        stats,
        distinct,
    )


def user_message(err: BaseException) -> str:
    """What to show for an error: StudioErrors are written for users; anything else is a bug."""
    if isinstance(err, StudioError):
        return str(err)
    return (
        f"Unexpected error ({type(err).__name__}: {err}). This is a bug in MLP Studio; the "
        "details are in the terminal. The panel still works: try again or choose other data."
    )


def describe_normalization(result: Prepared) -> str:
    """The normalization as a formula with its fitted numbers, and the resulting value range."""
    norm = result.data.normalization
    mean, std, low, high = result.norm_stats
    if norm.kind == "per_pixel" and result.raw_hist is None:  # a table: per column
        return ("(x − meanᵢ) / stdᵢ for each column i, fitted on the training rows: a "
                "table's columns each have their own units, so they are always standardized "
                "one by one\n"
                f"After: mean {mean:.2f}, std {std:.2f}, range {low:.2f} … {high:.2f}")
    formula = {
        "none": "x (raw values go in unchanged: large inputs, large early gradients)",
        "unit": "x / 255",
        "symmetric": "(x − 127.5) / 127.5",
        "standardize": f"(x − {norm.mean[0]:.1f}) / {norm.std[0]:.1f}: the mean and std of all "
        "training pixels",
        "per_pixel": "(x − meanᵢ) / stdᵢ for each pixel i, fitted on the training images "
        "(always-blank border pixels keep std 1)",
    }[norm.kind]
    return f"{formula}\nAfter: mean {mean:.2f}, std {std:.2f}, range {low:.2f} … {high:.2f}"
