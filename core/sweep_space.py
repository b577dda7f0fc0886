"""What a sweep varies: `--param NAME=SPEC` parsed against the train command's own options.

SPEC is `LOW..HIGH` (uniform), `LOW..HIGH:log` (log-uniform, for rates) or `A,B,C` (choices).
NAME is a setting of core.run_settings (lr, hidden, activation, dropout, batch-size, optimizer,
weight-decay, ...), the same table paired runs change one setting of: a trial's values are
applied through it to the run's settings, and each option's type and allowed values come from
the train parser, so nothing here repeats them. For options that take a list per layer (hidden,
dropout, activation) a number applies to every layer of the fixed network, and a choice may
spell a whole list with `/` between layers: `hidden=64,128,256/128`.
"""

from __future__ import annotations

import argparse
import copy
import math
from dataclasses import dataclass
from typing import Any

from mlp_studio.core.errors import StudioError
from mlp_studio.core.run_settings import SETTINGS, RunSettings, Setting

# Options that say where data or output goes, or which machine trains and on how many
# threads: never part of what makes two sweeps the same study. A preset is applied to the
# fixed options before the sweep starts.
NOT_SWEPT = frozenset({"data", "no_download", "device", "threads", "help", "preset"})
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


@dataclass(frozen=True)
class Option:
    """One train option as the sweep sees it."""

    dest: str  # argparse dest: "batch_size"
    flag: str  # "--batch-size"
    kind: str  # "float" | "int" | "text" | "switch" | "floats" | "ints" (a list per layer)
    choices: tuple[str, ...] | None
    parse: Any  # the option's own argparse type (None for text and switches)

    @property
    def name(self) -> str:
        return self.flag[2:]

    @property
    def setting(self) -> Setting:
        """How a value changes a run's settings (looked up, not kept: a sweep travels to its
        worker processes pickled, and settings hold functions)."""
        return SETTINGS[self.name]

    @property
    def numeric(self) -> bool:
        return self.kind in ("float", "int", "floats", "ints")

    @property
    def integral(self) -> bool:
        return self.kind in ("int", "ints")


@dataclass(frozen=True)
class Param:
    """One swept setting: a range (low..high, maybe log) or choices."""

    option: Option
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] | None = None  # str, int, float or bool: what Optuna stores

    @property
    def name(self) -> str:
        return self.option.name

    def text(self) -> str:
        """The canonical `NAME=SPEC`, as a person would write it."""
        if self.choices is not None:
            return f"{self.name}={','.join(_show(c) for c in self.choices)}"
        return f"{self.name}={_show(self.low)}..{_show(self.high)}{':log' if self.log else ''}"

    def suggest(self, trial) -> Any:
        """This trial's value, from an Optuna trial (its name in the study is the option's)."""
        if self.choices is not None:
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.option.integral:
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)

    def grid(self) -> list[Any]:
        if self.choices is None:
            raise StudioError(f"--param {self.text()}: the grid sampler needs choices (A,B,C) "
                              "for every setting, not a range: list the values, or use "
                              "--sampler tpe or random.")
        return list(self.choices)

    def apply(self, settings: RunSettings, value: Any) -> RunSettings:
        """A copy of `settings` with this trial's `value` (SpecError if it cannot run)."""
        return self.option.setting.apply(settings, setting_value(self.option, value, settings))


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def train_options(parser: argparse.ArgumentParser) -> dict[str, Option]:
    """The sweepable options of a parser holding the train arguments, by name ("batch-size"):
    the settings of core.run_settings, typed as the parser reads them."""
    options = {}
    for action in parser._actions:  # argparse has no public list of its options
        flag = next((s for s in action.option_strings if s.startswith("--")), None)
        if flag is None or flag[2:] not in SETTINGS:
            continue
        kind = _kind(action)
        if kind is None:
            continue
        choices = tuple(action.choices) if action.choices is not None else None
        options[flag[2:]] = Option(action.dest, flag, kind, choices, action.type)
    return options


def _kind(action: argparse.Action) -> str | None:
    if action.nargs == 0:
        return "switch" if action.const is True else None
    if action.type is None:
        return "text"
    if action.type in (int, float):
        return action.type.__name__
    sample = action.type("1")
    if isinstance(sample, list):
        return "ints" if all(isinstance(v, int) for v in sample) else "floats"
    return None


def setting_value(option: Option, value: Any, settings: RunSettings) -> Any:
    """What the option's setting takes for a trial's value: a list per layer for a list option
    (a number means that number for every hidden layer of `settings`; `256/128` one per layer),
    `relu/tanh` as `relu,tanh`."""
    if option.kind in ("ints", "floats"):
        if isinstance(value, str):
            return option.parse(value.replace("/", ","))
        return [value] * max(1, len(settings.spec.hidden))
    if option.kind == "text" and option.dest == "activation" and isinstance(value, str):
        return value.replace("/", ",")
    return value


_DATA = ("it changes the data the trials are measured on, and their figures would no longer "
         "compare; give it as a fixed option instead")
_NOT_SWEPT_WHY = {
    "seed": "the seed picks the random start, not what is learnt; to see how much it matters, "
            "repeat a comparison over seeds (mlp-studio pair --seeds N)",
    "device": "the device changes the speed, not what is learnt",
    "threads": "threads change the speed, not what is learnt; --workers K runs K trials at once",
    **{name: _DATA for name in ("split", "split-seed", "random-split", "val-fraction",
                                 "val-count", "percentages", "subset", "target-digit",
                                 "keep-fractions", "long-tail", "target", "task")},
}


def parse_param(text: str, options: dict[str, Option]) -> Param:
    """`NAME=SPEC` -> Param; StudioError (one line, what to write instead) if impossible."""
    name, sep, spec = text.partition("=")
    name, spec = name.strip().lstrip("-"), spec.strip()
    where = f"--param {text}"
    if not sep or not name:
        raise StudioError(f"{where}: write NAME=SPEC, e.g. lr=1e-4..1e-1:log, hidden=64,128,256 "
                          "or dropout=0..0.5.")
    option = options.get(name) or options.get(name.replace("_", "-"))
    why = _NOT_SWEPT_WHY.get(name.replace("_", "-").lower())
    if option is None and why is not None:
        raise StudioError(f"{where}: {name} is not swept: {why}.")
    if option is None:
        raise StudioError(f"{where}: unknown setting '{name}'. Settings a sweep can vary: "
                          f"{', '.join(sorted(options))}.")
    if not spec:
        raise StudioError(f"{where}: no values after '=': give LOW..HIGH, LOW..HIGH:log or "
                          "A,B,C.")
    if ".." in spec:
        return _parse_range(where, option, spec)
    return _parse_choices(where, option, spec)


def _parse_range(where: str, option: Option, spec: str) -> Param:
    body, _, suffix = spec.partition(":")
    if suffix not in ("", "log"):
        raise StudioError(f"{where}: ':{suffix}' is not a scale; the only one is ':log'.")
    if not option.numeric:
        raise StudioError(f"{where}: {option.name} is not a number, so it has no range: list "
                          f"its values as A,B,C{_allowed(option)}.")
    low_text, _, high_text = body.partition("..")
    number = int if option.integral else float
    try:
        low, high = number(low_text.strip()), number(high_text.strip())
    except ValueError:
        what = "whole numbers" if option.integral else "numbers"
        raise StudioError(f"{where}: the range needs two {what}, LOW..HIGH, e.g. "
                          f"{'32..512' if option.integral else '0.0001..0.1'}.") from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise StudioError(f"{where}: the range's ends must be finite numbers.")
    if low > high:
        raise StudioError(f"{where}: low {low:g} is above high {high:g}: write "
                          f"{option.name}={high:g}..{low:g}.")
    log = suffix == "log"
    if log and low <= 0:
        raise StudioError(f"{where}: a log range must stay above zero, but it starts at "
                          f"{low:g}: start at a small positive value, e.g. "
                          f"{option.name}={'1' if option.integral else '1e-5'}..{high:g}:log, "
                          "or drop ':log'.")
    return Param(option, float(low) if not option.integral else low,
                 float(high) if not option.integral else high, log)


def _parse_choices(where: str, option: Option, spec: str) -> Param:
    items = [item.strip() for item in spec.split(",")]
    if not any(items):
        raise StudioError(f"{where}: no choices: list at least one value, A,B,C"
                          f"{_allowed(option)}.")
    if not all(items):
        raise StudioError(f"{where}: an empty choice between commas: remove the extra comma.")
    values = []
    for item in items:
        values.append(_choice(where, option, item))
    if len(set(values)) != len(values):
        raise StudioError(f"{where}: a value is listed twice: list each choice once.")
    return Param(option, choices=tuple(values))


def _choice(where: str, option: Option, item: str) -> Any:
    if option.kind == "switch":
        if item.lower() in _TRUE:
            return True
        if item.lower() in _FALSE:
            return False
        raise StudioError(f"{where}: {option.name} is on or off: write {option.name}=true,false.")
    if option.choices is not None and item not in option.choices:
        raise StudioError(f"{where}: '{item}' is not a value of {option.name}{_allowed(option)}.")
    try:
        if option.kind in ("int", "float"):
            return option.parse(item)
        if option.kind in ("ints", "floats"):
            values = option.parse(item.replace("/", ","))
            if not values:
                raise ValueError
            return values[0] if len(values) == 1 else "/".join(_show(v) for v in values)
    except (ValueError, argparse.ArgumentTypeError):
        what = "whole number" if option.integral else "number"
        layers = " (layers separated by /)" if option.kind in ("ints", "floats") else ""
        raise StudioError(f"{where}: '{item}' is not a {what}{layers}.") from None
    return item


def _allowed(option: Option) -> str:
    return f" (one of: {', '.join(option.choices)})" if option.choices else ""


def base_settings(args: argparse.Namespace, input_size: int = 784,
                  output_size: int = 10) -> RunSettings:
    """The run the fixed train options `args` describe, by the train command's own conversions
    (StudioError if they cannot make one)."""
    from mlp_studio.core.cli.arguments import (
        data_config_from_args,
        spec_from_args,
        train_config_from_args,
    )

    return RunSettings(spec_from_args(args, output_size, input_size),
                       train_config_from_args(args), data_config_from_args(args))


def trial_run(args: argparse.Namespace, params: list[Param], values: dict[str, Any],
              input_size: int, output_size: int) -> RunSettings:
    """The run of a trial: the fixed options' run with each param's value in `values` applied
    (SpecError if it cannot run)."""
    settings = base_settings(args, input_size, output_size)
    for param in params:
        if param.name in values:
            settings = param.apply(settings, values[param.name])
    return settings


def data_options(args: argparse.Namespace, params: list[Param],
                 values: dict[str, Any]) -> argparse.Namespace:
    """A copy of `args` with the trial's data settings (normalization, remedy) in place, for
    whatever prepares the trial's data from the train options."""
    out = copy.deepcopy(args)
    for param in params:
        if param.option.setting.kind == "data" and param.name in values:
            setattr(out, param.option.dest, values[param.name])
    return out


def extreme_values(param: Param) -> list[Any]:
    """The values worth checking before a sweep starts: the ends of a range, every choice."""
    if param.choices is not None:
        return list(param.choices)
    return [param.low, param.high]


def grid_size(params: list[Param]) -> int:
    return math.prod(len(p.grid()) for p in params)
