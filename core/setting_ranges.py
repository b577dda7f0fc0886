"""The allowed range of every number a person types: one table for the forms and the checks.

The GUI's spin boxes take their limits from here, and say on the spot why a typed value out of
range is not taken; TrainConfig.problems() and NetworkSpec.problems() word their messages from
the same entries, so the form, the CLI and a session file agree on what is allowed and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class NumberRange:
    label: str  # how a message names the setting: "Learning rate"
    low: float
    high: float
    whole: bool = False  # a whole number (the form uses an integer spin box)
    hint: str = ""  # typical values, said after the range

    def contains(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.whole and not isinstance(value, int):
            return False
        return math.isfinite(value) and self.low <= value <= self.high

    def allowed(self) -> str:
        """ "between 1e-06 and 10" or "a whole number from 1 to 100,000"."""
        if self.whole:
            return f"a whole number from {self.low:,} to {self.high:,}"
        return f"between {_number(self.low)} and {_number(self.high)}"

    def span(self) -> str:
        """ "1e-6 to 10", "1 to 100,000": the range in a few characters."""
        if self.whole:
            return f"{self.low:,} to {self.high:,}"
        return f"{_number(self.low)} to {_number(self.high)}"

    def problem(self, value: object) -> str | None:
        """None if `value` is allowed, else what is wrong and what to do."""
        if self.contains(value):
            return None
        hint = f" (typical: {self.hint})" if self.hint else ""
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if not numeric or (self.whole and not isinstance(value, int)):
            return f"{self.label} {value!r} is not allowed: it must be {self.allowed()}{hint}."
        return f"{self.label} {_number(value)} is out of range: it must be {self.allowed()}{hint}."


def _number(value: float) -> str:
    """1000000.0 -> "1e6", 0.5 -> "0.5", 12 -> "12"."""
    if isinstance(value, int):
        return str(value)
    return f"{value:g}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


MAX_UNITS = 65536

RANGES: dict[str, NumberRange] = {
    # training (TrainConfig)
    "lr": NumberRange("Learning rate", 1e-6, 10.0, hint="0.001 for Adam, 0.01-0.1 for SGD"),
    "momentum": NumberRange("Momentum", 0.0, 0.999, hint="0.9"),
    "rho": NumberRange("RMSprop ρ", 0.0, 0.9999, hint="0.9 (Keras) or 0.99 (PyTorch)"),
    "epsilon": NumberRange("Epsilon", 0.0, 1.0, hint="1e-7 (Keras) or 1e-8 (PyTorch)"),
    "gamma": NumberRange("Schedule factor γ", 0.01, 1.0, hint="0.1 to 0.5"),
    "weight_decay": NumberRange("Weight decay", 0.0, 1.0, hint="0 to 0.0001"),
    "l1": NumberRange("L1", 0.0, 1.0, hint="0 to 0.0001"),
    "batch_size": NumberRange("Batch size", 1, 1_000_000, whole=True, hint="32 to 256"),
    "epochs": NumberRange("Epochs", 1, 100_000, whole=True, hint="5 to 50 for MNIST"),
    "step_epochs": NumberRange("Schedule step", 1, 100_000, whole=True),
    "stats_every": NumberRange("Stats every", 1, 1_000_000, whole=True),
    "seed": NumberRange("Training seed", 0, 2**31 - 1, whole=True),
    # the network (NetworkSpec)
    "units": NumberRange("Neurons", 1, MAX_UNITS, whole=True, hint="16 to 512"),
}


def range_of(name: str) -> NumberRange:
    return RANGES[name]


def range_problem(name: str, value: object) -> str | None:
    """None if `value` is allowed for setting `name`, else the message that says why not."""
    return RANGES[name].problem(value)
