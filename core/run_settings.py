"""The settings a run is made of, named as the `train` command's options ("lr", "activation",
"hidden", "batch-size", ...): read one from a run's settings, parse a value written as text,
apply it to a copy.

The one table of them (SETTINGS): paired runs (core.paired) change exactly one, a sweep
(core.sweep_space) varies several, both through it. Values are parsed by the `train` command's
own parser (core.cli.arguments), so a value means the same here as on its command line and is
checked against the same choices.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from mlp_studio.core.data import DataConfig
from mlp_studio.core.errors import SpecError
from mlp_studio.core.model import LayerSpec, NetworkSpec
from mlp_studio.core.train_config import TrainConfig

KINDS = ("network", "training", "data")


@dataclass(frozen=True)
class RunSettings:
    """What one run is made of. `data` is None where the data is given ready-made (the
    Playground's points): data settings cannot change then."""

    spec: NetworkSpec
    train: TrainConfig
    data: DataConfig | None = None

    def problems(self) -> list[str]:
        out = list(self.spec.problems()) + list(self.train.problems())
        if self.data is not None:
            out += list(self.data.problems())
        return out


@dataclass(frozen=True)
class Setting:
    name: str  # the option's name without its dashes: "batch-size"
    kind: str  # one of KINDS
    label: str  # for people: "Batch size"
    read: Callable[[RunSettings], Any]
    write: Callable[[RunSettings, Any], RunSettings]  # a copy with the value applied
    flag: bool = False  # an on/off option (--batch-norm): written on, off, true or false

    def parse(self, text: str, by_label: bool = False) -> Any:
        """The value `text` means for this option, as `mlp-studio train` reads it (SpecError
        saying what is wrong otherwise). `by_label`: the message names the setting by its label,
        as a form shows it, instead of the command line's wording (--change name=value)."""
        text = text.strip()
        if not text:
            if by_label:
                raise SpecError(f"No value given for {self.label}: type one.")
            raise SpecError(f"No value given for {self.name}: write {self.name}=VALUE.")
        if self.flag:
            value = _FLAGS.get(text.lower())
            if value is None:
                if by_label:
                    raise SpecError(f"{self.label} is on or off: choose on or off, not '{text}'.")
                raise SpecError(f"{self.name} is on or off: write {self.name}=on or "
                                f"{self.name}=off, not '{text}'.")
            return value
        from mlp_studio.core.cli.arguments import build_parser
        from mlp_studio.core.errors import StudioError

        try:
            args = build_parser().parse_args(["train", f"--{self.name}", text])
        except StudioError as err:
            if by_label:
                raise SpecError(f"{self.label}: {_plain(_first_sentence(str(err)))}.") from None
            raise SpecError(f"{self.name}={text}: {_first_sentence(str(err))}.") from None
        return getattr(args, self.name.replace("-", "_"))

    def apply(self, settings: RunSettings, value: Any, by_label: bool = False) -> RunSettings:
        """A copy of `settings` with this option set to `value`, checked (SpecError; `by_label`
        as in parse)."""
        if self.kind == "data" and settings.data is None:
            raise SpecError(f"{self.label} is a data setting, and here the data comes "
                            "ready-made: change a network or training setting (the command "
                            "line's `mlp-studio pair` can change data settings).")
        changed = self.write(_copied(settings), value)
        problems = changed.problems()
        if problems:
            if by_label:
                raise SpecError(f"Run B cannot train: {' '.join(problems)}")
            raise SpecError(f"{self.name}={show(value)} cannot run: {' '.join(problems)}")
        return changed

    def choices(self) -> tuple[str, ...]:
        """The values this option allows, where it has a fixed list (else ())."""
        if self.flag:
            return ("on", "off")
        if self.name == "activation":
            from mlp_studio.core.activations import ACTIVATIONS

            return tuple(a for a in ACTIVATIONS if a != "custom")  # custom needs a formula
        if self.name == "loss":
            from mlp_studio.core.losses import LOSSES

            return tuple(LOSSES)
        import argparse

        from mlp_studio.core.cli.arguments import _add_train_arguments

        train = argparse.ArgumentParser(add_help=False)
        _add_train_arguments(train)
        action = next(a for a in train._actions if f"--{self.name}" in a.option_strings)
        return tuple(action.choices or ())

    def show(self, settings: RunSettings) -> str:
        """The value in `settings`, written as on the command line: "relu", "256,128"."""
        return show(self.read(settings))


_FLAGS = {"on": True, "true": True, "yes": True, "1": True,
          "off": False, "false": False, "no": False, "0": False}


def show(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list | tuple):
        return ",".join(show(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value) if value != "" else "(none)"


def _first_sentence(text: str) -> str:
    return text.split(" (see `mlp-studio")[0].rstrip(".")


_ARGPARSE_WORDING = (  # argparse's own messages, said without the command line's terms
    (re.compile(r"^argument --[\w-]+: "), ""),
    (re.compile(r"invalid float value: ('.*')$"), r"\1 is not a number"),
    (re.compile(r"invalid int value: ('.*')$"), r"\1 is not a whole number"),
    (re.compile(r"invalid choice: ('.*') \(choose from (.*)\)$"), r"\1 is not one of \2"),
)


def _plain(message: str) -> str:
    """A parser message for a form: "argument --lr: invalid float value: 'x'" -> "'x' is not
    a number"."""
    for pattern, replacement in _ARGPARSE_WORDING:
        message = pattern.sub(replacement, message)
    return message


def _copied(settings: RunSettings) -> RunSettings:
    return RunSettings(copy.deepcopy(settings.spec), copy.deepcopy(settings.train),
                       copy.deepcopy(settings.data))


# ---- the network: every hidden layer takes the value (per-layer lists where the CLI has them)


def _per_layer(values: list, n: int, name: str) -> list:
    if len(values) not in (1, n):
        raise SpecError(f"{name} has {len(values)} values for {n} hidden layers: give one "
                        "value, or one per layer.")
    return values * n if len(values) == 1 else list(values)


def _with_layers(s: RunSettings, layers: list[LayerSpec]) -> RunSettings:
    return replace(s, spec=replace(s.spec, hidden=layers))


def _set_hidden(s: RunSettings, units: list[int]) -> RunSettings:
    """New sizes; layer i keeps the settings of the base's layer i (or of its last layer)."""
    old = s.spec.hidden or [LayerSpec(1)]
    return _with_layers(s, [replace(copy.deepcopy(old[min(i, len(old) - 1)]), units=u)
                            for i, u in enumerate(units)])  # fmt: skip


def _set_activation(s: RunSettings, text: str) -> RunSettings:
    names = _per_layer([a.strip() for a in text.split(",")], len(s.spec.hidden), "activation")
    return _with_layers(s, [replace(layer, activation=replace(layer.activation, name=name))
                            for layer, name in zip(s.spec.hidden, names, strict=True)])


def _set_activation_field(field: str, custom: bool = False):
    def write(s: RunSettings, value) -> RunSettings:
        layers = []
        for layer in s.spec.hidden:
            act = replace(layer.activation, **{field: value})
            layers.append(replace(layer, activation=replace(act, name="custom")
                                  if custom else act))
        return _with_layers(s, layers)

    return write


def _set_dropout(s: RunSettings, values: list[float]) -> RunSettings:
    drops = _per_layer(values, len(s.spec.hidden), "dropout")
    return _with_layers(s, [replace(layer, dropout=d)
                            for layer, d in zip(s.spec.hidden, drops, strict=True)])


def _set_batch_norm(s: RunSettings, on: bool) -> RunSettings:
    return _with_layers(s, [replace(layer, batch_norm=on) for layer in s.spec.hidden])


def _layers_value(field: str, activation: bool = False):
    """One value if every layer has the same, else the per-layer list."""
    def read(s: RunSettings):
        values = [getattr(layer.activation if activation else layer, field)
                  for layer in s.spec.hidden]
        return values[0] if len(set(map(repr, values))) == 1 else values

    return read


def _custom_formula(s: RunSettings):
    """The custom layers' formula (a list if they differ); "" without custom layers: a formula
    left on a layer since switched to another activation is not in use."""
    values = [layer.activation.formula for layer in s.spec.hidden
              if layer.activation.name == "custom"]
    if not values:
        return ""
    return values[0] if len(set(values)) == 1 else values


def _activation_names(s: RunSettings) -> str:
    names = [layer.activation.name for layer in s.spec.hidden]
    return names[0] if len(set(names)) == 1 else ",".join(names)


# ---- training and data


def _training(name: str, label: str) -> Setting:
    field = name.replace("-", "_")
    return Setting(name, "training", label, lambda s: getattr(s.train, field),
                   lambda s, v: replace(s, train=replace(s.train, **{field: v})))


def _set_remedy(s: RunSettings, remedy: str) -> RunSettings:
    return replace(s, data=replace(s.data, balance=replace(s.data.balance, remedy=remedy)))


def _data_value(read: Callable[[DataConfig], Any]):
    return lambda s: None if s.data is None else read(s.data)


_ALL = [
    Setting("hidden", "network", "Hidden layers (units per layer)",
            lambda s: [layer.units for layer in s.spec.hidden], _set_hidden),
    Setting("activation", "network", "Activation", _activation_names, _set_activation),
    Setting("init", "network", "Weight initialisation", lambda s: s.spec.init,
            lambda s, v: replace(s, spec=replace(s.spec, init=v))),
    Setting("dropout", "network", "Dropout", _layers_value("dropout"), _set_dropout),
    Setting("batch-norm", "network", "Batch normalization", _layers_value("batch_norm"),
            _set_batch_norm, flag=True),
    Setting("leaky-slope", "network", "Leaky ReLU slope", _layers_value("slope", True),
            _set_activation_field("slope")),
    Setting("maxout-pieces", "network", "Maxout pieces", _layers_value("pieces", True),
            _set_activation_field("pieces")),
    Setting("formula", "network", "Custom activation formula", _custom_formula,
            _set_activation_field("formula", custom=True)),
    _training("optimizer", "Optimizer"),
    _training("lr", "Learning rate"),
    _training("momentum", "Momentum"),
    _training("rho", "RMSprop decay (rho)"),
    _training("epsilon", "Epsilon (RMSprop, Adam)"),
    Setting("epsilon-in-sqrt", "training", "Epsilon inside the square root (Keras)",
            lambda s: s.train.epsilon_in_sqrt,
            lambda s, v: replace(s, train=replace(s.train, epsilon_in_sqrt=v)), flag=True),
    _training("weight-decay", "Weight decay (L2)"),
    _training("l1", "L1 penalty"),
    _training("loss", "Loss"),
    _training("schedule", "Learning-rate schedule"),
    _training("step-epochs", "Schedule step (epochs)"),
    _training("gamma", "Schedule factor (gamma)"),
    _training("batch-size", "Batch size"),
    _training("epochs", "Epochs"),
    _training("best-by", "Best epoch by"),
    _training("divergence-factor", "Divergence factor"),
    Setting("normalization", "data", "Input normalization",
            _data_value(lambda d: d.normalization),
            lambda s, v: replace(s, data=replace(s.data, normalization=v))),
    Setting("remedy", "data", "Class-imbalance remedy",
            _data_value(lambda d: d.balance.remedy), _set_remedy),
]
SETTINGS: dict[str, Setting] = {s.name: s for s in _ALL}
# What a pair or a sweep keeps or repeats over, never a setting it varies.
NOT_SETTINGS = {
    "seed": "The seed is what runs are compared at, not a setting to vary: to see how much it "
            "matters, repeat the comparison over several seeds (--seeds N).",
    "device": "The device changes speed, not what is learnt: choose another setting.",
}


def setting(name: str) -> Setting:
    """The setting named `name` ("batch-size", "batch_size" or "--batch-size"), or SpecError
    listing the names there are."""
    key = name.strip().lstrip("-").replace("_", "-").lower()
    if key in NOT_SETTINGS:
        raise SpecError(NOT_SETTINGS[key])
    if key not in SETTINGS:
        raise SpecError(f"Unknown setting '{name.strip()}': choose one of "
                        f"{', '.join(SETTINGS)}.")
    return SETTINGS[key]


def settings_of(kind: str) -> list[Setting]:
    return [s for s in _ALL if s.kind == kind]
