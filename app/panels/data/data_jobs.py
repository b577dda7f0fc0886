"""The Data dock's background jobs: loading, downloading and preparing MNIST off the GUI thread,
and what a finished preparation holds."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from mlp_studio.core.data import DataConfig, PreparedData, pixel_histogram, prepare_mnist
from mlp_studio.core.errors import StudioError
from mlp_studio.core.mnist import MnistArrays
from PySide6.QtCore import QObject, Signal, Slot

HIST_BINS = 64


@dataclass(frozen=True)
class Prepared:
    """One finished preparation: the config it used, the data, and what the panel draws of it."""

    config: DataConfig
    data: PreparedData
    raw_hist: tuple[np.ndarray, np.ndarray]
    norm_hist: tuple[np.ndarray, np.ndarray]
    norm_stats: tuple[float, float, float, float]  # mean, std, min, max of normalized x_train
    distinct_train: np.ndarray | None  # [C] distinct training images when some are repeated


def prepare(mnist: MnistArrays, config: DataConfig) -> Prepared:
    data = prepare_mnist(mnist, config)
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
        pixel_histogram(data.raw_train, bins=HIST_BINS),
        pixel_histogram(x, bins=HIST_BINS),
        stats,
        distinct,
    )


class DataJob(QObject):
    """Runs fn(worker) once in its QThread; `done` carries the result or the exception."""

    progress = Signal(int, int)  # bytes done, bytes total (downloads)
    done = Signal(object, bool, object)  # this worker, ok, result or exception

    def __init__(self, kind: str, fn: Callable[[DataJob], Any]):
        super().__init__()
        self.kind = kind
        self.cancel_event = threading.Event()
        self.remember: str | None = None  # folder to store as the last one, when it loads
        self.config: DataConfig | None = None  # the settings a preparation uses
        self.mnist: MnistArrays | None = None  # and the data it prepares
        self._fn = fn

    @Slot()
    def run(self) -> None:
        try:
            result, ok = self._fn(self), True
        except Exception as err:  # reported to the panel, never lost in the thread
            if not isinstance(err, StudioError):
                traceback.print_exc()
            result, ok = err, False
        self.done.emit(self, ok, result)


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
