"""Between a studio's settings and a sweep: the train options a run's settings are, and the run
settings a trial's parameters make.

A sweep works on train options (core.sweep, as `mlp-studio sweep` takes them). The app starts
one from its current network, training and data settings, and opens a finished trial as a run:
both go through the train command's own conversions (core.cli.arguments), so a trial opened in
the app is the run its worker trained. The settings a sweep varies are read through the one
table of them (core.run_settings.SETTINGS). The command line has one value for some per-layer
settings (batch norm, leaky slope, maxout pieces, the custom formula): the first layer's is
taken.
"""

from __future__ import annotations

import argparse
import copy
from typing import Any

from mlp_studio.core.data import DataConfig
from mlp_studio.core.model import NetworkSpec
from mlp_studio.core.run_settings import SETTINGS, RunSettings
from mlp_studio.core.sweep import Sweep
from mlp_studio.core.train_config import TrainConfig


def options_from_settings(spec: NetworkSpec, train: TrainConfig, data: DataConfig,
                          folder: str | None) -> argparse.Namespace:
    """The train options that make `spec`, `train` and `data` (MNIST from `folder`).

    Every setting of the one table (core.run_settings.SETTINGS) is read from the run as the
    option takes it: a setting added there comes along, nothing here repeats it. The rest are
    what a run keeps and a sweep never varies (seed, device, data split, class balance)."""
    from mlp_studio.core.cli.arguments import TRAIN_FIELDS, _add_train_arguments, _Parser
    from mlp_studio.core.sweep_space import train_options

    parser = _Parser(prog="mlp-studio train")
    _add_train_arguments(parser, outputs=False)
    args = parser.parse_args([])  # every option at its default
    options = train_options(parser)
    run = RunSettings(spec, train, data)
    for name, setting in SETTINGS.items():
        option = options[name]
        setattr(args, option.dest, _option_value(option, setting.read(run),
                                                 getattr(args, option.dest)))
    for name in TRAIN_FIELDS:
        if name.replace("_", "-") not in SETTINGS:
            setattr(args, name, copy.deepcopy(getattr(train, name)))
    args.no_restore_best = not train.restore_best
    args.seed = spec.seed  # one --seed sets both the weights' and the batches' seed
    args.data = folder or None
    split = data.split
    args.split, args.val_fraction, args.val_count = split.mode, split.val_fraction, split.val_count
    args.percentages = list(split.percentages)
    args.random_split = not split.stratified
    args.split_seed, args.subset = split.seed, split.subset
    keep = list(data.balance.keep_fractions)
    args.keep_fractions = None if all(k == 1.0 for k in keep) else keep
    args.long_tail = None
    args.target_digit = data.target_digit
    return args


def _option_value(option, value: Any, default: Any) -> Any:
    """A setting's value as its option holds it: a list for a per-layer list option; for an
    option with one value for every layer, the first layer's (the default without layers)."""
    if option.kind in ("ints", "floats"):
        return copy.deepcopy(list(value) if isinstance(value, list | tuple) else [value])
    if isinstance(value, list | tuple):
        return copy.deepcopy(value[0]) if value else default
    return copy.deepcopy(value)


def trial_settings(sweep: Sweep, params: dict[str, Any], input_size: int,
                   output_size: int) -> tuple[NetworkSpec, TrainConfig]:
    """The network and training settings of the trial with `params` (SpecError if they
    cannot run), as its worker trained them (core.sweep_space.trial_run)."""
    from mlp_studio.core.sweep_space import trial_run

    run = trial_run(sweep.base, sweep.params, params, input_size, output_size)
    return run.spec, run.train
