"""Named sets of settings that reproduce another tool's defaults, applied in one step.

The Keras preset: Keras' default Glorot-uniform init with zero biases, RMSprop with rho 0.9 and
epsilon 1e-7 inside the square root, Adam with epsilon 1e-7, training on all 60,000 MNIST
images with the official test set as the validation data, and the last epoch's weights kept,
as Keras' `fit(..., validation_data=(x_test, y_test))` examples do. With it, Keras' mnist_mlp
example gives Keras' result within seed noise (bench/bench_keras_preset.py).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from mlp_studio.core.errors import SpecError


@dataclass(frozen=True)
class Preset:
    key: str
    title: str
    summary: str  # one line for a tooltip or `--help`
    network: dict[str, Any] = field(default_factory=dict)  # NetworkSpec fields
    training: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields
    split: dict[str, Any] = field(default_factory=dict)  # SplitConfig fields


KERAS = Preset(
    "keras", "Keras defaults",
    "Glorot-uniform init, RMSprop rho 0.9 and epsilon 1e-7 (inside the square root), Adam "
    "epsilon 1e-7, all 60,000 training images with the test set as validation, last epoch "
    "kept",
    network={"init": "xavier"},
    training={"rho": 0.9, "epsilon": 1e-7, "epsilon_in_sqrt": True, "restore_best": False},
    split={"mode": "test_as_val"},
)
PRESETS: dict[str, Preset] = {preset.key: preset for preset in (KERAS,)}


def preset_named(key: str) -> Preset:
    try:
        return PRESETS[key]
    except KeyError:
        raise SpecError(f"Unknown preset {key!r}. Choose one of: {', '.join(PRESETS)}.") from None


def with_preset(preset: Preset, spec, train, data):
    """(spec, train config, data config) with the preset's settings, as new objects."""
    spec, train, data = copy.deepcopy(spec), copy.deepcopy(train), copy.deepcopy(data)
    for target, values in ((spec, preset.network), (train, preset.training),
                           (data.split, preset.split)):
        for name, value in values.items():
            setattr(target, name, value)
    return spec, train, data


def matches(preset: Preset, spec, train, data) -> bool:
    """Whether every setting of the preset holds (the GUI shows the preset as chosen)."""
    return all(getattr(target, name) == value
               for target, values in ((spec, preset.network), (train, preset.training),
                                      (data.split, preset.split))
               for name, value in values.items())


# The command-line option (argparse dest) of each preset field; see core.cli.arguments.
CLI_DESTS = {"init": "init", "rho": "rho", "epsilon": "epsilon",
             "epsilon_in_sqrt": "epsilon_in_sqrt", "mode": "split"}


def preset_options(preset: Preset, args, given: set[str]) -> None:
    """Set the preset's values on parsed CLI `args`, except options given explicitly."""
    values = {**preset.network, **preset.training, **preset.split}
    for name, value in values.items():
        if name == "restore_best":
            if "no_restore_best" not in given:
                args.no_restore_best = not value
        elif CLI_DESTS[name] not in given:
            setattr(args, CLI_DESTS[name], value)
