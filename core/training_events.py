"""What a run reports: plain, copied data, safe to hand to another thread or process.

The Trainer (core.training) emits these through its callback; History is what a run (and a
session) keeps of them.
"""

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from mlp_studio.core.metrics import Metrics


@dataclass(frozen=True)
class BatchProgress:
    """Losses of the batches run since the previous report (every batch is reported once)."""

    epoch: int  # 1-based
    batch: int  # 1-based, within the epoch
    batches_per_epoch: int
    step: int  # batches run in total
    losses: np.ndarray  # float32, one per batch since the previous report
    samples_per_second: float
    lr: float


@dataclass(frozen=True)
class LayerStats:
    """The vanishing-gradient view: one value per layer (hidden layers, then output)."""

    step: int
    grad_norms: np.ndarray  # L2 norm of each layer's weight gradient
    weight_mean: np.ndarray
    weight_std: np.ndarray
    dead_fraction: np.ndarray  # hidden layers: units whose output is 0 for the whole batch
    saturated_fraction: np.ndarray  # hidden layers: sigmoid/tanh outputs in their flat tails


@dataclass(frozen=True)
class Snapshot:
    """Copies of the weights, and the activations of the probe samples, for live views."""

    step: int
    weights: list[np.ndarray]  # per layer [out, in]
    biases: list[np.ndarray]
    activations: list[np.ndarray] | None  # per hidden layer [P, units], then outputs [P, C]


@dataclass(frozen=True)
class EpochEnd:
    epoch: int
    epochs: int
    train_loss: float
    train_accuracy: float
    val: Metrics
    seconds: float
    lr: float
    best: bool  # the best validation loss so far


@dataclass(frozen=True)
class Halted:
    """The run has stopped between batches because it is paused (a step or resume goes on)."""


@dataclass(frozen=True)
class Diverged:
    message: str  # what happened, what was restored, what to change
    epoch: int
    batch: int  # 0: found at the epoch's end (validation loss or weights)
    cause: str = "loss"  # see core.divergence.CAUSES


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float
    lr: float
    val_confusion: list[list[int]]
    # Regression's validation figures (None for classification, and in sessions saved before
    # they were recorded).
    val_rmse: float | None = None
    val_mae: float | None = None
    val_r2: float | None = None

    @classmethod
    def of(cls, epoch: int, train_loss: float, train_accuracy: float, val: Metrics,
           seconds: float, lr: float) -> "EpochRecord":
        """The record of an epoch validated with `val`."""
        scores = (val.rmse, val.mae, val.r2) if val.regression else (None, None, None)
        return cls(epoch, train_loss, train_accuracy, val.loss, val.accuracy, seconds, lr,
                   np.asarray(val.confusion).tolist(), *scores)


@dataclass
class History:
    epochs: list[EpochRecord] = field(default_factory=list)
    batch_losses: list[float] = field(default_factory=list)
    grad_norms: list[tuple[int, list[float]]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        return cls(
            epochs=[EpochRecord(**e) for e in data.get("epochs", [])],
            batch_losses=[float(v) for v in data.get("batch_losses", [])],
            grad_norms=[(int(s), [float(v) for v in g]) for s, g in data.get("grad_norms", [])],
        )


@dataclass(frozen=True)
class Finished:
    history: History
    test: Metrics | None  # None when stopped before the first epoch ended
    best_epoch: int | None
    stopped: bool  # the user stopped the run
    diverged: Diverged | None
    # Validation loss of the model the run started from, and of the weights it ended with
    # (NaN without validation data): says whether the run made the model worse.
    start_val_loss: float = math.nan
    end_val_loss: float = math.nan
    task: str = "classification"  # or "regression": what the readouts report

    @property
    def regression(self) -> bool:
        return self.task == "regression"

    @property
    def ended_worse(self) -> bool:
        """The run left the model with a higher validation loss than it started with."""
        start, end = self.start_val_loss, self.end_val_loss
        return math.isfinite(start) and not end <= start  # a NaN end is worse too


Event = BatchProgress | LayerStats | Snapshot | EpochEnd | Halted | Diverged | Finished


def merge_progress(events: list) -> list:
    """Consecutive BatchProgress of one epoch become one (their losses in order); other
    events stay as they are, in place. A merged event never spans two epochs, like the
    trainer's. For a reader that fell behind: fewer, larger reports, no loss lost."""
    out: list = []
    run: list[BatchProgress] = []

    def close_run() -> None:
        if len(run) == 1:
            out.append(run[0])
        elif run:
            # The rate over the whole run of events: batches / time, where each event's time
            # is its batches / its rate (batches of one run have the same size).
            last = run[-1]
            batches = sum(len(e.losses) for e in run)
            seconds = sum(len(e.losses) / e.samples_per_second for e in run
                          if e.samples_per_second > 0)  # fmt: skip
            out.append(BatchProgress(
                last.epoch, last.batch, last.batches_per_epoch, last.step,
                np.concatenate([e.losses for e in run]).astype(np.float32, copy=False),
                batches / seconds if seconds > 0 else last.samples_per_second, last.lr,
            ))  # fmt: skip
        run.clear()

    for event in events:
        if isinstance(event, BatchProgress) and (not run or run[-1].epoch == event.epoch):
            run.append(event)
            continue
        close_run()
        if isinstance(event, BatchProgress):
            run.append(event)
        else:
            out.append(event)
    close_run()
    return out
