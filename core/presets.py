"""Named sets of settings, applied in one step: another tool's defaults, and published MLP
results on MNIST with the settings that reproduce them (bench/bench_published.py measures each).

The Keras preset: Keras' default Glorot-uniform init with zero biases, RMSprop with rho 0.9 and
epsilon 1e-7 inside the square root, Adam with epsilon 1e-7, training on all 60,000 MNIST
images with the official test set as the validation data, and the last epoch's weights kept,
as Keras' `fit(..., validation_data=(x_test, y_test))` examples do.

A recipe also sets the network (hidden sizes, activation, dropout) and the training settings
of one published result, with the test error it reported.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from mlp_studio.core.activations import ActivationSpec
from mlp_studio.core.errors import SpecError
from mlp_studio.core.model import LayerSpec

# Network settings a preset may hold beyond NetworkSpec's own fields (they rebuild the layers).
LAYER_KEYS = ("hidden", "activation", "dropout")


@dataclass(frozen=True)
class Preset:
    key: str
    title: str
    summary: str  # one line for a tooltip or `--help`
    network: dict[str, Any] = field(default_factory=dict)  # init, hidden, activation, dropout
    training: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields
    split: dict[str, Any] = field(default_factory=dict)  # SplitConfig fields
    published_error: float | None = None  # % test error the reference reported
    reference: str = ""


_KERAS_NETWORK = {"init": "xavier"}
_KERAS_TRAINING = {"rho": 0.9, "epsilon": 1e-7, "epsilon_in_sqrt": True, "restore_best": False}
_KERAS_SPLIT = {"mode": "test_as_val"}

KERAS = Preset(
    "keras", "Keras defaults",
    "Glorot-uniform init, RMSprop rho 0.9 and epsilon 1e-7 (inside the square root), Adam "
    "epsilon 1e-7, all 60,000 training images with the test set as validation, last epoch "
    "kept",
    network=_KERAS_NETWORK, training=_KERAS_TRAINING, split=_KERAS_SPLIT,
)
KERAS_MNIST_MLP = Preset(
    "keras-mnist-mlp", "Keras mnist_mlp (98.40%)",
    "784-512-512-10 ReLU, dropout 0.2, RMSprop 0.001, batch 128, 20 epochs, Keras defaults",
    network={**_KERAS_NETWORK, "hidden": [512, 512], "activation": "relu", "dropout": 0.2},
    training={**_KERAS_TRAINING, "optimizer": "rmsprop", "lr": 1e-3, "batch_size": 128,
              "epochs": 20, "loss": "sparse_categorical_cross_entropy"},
    split=_KERAS_SPLIT,
    published_error=1.60,
    reference="Keras' examples/mnist_mlp.py: 98.40% test accuracy after 20 epochs",
)
LECUN_300 = Preset(
    "lecun-300", "LeCun 1998: 784-300-10, MSE",
    "784-300-10 tanh, mean squared error, Adam 0.001, batch 64, 20 epochs",
    network={"init": "xavier", "hidden": [300], "activation": "tanh", "dropout": 0.0},
    training={"loss": "mse", "optimizer": "adam", "lr": 1e-3, "batch_size": 64, "epochs": 20,
              "schedule": "constant", "restore_best": True},
    published_error=4.7,
    reference="LeCun, Bottou, Bengio, Haffner 1998, Gradient-based learning applied to "
              "document recognition: 2-layer NN, 300 hidden units, mean square error",
)
LECUN_500_150 = Preset(
    "lecun-500-150", "LeCun 1998: 784-500-150-10",
    "784-500-150-10 tanh, mean squared error, Adam 0.001, batch 64, 20 epochs",
    network={"init": "xavier", "hidden": [500, 150], "activation": "tanh", "dropout": 0.0},
    training={"loss": "mse", "optimizer": "adam", "lr": 1e-3, "batch_size": 64, "epochs": 20,
              "schedule": "constant", "restore_best": True},
    published_error=2.95,
    reference="LeCun et al. 1998: 3-layer NN, 500+150 hidden units",
)
SIMARD_800 = Preset(
    "simard-800", "Simard 2003: 784-800-10",
    "784-800-10 ReLU, cross-entropy, dropout 0.2, Adam 0.001 with a cosine schedule, 20 "
    "epochs (without dropout these reached 1.73-1.78%)",
    network={"init": "he", "hidden": [800], "activation": "relu", "dropout": 0.2},
    training={"loss": "sparse_categorical_cross_entropy", "optimizer": "adam", "lr": 1e-3,
              "schedule": "cosine", "batch_size": 128, "epochs": 20, "restore_best": True},
    published_error=1.6,
    reference="Simard, Steinkraus, Platt 2003, Best practices for convolutional neural "
              "networks applied to visual document analysis: 2-layer MLP, 800 hidden units, "
              "cross-entropy, no distortions",
)
PRESETS: dict[str, Preset] = {
    p.key: p for p in (KERAS, KERAS_MNIST_MLP, LECUN_300, LECUN_500_150, SIMARD_800)}


def preset_named(key: str) -> Preset:
    try:
        return PRESETS[key]
    except KeyError:
        raise SpecError(f"Unknown preset {key!r}. Choose one of: {', '.join(PRESETS)}.") from None


def with_preset(preset: Preset, spec, train, data):
    """(spec, train config, data config) with the preset's settings, as new objects. A recipe's
    hidden sizes rebuild the layers (its activation and dropout in every one)."""
    spec, train, data = copy.deepcopy(spec), copy.deepcopy(train), copy.deepcopy(data)
    network = dict(preset.network)
    layer_values = {k: network.pop(k) for k in LAYER_KEYS if k in network}
    if layer_values:
        sizes = layer_values.get("hidden", [layer.units for layer in spec.hidden])
        old = spec.hidden[0] if spec.hidden else LayerSpec(1)
        spec.hidden = [
            LayerSpec(units,
                      ActivationSpec(layer_values["activation"]) if "activation" in layer_values
                      else copy.deepcopy(old.activation),
                      layer_values.get("dropout", old.dropout), old.batch_norm)
            for units in sizes
        ]
    for target, values in ((spec, network), (train, preset.training),
                           (data.split, preset.split)):
        for name, value in values.items():
            setattr(target, name, value)
    return spec, train, data


def matches(preset: Preset, spec, train, data) -> bool:
    """Whether every setting of the preset holds (the GUI shows the preset as chosen)."""
    expected, *_ = with_preset(preset, spec, train, data)
    return expected == spec and all(
        getattr(target, name) == value
        for target, values in ((train, preset.training), (data.split, preset.split))
        for name, value in values.items())


# The command-line option (argparse dest) of each preset field; see core.cli.arguments.
CLI_DESTS = {"mode": "split"}


def preset_options(preset: Preset, args, given: set[str]) -> None:
    """Set the preset's values on parsed CLI `args`, except options given explicitly."""
    values = {**preset.network, **preset.training, **preset.split}
    for name, value in values.items():
        if name == "restore_best":
            if "no_restore_best" not in given:
                args.no_restore_best = not value
            continue
        dest = CLI_DESTS.get(name, name)
        if dest in given:
            continue
        if name == "dropout":
            value = [value]
        setattr(args, dest, value)
