"""Checkpoints: a model's weights (and its optimizer's state) at the start of a run, at every
epoch's end and on Stop, kept within a memory budget the user sets.

When the checkpoints outgrow the budget they are thinned: only every 2nd epoch is kept, then
every 4th, and so on, so the whole run stays covered. Each run's first, best and last
checkpoints are always kept. Arrays are float32 copies, never views: branching from a
checkpoint must start from exactly the weights it holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from mlp_studio.core.errors import SpecError
from mlp_studio.core.optimizers import OptimizerState

DEFAULT_BUDGET_MB = 256
MAX_STRIDE = 1 << 20  # every millionth epoch: beyond this only first, best and last remain
KINDS = ("start", "epoch", "stop")


def budget_problem(megabytes: object) -> str | None:
    """What is wrong with a checkpoint budget (in MB), or None."""
    if isinstance(megabytes, bool) or not isinstance(megabytes, int | float):
        return f"The checkpoint budget {megabytes!r} is not a number: give megabytes, e.g. 256."
    if not math.isfinite(megabytes) or megabytes <= 0:
        return (f"A checkpoint budget of {megabytes:g} MB keeps no checkpoints, so there would "
                f"be nothing to scrub back to: give at least 1 MB (default {DEFAULT_BUDGET_MB}).")
    return None


def check_budget(megabytes: object) -> float:
    """The budget in MB; SpecError with what to change if it cannot be one."""
    problem = budget_problem(megabytes)
    if problem:
        raise SpecError(problem)
    return float(megabytes)


@dataclass(frozen=True)
class Checkpoint:
    """The model of run `run` after `epoch` epochs (and `batch` more batches: a Stop mid-epoch).

    `step` counts the batches its lineage had trained by then (where a branch cuts the batch
    losses). `weights` is the model's state_dict as float32 arrays; `optimizer` where the
    optimizer was (arrays for tensors), None if it was not kept or not yet started."""

    run: int
    epoch: int
    weights: dict[str, np.ndarray]
    optimizer: OptimizerState | None = None
    batch: int = 0
    step: int = 0
    kind: str = "epoch"

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.run, self.epoch, self.batch)

    @property
    def nbytes(self) -> int:
        size = sum(v.nbytes for v in self.weights.values())
        if self.optimizer is not None:
            for values in self.optimizer.state_dict["state"].values():
                size += sum(v.nbytes for v in values.values() if isinstance(v, np.ndarray))
        return size

    def label(self) -> str:
        """'epoch 5', 'start (epoch 0)', 'epoch 3 + 120 batches (stopped)'."""
        if self.kind == "start":
            return f"start (epoch {self.epoch})"
        if self.batch:
            return f"epoch {self.epoch} + {self.batch} batches (stopped)"
        return f"epoch {self.epoch}" + (" (stopped)" if self.kind == "stop" else "")


def weights_of(state: dict) -> dict[str, np.ndarray]:
    """A state_dict (tensors or arrays) as float32-or-own-dtype array copies."""
    out = {}
    for name, value in state.items():
        array = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        out[name] = array.copy()
    return out


def finite(weights: dict[str, np.ndarray]) -> bool:
    return all(np.isfinite(v).all() for v in weights.values() if v.dtype.kind == "f")


@dataclass
class CheckpointStore:
    """The checkpoints of every run of one tree, thinned to `budget_mb` (see module doc)."""

    budget_mb: float = DEFAULT_BUDGET_MB
    items: list[Checkpoint] = field(default_factory=list)
    stride: int = 1  # unprotected checkpoints are kept only at epochs divisible by it
    best: dict[int, tuple[int, int]] = field(default_factory=dict)  # run -> (epoch, batch)

    def __post_init__(self) -> None:
        self.budget_mb = check_budget(self.budget_mb)
        self._reindex()

    def _reindex(self) -> None:
        """The running totals add() keeps, from the items (after a full pass over them)."""
        self._nbytes = sum(c.nbytes for c in self.items)
        self._keys = {c.key for c in self.items}
        self._first: dict[int, tuple[int, int, int]] = {}
        for c in self.items:
            self._first.setdefault(c.run, c.key)

    @property
    def budget_bytes(self) -> int:
        return int(self.budget_mb * 1024 * 1024)

    @property
    def nbytes(self) -> int:
        return self._nbytes

    @property
    def over_budget(self) -> bool:
        """Even the protected checkpoints (first, best, last of each run) exceed the budget."""
        return self.nbytes > self.budget_bytes

    def set_budget(self, megabytes: object) -> None:
        """A new budget (SpecError if it is not a positive number of MB); thins now. A larger
        budget keeps what comes next more densely; thinned checkpoints do not come back."""
        self.budget_mb = check_budget(megabytes)
        if self.nbytes <= self.budget_bytes:
            # Room again: new checkpoints are kept at every epoch until the budget fills.
            self.stride = 1
        self._thin()

    def add(self, checkpoint: Checkpoint, best: bool = False) -> None:
        """Keep `checkpoint` (the newest of its run). Cheap at every epoch, also for the
        Playground's hundreds a second: the full thinning runs only when the budget fills."""
        if checkpoint.kind not in KINDS:
            raise ValueError(f"unknown checkpoint kind {checkpoint.kind!r}")
        if checkpoint.key in self._keys:  # the same epoch again (a run after going back)
            self.items = [c for c in self.items if c.key != checkpoint.key]
            self._reindex()
        previous = self._last_of(checkpoint.run)
        if best:
            self.best[checkpoint.run] = (checkpoint.epoch, checkpoint.batch)
        self.items.append(checkpoint)
        self._nbytes += checkpoint.nbytes
        self._keys.add(checkpoint.key)
        self._first.setdefault(checkpoint.run, checkpoint.key)
        if (previous is not None and not self._aligned(previous)
                and previous.key != self._first[checkpoint.run]
                and previous.key[1:] != self.best.get(checkpoint.run)):
            # It was kept as its run's last: off the stride, it goes unless first or best.
            self._remove(previous)
        if self._nbytes > self.budget_bytes:
            self._thin()

    def _remove(self, checkpoint: Checkpoint) -> None:
        for i in range(len(self.items) - 1, -1, -1):  # a run's last is near the end
            if self.items[i] is checkpoint:
                del self.items[i]
                break
        self._nbytes -= checkpoint.nbytes
        self._keys.discard(checkpoint.key)

    def _last_of(self, run: int) -> Checkpoint | None:
        return next((c for c in reversed(self.items) if c.run == run), None)

    def _aligned(self, checkpoint: Checkpoint) -> bool:
        return checkpoint.batch == 0 and checkpoint.epoch % self.stride == 0

    def mark_best(self, run: int, epoch: int | None) -> None:
        """The run's best epoch (kept whatever the thinning), when known after the run."""
        if epoch is not None:
            self.best[run] = (epoch, 0)

    def of_run(self, run: int) -> list[Checkpoint]:
        """The run's checkpoints, oldest first."""
        return [c for c in self.items if c.run == run]

    def find(self, key: tuple[int, int, int]) -> Checkpoint | None:
        return next((c for c in self.items if c.key == key), None)


    def _protected(self) -> set[tuple[int, int, int]]:
        keep: set[tuple[int, int, int]] = set()
        runs: dict[int, list[Checkpoint]] = {}
        for c in self.items:
            runs.setdefault(c.run, []).append(c)
        for run, items in runs.items():
            keep.add(items[0].key)
            keep.add(items[-1].key)
            best = self.best.get(run)
            if best is not None:
                keep.add((run, *best))
        return keep

    def _thin(self) -> None:
        protected = self._protected()

        def keep() -> None:
            self.items = [c for c in self.items if c.key in protected or self._aligned(c)]
            self._reindex()

        keep()
        while self._nbytes > self.budget_bytes and self.stride < MAX_STRIDE:
            self.stride *= 2
            keep()

    def describe(self) -> str:
        """'42 checkpoints, 118 MB of 256 MB, every 2nd epoch kept' for the user."""
        n, used = len(self.items), self.nbytes / 1024 / 1024
        text = f"{n} checkpoint{'s' if n != 1 else ''}, {used:.3g} MB of {self.budget_mb:g} MB"
        if self.stride > 1:
            text += f", every {_ordinal(self.stride)} epoch kept"
        if self.over_budget:
            text += " (first, best and last of each run are always kept: raise the budget)"
        return text


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
