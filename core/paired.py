"""Paired runs: two runs that differ in exactly one setting, and nothing else.

Both runs use the same seed, start from the same initial weights and see the same batches in
the same order, so a difference in their results comes from the change (or from chance within
one seed: repeat the pair over several seeds to tell, see core.seed_summary). Fingerprints make
the sameness visible: a short SHA-256 of the initial weights' bytes and of the first epoch's
batch order, which the CLI prints and the app shows.

Run B starts from a copy of run A's initial weights whenever the change leaves the layer shapes
alone (so an activation whose He gain differs, a leaky slope, still starts from the same
numbers). Where the change alters shapes (units, depth, maxout pieces) or is the initialisation
itself, the weights cannot be identical: the plan says so, and both still come from the seed.

Both runs train with core.training.Trainer (the GUI: core.training_process); this module only
plans, fingerprints and compares.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
from mlp_studio.core.data import PreparedData
from mlp_studio.core.errors import SpecError
from mlp_studio.core.metrics import Metrics
from mlp_studio.core.model import MLP, build_model
from mlp_studio.core.run_settings import RunSettings, Setting, setting
from mlp_studio.core.seed_summary import SeedSummary
from mlp_studio.core.training import Event, Finished, History, Trainer

HASH_CHARS = 12  # of the SHA-256 hex digest: enough to tell runs apart at a glance


@dataclass(frozen=True)
class PairPlan:
    """Run A (the base) and run B (the base with one setting changed)."""

    base: RunSettings
    changed: RunSettings
    setting: Setting
    old: str  # the base's value, as written on the command line
    new: str

    @property
    def label_a(self) -> str:
        return f"A: {self.setting.name}={self.old}"

    @property
    def label_b(self) -> str:
        return f"B: {self.setting.name}={self.new}"

    @property
    def seed(self) -> int:
        return self.base.train.seed

    @property
    def same_shapes(self) -> bool:
        return _shapes(self.base) == _shapes(self.changed)

    @property
    def same_weights(self) -> bool:
        """Whether B can start from A's exact initial weights."""
        return self.same_shapes and self.setting.name != "init"

    def notes(self) -> list[str]:
        """Why some part of the two runs cannot be the same (empty: only the setting differs)."""
        out = []
        seeds = f"network seed {self.base.spec.seed}, data-order seed {self.seed}"
        if not self.same_shapes:
            out.append(f"Changing {self.setting.name} changes the layer shapes, so the initial "
                       f"weights cannot be identical; both runs draw theirs from the same seed "
                       f"({seeds}).")
        elif not self.same_weights:
            out.append("The change is the initialisation itself, so the initial weights differ "
                       f"by design; both are drawn from the same seed ({seeds}).")
        if self.setting.name == "batch-norm":
            out.append("Batch normalization adds scale and shift parameters (starting at 1 and "
                       "0); the weights hash covers the linear layers both runs share.")
        if self.setting.name == "batch-size":
            out.append("Both runs shuffle the samples in the same order, but cut it into "
                       "batches of different sizes, so the batch-order hashes differ.")
        if self.setting.name == "remedy":
            out.append("Over- and undersampling change the training set itself, so its order "
                       "cannot match; class weights keep the same samples and order.")
        return out

    def with_seed(self, seed_offset: int) -> PairPlan:
        """The same pair with both seeds (network and data order) moved by `seed_offset`."""
        def moved(s: RunSettings) -> RunSettings:
            return replace(s, spec=replace(s.spec, seed=s.spec.seed + seed_offset),
                           train=replace(s.train, seed=s.train.seed + seed_offset))

        return replace(self, base=moved(self.base), changed=moved(self.changed))


def _shapes(settings: RunSettings) -> list[int]:
    return [layer.width for layer in settings.spec.hidden]


def parse_change(text: str) -> tuple[str, str]:
    """ "activation=sigmoid" -> ("activation", "sigmoid"); SpecError if there is no '='."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise SpecError(f"--change '{text}' is not NAME=VALUE: write e.g. --change "
                        "activation=sigmoid or --change lr=0.01.")
    return name.strip(), value.strip()


def plan_pair(base: RunSettings, name: str, value: str | object,
              by_label: bool = False) -> PairPlan:
    """The pair of `base` and `base` with setting `name` set to `value` (text as on the command
    line, or an already parsed value). SpecError if the setting is unknown, the value is not
    allowed, or it is what the base already has; `by_label`: messages name the setting by its
    label, as a form shows it (core.run_settings.Setting.parse), not by its option."""
    problems = base.problems()
    if problems:
        raise SpecError(f"The base run cannot train: {' '.join(problems)}")
    chosen = setting(name)
    parsed = chosen.parse(value, by_label) if isinstance(value, str) else value
    changed = chosen.apply(base, parsed, by_label)
    old, new = chosen.show(base), chosen.show(changed)
    if changed == base:
        what, run = (chosen.label, "run A") if by_label else (chosen.name, "the base run")
        raise SpecError(f"{what} is already {old} in {run}: choose a different value, or "
                        "another setting.")
    return PairPlan(base, changed, chosen, old, new)


# ---- fingerprints


@dataclass(frozen=True)
class Fingerprint:
    """Short SHA-256 hex digests of what a run starts with."""

    weights: str  # the linear layers' initial weights and biases (shapes and bytes, in order)
    order: str  # the first epoch's batches: sample order, batch size, training-set size


def weights_hash(model: MLP) -> str:
    digest = hashlib.sha256()
    for linear in model.linears:
        for tensor in (linear.weight, linear.bias):
            array = tensor.detach().cpu().contiguous().numpy()
            digest.update(repr(array.shape).encode())
            digest.update(array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes())
    return digest.hexdigest()[:HASH_CHARS]


def first_epoch_order(seed: int, n: int) -> torch.Tensor:
    """The training-set order of a run's first epoch: what core.training.Trainer draws from
    its generator seeded with the run's seed (a test checks the two agree)."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


def order_hash(seed: int, n: int, batch_size: int) -> str:
    order = first_epoch_order(seed, n).numpy().astype("<i8")
    digest = hashlib.sha256(f"{n} {min(batch_size, n)}".encode())
    digest.update(order.tobytes())
    return digest.hexdigest()[:HASH_CHARS]


def fingerprint(model: MLP, settings: RunSettings, data: PreparedData) -> Fingerprint:
    train = settings.train
    return Fingerprint(weights_hash(model),
                       order_hash(train.seed, len(data.x_train), train.batch_size))


def initial_models(plan: PairPlan) -> tuple[MLP, MLP]:
    """The two runs' initial models: B with A's very weights wherever the change allows."""
    a = build_model(plan.base.spec)
    b = build_model(plan.changed.spec)
    if plan.same_weights:
        with torch.no_grad():
            for source, target in zip(a.linears, b.linears, strict=True):
                target.weight.copy_(source.weight)
                target.bias.copy_(source.bias)
    return a, b


# ---- results


@dataclass(frozen=True)
class RunOutcome:
    """What one run of a pair ended with."""

    label: str
    fingerprint: Fingerprint
    history: History
    test: Metrics | None  # None when stopped before the first epoch ended
    best_epoch: int | None
    stopped: bool
    diverged: str | None

    @classmethod
    def of(cls, label: str, start: Fingerprint, finished: Finished) -> RunOutcome:
        return cls(label, start, finished.history, finished.test, finished.best_epoch,
                   finished.stopped, None if finished.diverged is None
                   else finished.diverged.message)

    def metric(self, name: str) -> float:
        """ "accuracy", "loss" or "rmse" on the test split; NaN without test results."""
        if self.test is None:
            return math.nan
        return float(getattr(self.test, name))

    def grad_norms(self) -> np.ndarray | None:
        """Each layer's weight-gradient norm (hidden layers, then output), averaged over the
        steps the run recorded; None if it recorded none."""
        rows = [norms for _, norms in self.history.grad_norms]
        return np.asarray(rows, np.float64).mean(axis=0) if rows else None


@dataclass(frozen=True)
class PairResult:
    plan: PairPlan  # with the seeds this pair ran with
    a: RunOutcome
    b: RunOutcome

    @property
    def same_start(self) -> bool:
        return self.a.fingerprint.weights == self.b.fingerprint.weights

    @property
    def same_order(self) -> bool:
        return self.a.fingerprint.order == self.b.fingerprint.order

    def f1_difference(self) -> np.ndarray | None:
        """B's per-class F1 minus A's on the test split; None without test results for both."""
        if self.a.test is None or self.b.test is None or not len(self.a.test.f1):
            return None
        return self.b.test.f1 - self.a.test.f1


def run_pair(
    plan: PairPlan,
    data_for: Callable[[RunSettings], PreparedData],
    on_event: Callable[[str, Event], None] | None = None,
    on_trained: Callable[[Trainer], None] | None = None,
    on_start: Callable[[Trainer], None] | None = None,
) -> PairResult:
    """Train A, then B, each with core.training.Trainer in this process (the command line;
    the app runs each in core.training_process). `data_for` prepares a run's data (called
    again for B only when the change is a data setting); `on_event(label, event)` sees both
    runs' events; `on_start(trainer)` and `on_trained(trainer)` each run's trainer before it
    trains and when it has finished (A first)."""
    data_a = data_for(plan.base)
    data_b = data_for(plan.changed) if plan.setting.kind == "data" else data_a
    model_a, model_b = initial_models(plan)
    outcomes = []
    for label, model, settings, data in ((plan.label_a, model_a, plan.base, data_a),
                                         (plan.label_b, model_b, plan.changed, data_b)):
        start = fingerprint(model, settings, data)
        report = (lambda event, label=label: on_event(label, event)) if on_event else None
        trainer = Trainer(model, data, settings.train, on_event=report)
        if on_start is not None:
            on_start(trainer)
        finished = trainer.run()
        outcomes.append(RunOutcome.of(label, start, finished))
        if on_trained is not None:
            on_trained(trainer)
    return PairResult(plan, *outcomes)


def repeat_pair(
    plan: PairPlan,
    seeds: int,
    data_for: Callable[[RunSettings], PreparedData],
    on_event: Callable[[str, Event], None] | None = None,
    on_pair: Callable[[int, PairResult], None] | None = None,
    on_trained: Callable[[Trainer], None] | None = None,
    on_start: Callable[[Trainer], None] | None = None,
) -> list[PairResult]:
    """The pair over `seeds` seeds: the base's, then each one higher (network and order seeds
    alike). `on_pair(i, result)` after each."""
    results = []
    for i in range(seeds):
        results.append(run_pair(plan.with_seed(i), data_for, on_event, on_trained, on_start))
        if on_pair is not None:
            on_pair(i, results[-1])
    return results


def summarize(results: list[PairResult], metric: str = "accuracy") -> SeedSummary:
    """Test `metric` of each seed's A and B: "accuracy", or for a regression "rmse" (in the
    target's units: two runs' losses may be on differently scaled targets)."""
    return SeedSummary(metric, tuple(r.plan.base.spec.seed for r in results),
                       tuple(r.a.metric(metric) for r in results),
                       tuple(r.b.metric(metric) for r in results))
