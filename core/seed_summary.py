"""Is a paired difference larger than seed noise? One pair repeated over several seeds.

Each seed gives run A's metric, run B's and their difference d = B - A (paired: both runs of a
seed share weights and batch order, so much of the seed's luck cancels in d). Over n seeds:

    the difference counts as larger than seed noise when |mean(d)| > 2 * std(d) / sqrt(n)

with std the sample standard deviation (n - 1). That is, the mean difference lies more than
two standard errors from zero: about a 95% interval for many seeds; with 3-5 seeds it is
lenient (Student's t would ask for 2.8-4.3 standard errors), so read "beyond noise" at n = 3 as
"worth repeating with more seeds", not as proof. One seed cannot say anything about noise.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

NOISE_FACTOR = 2.0  # standard errors the mean difference must exceed


@dataclass(frozen=True)
class SeedSummary:
    metric: str  # "accuracy", "loss" or "rmse" (test split)
    seeds: tuple[int, ...]  # the network seed of each repetition
    a: tuple[float, ...]
    b: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.seeds)

    @property
    def differences(self) -> np.ndarray:
        return np.asarray(self.b, np.float64) - np.asarray(self.a, np.float64)

    @staticmethod
    def _mean_std(values) -> tuple[float, float]:
        v = np.asarray(values, np.float64)
        if not len(v) or not np.isfinite(v).all():
            return math.nan, math.nan
        return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else math.nan

    @property
    def mean_std_a(self) -> tuple[float, float]:
        return self._mean_std(self.a)

    @property
    def mean_std_b(self) -> tuple[float, float]:
        return self._mean_std(self.b)

    @property
    def mean_std_difference(self) -> tuple[float, float]:
        return self._mean_std(self.differences)

    @property
    def standard_error(self) -> float:
        return self.mean_std_difference[1] / math.sqrt(self.n) if self.n > 1 else math.nan

    @property
    def beyond_noise(self) -> bool | None:
        """The rule above; None when it cannot be judged (one seed, or a run without a
        result)."""
        mean, _ = self.mean_std_difference
        se = self.standard_error
        if not (math.isfinite(mean) and math.isfinite(se)):
            return None
        return abs(mean) > NOISE_FACTOR * se

    def verdict(self) -> str:
        """One sentence for people."""
        if self.n < 2:
            return ("One seed cannot tell a real difference from seed noise: repeat over "
                    "3-5 seeds.")
        if self.beyond_noise is None:
            return (f"Some runs ended without a test {self.metric} (stopped or diverged), so "
                    "the difference cannot be judged.")
        mean, std = self.mean_std_difference
        unsigned = functools.partial(_number, metric=self.metric, signed=False)
        amount = (f"B - A = {_number(mean, self.metric)} ± {unsigned(std)} (mean ± std over "
                  f"{self.n} seeds)")
        limit = unsigned(NOISE_FACTOR * self.standard_error)
        bound = f"{NOISE_FACTOR:g} × std / √{self.n} = {limit}"
        if self.beyond_noise:
            return f"{amount}: larger than seed noise (|mean| > {bound})."
        return f"{amount}: within seed noise (|mean| ≤ {bound})."

    def to_dict(self) -> dict:
        (ma, sa), (mb, sb), (md, sd) = (self.mean_std_a, self.mean_std_b,
                                        self.mean_std_difference)
        return {
            "metric": f"test_{self.metric}", "seeds": list(self.seeds),
            "a": list(self.a), "b": list(self.b), "difference": self.differences.tolist(),
            "mean_a": _json(ma), "std_a": _json(sa), "mean_b": _json(mb), "std_b": _json(sb),
            "mean_difference": _json(md), "std_difference": _json(sd),
            "rule": f"|mean difference| > {NOISE_FACTOR:g} * std(difference) / sqrt(n)",
            "beyond_noise": self.beyond_noise, "verdict": self.verdict(),
        }


def _number(value: float, metric: str, signed: bool = True) -> str:
    if not math.isfinite(value):
        return "n/a"
    sign = "+" if signed else ""
    return f"{100 * value:{sign}.2f} pp" if metric == "accuracy" else f"{value:{sign}.4f}"


def _json(value: float) -> float | None:
    return value if math.isfinite(value) else None
