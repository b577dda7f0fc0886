"""Between a studio's settings and a sweep: the train options a run's settings are, and the run
settings a trial's parameters make.

A sweep works on train options (core.sweep, as `mlp-studio sweep` takes them). The app starts
one from its current network, training and data settings, and opens a finished trial as a run:
both go through the train command's own conversions (core.cli.arguments), so a trial opened in
the app is the run its worker trained. The command line has one value for some per-layer
settings (batch norm, leaky slope, maxout pieces): the first layer's is taken.
"""

from __future__ import annotations

import argparse
import copy
from typing import Any

from mlp_studio.core.data import DataConfig
from mlp_studio.core.model import NetworkSpec
from mlp_studio.core.sweep import Sweep
from mlp_studio.core.train_config import TrainConfig


def default_options() -> argparse.Namespace:
    """Every train option at its default (only data, network and training)."""
    from mlp_studio.core.cli.arguments import _add_train_arguments, _Parser

    parser = _Parser(prog="mlp-studio train")
    _add_train_arguments(parser, outputs=False)
    return parser.parse_args([])


def _one_or_each(values: list) -> list:
    return values[:1] if len(set(map(repr, values))) == 1 else list(values)


def options_from_settings(spec: NetworkSpec, train: TrainConfig, data: DataConfig,
                          folder: str | None) -> argparse.Namespace:
    """The train options that make `spec`, `train` and `data` (MNIST from `folder`)."""
    from mlp_studio.core.cli.arguments import TRAIN_FIELDS

    args = default_options()
    args.data = folder or None
    for name in TRAIN_FIELDS:
        setattr(args, name, copy.deepcopy(getattr(train, name)))
    args.no_restore_best = not train.restore_best
    layers = spec.hidden
    args.hidden = [layer.units for layer in layers]
    names = _one_or_each([layer.activation.name for layer in layers])
    args.activation = ",".join(names)
    args.dropout = _one_or_each([layer.dropout for layer in layers])
    first = layers[0] if layers else None
    args.batch_norm = bool(first and first.batch_norm)
    if first is not None:
        args.leaky_slope = first.activation.slope
        args.maxout_pieces = first.activation.pieces
        args.formula = next((layer.activation.formula for layer in layers
                             if layer.activation.name == "custom"), "")
    args.init = spec.init
    args.seed = spec.seed  # one --seed sets both the weights' and the batches' seed
    split = data.split
    args.normalization = data.normalization
    args.split, args.val_fraction, args.val_count = split.mode, split.val_fraction, split.val_count
    args.percentages = list(split.percentages)
    args.random_split = not split.stratified
    args.split_seed, args.subset = split.seed, split.subset
    keep = list(data.balance.keep_fractions)
    args.keep_fractions = None if all(k == 1.0 for k in keep) else keep
    args.long_tail = None
    args.remedy = data.balance.remedy
    args.target_digit = data.target_digit
    return args


def trial_settings(sweep: Sweep, params: dict[str, Any], input_size: int,
                   output_size: int) -> tuple[NetworkSpec, TrainConfig]:
    """The network and training settings of the trial with `params` (SpecError if they
    cannot run), as its worker trained them (core.sweep_space.trial_run)."""
    from mlp_studio.core.sweep_space import trial_run

    run = trial_run(sweep.base, sweep.params, params, input_size, output_size)
    return run.spec, run.train
