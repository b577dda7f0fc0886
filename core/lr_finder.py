"""The learning-rate range test (L. Smith, "Cyclical Learning Rates", 2015; fastai's lr_find).

Train for at most `steps` batches while the rate grows exponentially from `start_lr` to
`end_lr`, record the loss of each batch, smooth it (an exponential moving average with bias
correction, so the first points are not pulled towards 0) and stop once the smoothed loss
climbs above `diverge_factor` times its lowest. The model is then put back exactly as it was
(weights, batch-norm statistics, train/eval mode) and the optimizer state it was given is never
written to: the test only looks.

The suggested rate is where the smoothed loss falls fastest per decade of rate, on the way down
to its lowest point (fastai's "steep"): there a step of the optimizer buys the most, and the
rate is still well short of where training turns unstable. It is a rate to start from and decay:
the range test's authors train with it as the peak of a one-cycle or decaying schedule, and
"Use this rate" sets the cosine schedule with it.

Measured on 784-128-10 MNIST, Adam, batches of 128, 3 epochs from the seeded weights with
cosine decay (bench/bench_lr_finder.py, seeds 0, 1, 2): the steepest descent gave 0.00586,
0.00486, 0.00486 and 97.82%, 97.73%, 97.43%; a tenth of the rate at the lowest loss (fastai's
"minimum", this finder's rule before) gave 0.00376 each time and 97.49%, 97.65%, 97.43%; on
seeds 3, 4, 5 97.51%, 97.54%, 97.75% against 97.57%, 97.50%, 97.44% (means over six seeds
97.63% and 97.51%). fastai's default "valley" (the middle of the longest falling stretch) gave
0.00036-0.00091 and 94-96% on five seeds of six, since here the smoothed loss drifts down over the
five decades of rates too small to learn anything.

What decides 97% is the schedule more than the rule. Held constant for 3 epochs, every rate
from 0.0015 to 0.007 ends between 96.7% and 97.4% depending on the seed, none with a safe margin
over 97% (the steepest descent 97.36%, 97.32%, 97.02%, 97.06%, 96.73%, 97.07%; a tenth of the
lowest 96.84%, 97.32%, 97.12%, 97.36%, 97.08%, 97.39%): the last epoch's steps are as large as
the first's. Over the range tests of 20 seeds the steepest descent stayed within 0.0040-0.0071
and a tenth of the lowest within 0.0026-0.0055. The steepest descent over the whole curve once
picked 2.7, a drop back after a spike past the lowest point, which is why only the descent
counts; the first 1/(1 - smoothing) points are left out because an average of so few batches
is mostly their noise. The rule reads the plotted curve, which trails the batch losses by ~9
batches (0.7 decade). With plain SGD (seeds 0, 1, 2) the steepest descent gave 0.292 and
96.2-96.5% held constant (95.9-96.1% decayed: 3 epochs of plain SGD are far from settled), a
tenth of the lowest 0.051-0.156 and 93.2-95.4%.

The smoothing is 0.9, not fastai's 0.98: with 100 batches over eight decades, 0.98 averages
over ~50 batches (four decades of rate), so the curve lags the loss by a factor of ~50 in rate
and its minimum lands far too high; 0.9 averages over ~10 (under a decade).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from mlp_studio.core.data import PreparedData
from mlp_studio.core.errors import SpecError
from mlp_studio.core.losses import canonical_loss, loss_function
from mlp_studio.core.optimizers import OptimizerState, make_optimizer, resume_optimizer
from mlp_studio.core.target_scaling import adopt_target_scaling, scale_values
from mlp_studio.core.train_config import TrainConfig
from mlp_studio.core.training import check_run, pick_device
from torch import nn

MAX_STEPS = 1000
RULE_NAME = "steepest descent"  # short, for the plot's marker
RULE = f"{RULE_NAME} of the smoothed loss"
DECAY_SCHEDULE = "cosine"
DECAY_ADVICE = ("It is a rate to start from and decay (the cosine schedule): held constant it "
                "trains less well in a short run.")
# A lowest loss among the first batches means the loss never fell: nothing to suggest.
SKIP_START = 5


@dataclass(frozen=True)
class RangeTest:
    """How the rate grows during the test."""

    start_lr: float = 1e-7
    end_lr: float = 10.0
    steps: int = 100  # batches at most
    smoothing: float = 0.9  # beta of the moving average of the loss
    diverge_factor: float = 4.0  # stop when the smoothed loss exceeds this times its lowest

    def problems(self) -> list[str]:
        out = []
        lows = (self.start_lr, self.end_lr)
        if not all(isinstance(v, int | float) and math.isfinite(v) and v > 0 for v in lows):
            out.append(f"The rates {self.start_lr:g} to {self.end_lr:g} must be positive "
                       "numbers, e.g. 1e-7 to 10.")
        elif self.start_lr >= self.end_lr:
            out.append(f"The start rate {self.start_lr:g} must be below the end rate "
                       f"{self.end_lr:g}, e.g. 1e-7 to 10.")
        if not (isinstance(self.steps, int) and 10 <= self.steps <= MAX_STEPS):
            out.append(f"The test takes {self.steps} batches: use 10 to {MAX_STEPS} "
                       "(100 is usual).")
        if not (0 <= self.smoothing < 1):
            out.append(f"The smoothing {self.smoothing} must be from 0 up to but not "
                       "including 1 (0.9 here; fastai uses 0.98 over more batches).")
        if not (self.diverge_factor > 1):
            out.append(f"The divergence factor {self.diverge_factor} must be above 1 "
                       "(4 is usual).")
        return out

    @property
    def settled(self) -> int:
        """Batches before the moving average spans its window of 1/(1 - smoothing) batches
        (10 at 0.9), at least SKIP_START: the rule leaves the points before out."""
        return max(SKIP_START, math.ceil(1 / (1 - self.smoothing) - 1e-9))

    def rate(self, step: int) -> float:
        """The rate of batch `step` (0-based): start * (end/start)^(step / (steps - 1))."""
        return self.start_lr * (self.end_lr / self.start_lr) ** (step / (self.steps - 1))


@dataclass(frozen=True)
class LrFinding:
    lrs: list[float]  # the rate of each batch tried
    losses: list[float]  # the smoothed loss after each batch
    raw_losses: list[float]  # each batch's own loss
    suggested_lr: float | None  # None when the curve has no descent to pick from
    suggested_index: int | None  # the point of the curve whose rate is suggested
    lowest_index: int | None  # of the lowest smoothed loss
    diverged: bool  # stopped early because the loss blew up
    cancelled: bool
    note: str  # what happened, in words

    def to_dict(self) -> dict:
        return {"suggested_lr": self.suggested_lr, "rule": RULE, "lrs": self.lrs,
                "losses": self.losses, "raw_losses": self.raw_losses, "diverged": self.diverged,
                "note": self.note}


def lowest_point(losses: list[float]) -> int | None:
    """The index of the lowest loss, or None when it is among the first SKIP_START points
    (the loss only rose)."""
    low = int(np.argmin(losses))
    return low if low >= SKIP_START else None


def steepest_point(lrs: list[float], losses: list[float], skip: int = SKIP_START) -> int | None:
    """The index where the loss falls fastest per decade of rate on the way down to its lowest
    point (the left end of the steepest step, as fastai's "steep"), or None when the loss never
    fell. Only the descent counts: past the lowest point the rate is already too large, and a
    drop back after a spike there would otherwise win (seen on one seed of 20 on MNIST). The
    first `skip` points are left out: a moving average of a few batches is still mostly their
    noise (fastai leaves out the first tenth)."""
    low = lowest_point(losses)
    if low is None or low <= skip:
        return None
    slopes = np.diff(losses[skip:low + 1]) / np.diff(np.log(lrs[skip:low + 1]))
    return skip + int(np.argmin(slopes))


def find_lr(
    model: nn.Module,
    data: PreparedData,
    config: TrainConfig,
    test: RangeTest | None = None,
    optimizer_state: OptimizerState | None = None,
    on_step: Callable[[int, float, float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> LrFinding:
    """Run the range test on `model` with `config`'s optimizer, loss and batch size.

    `optimizer_state` (where the last run's optimizer left off) starts the optimizer as the next
    run would; it is copied, never changed. `on_step(step, lr, smoothed_loss)` is called after
    each batch; `should_stop()` is polled before each (True: stop, the finding is cancelled).
    The model's state and mode are restored whatever happens.
    """
    test = test or RangeTest()
    problems = test.problems()
    if problems:
        raise SpecError(" ".join(problems))
    check_run(data, config)
    device = pick_device(config.device)
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    was_training = model.training
    home = next(model.parameters()).device
    try:
        adopt_target_scaling(model, data, config.loss)  # the losses a run would see
        with torch.random.fork_rng(devices=[]):  # dropout draws from the global generator
            torch.manual_seed(config.seed)
            return _run(model.to(device), data, config, test, optimizer_state, device,
                        on_step, should_stop)
    finally:
        model.to(home)
        model.load_state_dict(saved)
        model.train(was_training)


def _run(model, data, config, test, optimizer_state, device, on_step, should_stop) -> LrFinding:
    weights = None if data.class_weights is None else data.class_weights.to(device)
    loss_fn = loss_function(canonical_loss(config.loss), data.num_classes, weights, data.task)
    optimizer = make_optimizer(list(model.parameters()), config)
    resume_optimizer(optimizer, config, optimizer_state)
    linears = list(model.linears)
    x_train, y_train = data.x_train.to(device), data.y_train.to(device)
    if model.target_scaling is not None:
        y_train = scale_values(y_train, model.target_scaling)
    n = len(x_train)
    batch_size = min(config.batch_size, n)
    generator = torch.Generator().manual_seed(config.seed)
    order = torch.randperm(n, generator=generator)
    model.train()
    lrs: list[float] = []
    raw: list[float] = []
    smoothed: list[float] = []
    avg, best = 0.0, math.inf
    diverged = cancelled = False
    position = 0
    for step in range(test.steps):
        if should_stop is not None and should_stop():
            cancelled = True
            break
        if position + batch_size > n:  # a new pass over the data, shuffled again
            order, position = torch.randperm(n, generator=generator), 0
        idx = order[position:position + batch_size].to(device)
        position += batch_size
        lr = test.rate(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = loss_fn(model.net(x_train[idx]), y_train[idx])  # in the loss's units
        if config.l1:
            loss = loss + config.l1 * sum(lin.weight.abs().sum() for lin in linears)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        value = loss.item()
        if not math.isfinite(value):
            diverged = True
            break
        avg = test.smoothing * avg + (1 - test.smoothing) * value
        current = avg / (1 - test.smoothing ** (step + 1))
        lrs.append(lr)
        raw.append(value)
        smoothed.append(current)
        if on_step is not None:
            on_step(step, lr, current)
        if current > test.diverge_factor * best:
            diverged = True
            break
        best = min(best, current)
        optimizer.step()
    return _finding(lrs, smoothed, raw, diverged, cancelled, test, config.schedule)


def _finding(lrs, smoothed, raw, diverged, cancelled, test, schedule) -> LrFinding:
    low = lowest_point(smoothed) if smoothed else None
    pick = steepest_point(lrs, smoothed, test.settled) if low is not None else None
    suggested = lrs[pick] if pick is not None else None
    end = (f"the loss blew up at rate {lrs[-1]:.3g}" if diverged and lrs
           else "the loss was not a number from the first batch" if diverged
           else "stopped" if cancelled else f"reached the end rate {test.end_lr:g}")
    if suggested is not None:
        note = (f"{len(lrs)} batches, {end}. Suggested rate {suggested:.3g}: the {RULE} "
                f"(lowest smoothed loss {smoothed[low]:.3g} at rate {lrs[low]:.3g}).")
        if schedule == "constant":
            note += f" {DECAY_ADVICE}"
    else:
        note = (f"{len(lrs)} batches, {end}. No rate suggested: the loss did not fall before "
                f"it rose. Try a lower start rate than {test.start_lr:g} or more batches.")
    return LrFinding(lrs, smoothed, raw, suggested, pick, low, diverged, cancelled, note)
