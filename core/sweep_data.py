"""A sweep's data: whatever `mlp-studio train --data` takes (an MNIST-format family, an image
folder, a CSV table), and the metrics that can rank trials on it.

Classification ranks trials by validation accuracy or loss; regression has no accuracy, so it
ranks them by validation loss, RMSE (both lower is better) or R² (higher is better). A sweep
whose metric is "auto" takes accuracy for classification and the loss for regression, and a
regression keeps mean squared error as its loss when the default (cross-entropy) was left, as
`mlp-studio train` does. Both are settled once, before the study is created, so the study's
direction and identity never depend on which worker loads the data first.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
from typing import Any

from mlp_studio.core.errors import StudioError

# metric -> (direction, the tasks it measures, how people read it)
METRICS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "val-accuracy": ("maximize", ("classification",), "validation accuracy"),
    "val-loss": ("minimize", ("classification", "regression"), "validation loss"),
    "val-rmse": ("minimize", ("regression",), "validation RMSE"),
    "val-r2": ("maximize", ("regression",), "validation R²"),
}
AUTO = "auto"  # accuracy for classification, the loss for regression


def metrics_for(task: str) -> list[str]:
    """The metrics that can rank trials of a `task` problem, the default first."""
    default = "val-accuracy" if task == "classification" else "val-loss"
    return [default] + [m for m, (_d, tasks, _t) in METRICS.items()
                        if task in tasks and m != default]


def higher_is_better(metric: str) -> bool:
    """Whether larger values of `metric` are better (unknown ones, e.g. not chosen yet: yes)."""
    return METRICS.get(metric, ("maximize",))[0] == "maximize"


def metric_value(metric: str, val) -> float:
    """The metric's value in a core.metrics.Metrics of the validation split."""
    return {"val-accuracy": val.accuracy, "val-loss": val.loss, "val-rmse": val.rmse,
            "val-r2": val.r2}[metric]


def load_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """core.dataset.load_data's arguments for the train options' data (--data, --dataset,
    --image-size, --color, --target, --task)."""
    return {"path": args.data, "dataset": args.dataset, "image_size": args.image_size,
            "color": args.color, "target": args.target, "task": args.task,
            "download": not args.no_download}


def load_sweep_data(args: argparse.Namespace):
    """The sweep's Dataset, read once (StudioError when it cannot be)."""
    from mlp_studio.core.dataset import load_data

    return load_data(**load_arguments(args))


def fit_to_task(sweep, task: str, name: str = "the data"):
    """`sweep` with its metric settled for a `task` problem (auto: the task's default) and, for
    regression, mean squared error as the loss when the default was left. StudioError when
    the metric cannot measure the task."""
    from mlp_studio.core.train_config import TrainConfig

    metric = metrics_for(task)[0] if sweep.metric == AUTO else sweep.metric
    if task not in METRICS[metric][1]:
        fits = metrics_for(task)
        raise StudioError(f"{name} is a {task} problem, which has no {METRICS[metric][2]}: "
                          f"rank the trials by --metric {', '.join(fits[:-1])} or {fits[-1]}.")
    base = sweep.base
    if task == "regression" and base.loss == TrainConfig.loss:
        base = copy.copy(base)
        base.loss = "mse"
    return dataclasses.replace(sweep, base=base, metric=metric)


class TrialData:
    """The prepared data of a worker's last data settings: the source is read once, and split
    and normalized again only when a trial changes the data settings (most never do)."""

    def __init__(self, dataset=None):
        self.dataset = dataset  # a core.dataset.Dataset already read, or None
        self.key: str | None = None
        self.prepared = None

    def get(self, args: argparse.Namespace):
        from mlp_studio.core.cli.arguments import data_config_from_args
        from mlp_studio.core.data import prepare_dataset

        config = data_config_from_args(args)
        if self.dataset is None:
            self.dataset = load_sweep_data(args)
        if repr(config) != self.key:
            self.prepared, self.key = prepare_dataset(self.dataset, config), repr(config)
        return self.prepared


def source_options(args: argparse.Namespace, source, task: str) -> argparse.Namespace:
    """A copy of the train options `args` whose data options read `source` (a
    core.data_source.DataSource, e.g. the studio's) as a `task` problem. An MNIST-format
    family without a path keeps the folder `args` names (where the studio found it)."""
    args = copy.copy(args)
    args.data = source.path or args.data
    args.dataset = source.dataset if source.kind == "mnist" else None
    args.image_size, args.color = source.image_size, source.color
    table = source.kind == "table"
    args.target = (source.target or None) if table else None
    args.task = task if table else None
    return args
