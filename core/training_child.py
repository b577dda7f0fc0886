"""The training process's side of core.training_process: what it is sent (Job), what it
sends back at the end (_Final, _Failed), and `serve`, which trains and reports."""

from __future__ import annotations

import queue
import threading
import traceback
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection

import numpy as np
import torch
from mlp_studio.core.data import PreparedData
from mlp_studio.core.epoch_weights import (
    EpochWeights,
    epoch_weights,
    portable,
    state_arrays,
    state_tensors,
    stop_weights,
)
from mlp_studio.core.errors import StudioError
from mlp_studio.core.model import NetworkSpec, build_model
from mlp_studio.core.training import (
    EpochEnd,
    OptimizerState,
    Snapshot,
    TrainConfig,
    Trainer,
    merge_progress,
)


@dataclass
class Job:
    """Everything the child needs; sent once, when it starts."""

    spec: dict
    weights: dict[str, np.ndarray]
    data: PreparedData  # its tensors travel in shared memory
    config: dict
    report_interval: float
    snapshot_interval: float
    start_epoch: int
    threads: int
    paused: bool = False
    steps: int = 0
    probe: np.ndarray | None = None
    optimizer_state: OptimizerState | None = None  # arrays for tensors (see core.epoch_weights)
    stopped: bool = False  # stop() came before the child started: it never does


@dataclass(frozen=True)
class _Final:
    """The child's last message: the weights it ended with and the best epoch's.

    Plain arrays, not tensors: a tensor would travel as a shared-memory handle that the
    parent can only open while the child, which is about to end, still runs."""

    weights: dict[str, np.ndarray]
    best_weights: dict[str, np.ndarray] | None
    best_epoch: int | None
    best_val_loss: float
    optimizer_state: OptimizerState | None  # arrays for tensors (see core.epoch_weights)
    # A Stop mid-epoch: the weights then, before the best epoch's were restored (a checkpoint)
    stop: EpochWeights | None = None


@dataclass(frozen=True)
class _Failed:
    message: str



def serve(commands: Connection, events: Connection, job: Job) -> None:
    """The child process: train, sending events through `events` while a thread answers
    `commands`. Events leave through a sender thread, so training never waits for the
    parent to read; of the snapshots queued, only the newest is sent."""
    torch.set_num_threads(job.threads)
    outbox: queue.SimpleQueue = queue.SimpleQueue()
    sender = threading.Thread(target=_send_all, args=(outbox, events), daemon=True)
    sender.start()
    try:
        model = build_model(NetworkSpec.from_dict(job.spec))
        model.load_state_dict(state_tensors(job.weights))

        def post(event) -> None:
            if isinstance(event, EpochEnd):
                outbox.put(epoch_weights(trainer, event))
            outbox.put(event)

        trainer = Trainer(model, _as_tensors(job.data), TrainConfig.from_dict(job.config),
                          on_event=post, report_interval=job.report_interval,
                          snapshot_interval=job.snapshot_interval, start_epoch=job.start_epoch,
                          optimizer_state=portable(job.optimizer_state, torch.from_numpy))
        if job.probe is not None:
            trainer.set_probe(torch.from_numpy(job.probe))
        if job.paused:
            trainer.pause()
        for _ in range(job.steps):
            trainer.step()
        threading.Thread(target=_obey, args=(commands, trainer), daemon=True).start()
        trainer.run()
        if trainer.snapshot_interval:
            # The trainer may have restored the best epoch's weights: show those.
            outbox.put(trainer.snapshot(len(trainer.history.batch_losses)))
        best = None if trainer.best_state is None else state_arrays(trainer.best_state)
        outbox.put(_Final(state_arrays(model.state_dict()), best, trainer.best_epoch,
                          trainer.best_val_loss, portable(trainer.optimizer_state, np.asarray),
                          stop_weights(trainer)))
    except StudioError as err:
        outbox.put(_Failed(str(err)))
    except Exception as err:  # a bug or an out-of-memory: report it, the parent stays alive
        traceback.print_exc()
        outbox.put(_Failed(f"Training failed: {type(err).__name__}: {err}"))
    finally:
        outbox.put(None)
        sender.join()


_TENSORS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test", "class_weights")



def _copied(data: PreparedData) -> PreparedData:
    """The data with plain arrays for tensors: pickled by value, not through shared memory."""
    return replace(data, **{k: getattr(data, k).numpy() for k in _TENSORS
                            if getattr(data, k) is not None})  # fmt: skip


def _as_tensors(data: PreparedData) -> PreparedData:
    return replace(data, **{k: torch.from_numpy(v) for k in _TENSORS
                            if isinstance(v := getattr(data, k), np.ndarray)})  # fmt: skip


def _send_all(outbox: queue.SimpleQueue, events: Connection) -> None:
    """Send what the trainer queued, in batches: everything waiting goes as one list, with
    consecutive progress reports merged and only the newest snapshot kept. A reader that
    falls behind (its GIL held by a busy GUI thread) then gets fewer, larger messages instead
    of a growing backlog."""
    while True:
        waiting = [outbox.get()]
        while True:
            try:
                waiting.append(outbox.get_nowait())
            except queue.Empty:
                break
        last = waiting[-1] is None
        batch = _compact([m for m in waiting if m is not None])
        if (batch and not _send(events, batch)) or last:
            return


def _compact(messages: list) -> list:
    """merge_progress, and the snapshots but the newest dropped (it takes the last one's
    place, so it still comes after the events before it)."""
    newest = max((i for i, m in enumerate(messages) if isinstance(m, Snapshot)), default=None)
    kept = [m for i, m in enumerate(messages) if not isinstance(m, Snapshot) or i == newest]
    return merge_progress(kept)


def _send(events: Connection, message) -> bool:
    try:
        events.send(message)
        return True
    except OSError:  # the parent has gone: nobody is listening
        return False


def _obey(commands: Connection, trainer: Trainer) -> None:
    while True:
        try:
            name, value = commands.recv()
        except (EOFError, OSError):  # the parent has gone or finished with us: stop
            trainer.stop()
            return
        if name == "probe":
            trainer.set_probe(None if value is None else torch.from_numpy(value))
        else:
            getattr(trainer, name)()

