"""The Trainer in a child process: the same controls and events, without sharing a GIL.

A GUI drawing in Python holds the GIL that a training thread needs between every torch call;
on 2 cores that cost a third of the training speed and made the GUI draw less often
(bench/bench_gui_throughput.py). A child process trains with an interpreter of its own.

The child gets the model's spec and weights, the data (its tensors in shared memory, not
copied) and the settings; it sends back the Trainer's events in order, then the final weights,
which `run()` loads into the parent's model. Commands (pause, resume, step, stop, probe) go the
other way and are answered at the next batch boundary, as with a Trainer in a thread.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection

import numpy as np
import torch
import torch.multiprocessing  # noqa: F401 - registers the tensor reductions (shared memory)
from mlp_studio.core.checkpoints import Checkpoint, finite
from mlp_studio.core.data import PreparedData
from mlp_studio.core.epoch_weights import (
    EpochWeights,
    portable,
    state_arrays,
    state_tensors,
)
from mlp_studio.core.errors import StudioError
from mlp_studio.core.target_scaling import adopt_target_scaling
from mlp_studio.core.threads import use_passive_wait
from mlp_studio.core.training import (
    Event,
    Finished,
    OptimizerState,
    TrainConfig,
    check_run,
)
from mlp_studio.core.training_child import Job, _copied, _Failed, _Final, serve
from torch import nn

log = logging.getLogger(__name__)

# Seconds to wait for a stopped child to send its last events and end before killing it.
JOIN_TIMEOUT = 10.0
_GONE = object()  # the reader's last message: the child's pipe reached its end


def context() -> multiprocessing.context.BaseContext:
    """Forkserver where there is one: a child forks from a server that has torch imported
    already (~15 ms) instead of starting Python and importing torch (~1.7 s here).

    torch._dynamo too: the first optimizer step imports it (and sympy), ~1.6 s, which every
    child would pay again."""
    use_passive_wait()  # a server or child started after this loads torch with it (core.threads)
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([__name__, "torch._dynamo"])
        return ctx
    return multiprocessing.get_context("spawn")


def warm_up() -> None:
    """Start the fork server now (it imports torch in the background), so the first run
    starts without waiting for it. Harmless to call again or where there is none."""
    ctx = context()
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


@dataclass
class TrainingProcess:
    """Trains `model` on `data` in a child process; `run()` blocks until the child ends.

    Quacks like a Trainer to its user: pause/resume/step/stop/set_probe from any thread,
    events through `on_event` (called in the thread that runs `run()`, or `poll()` for a
    caller with an event loop of its own: start(), poll() until False, finish()), and afterwards the
    model holds the final weights and best_state/best_epoch/best_val_loss say what was best.
    During the run, `epoch_state` holds the weights at the latest epoch's end and `best_state`
    the best so far, each set before its EpochEnd is passed on.
    """

    model: nn.Module
    data: PreparedData
    config: TrainConfig
    on_event: Callable[[Event], None] = lambda event: None
    report_interval: float = 0.05
    snapshot_interval: float = 0.0
    start_epoch: int = 0
    threads: int = 1
    optimizer_state: OptimizerState | None = None  # in: the last run's; out: this run's
    # Called (in the thread that polls) with each epoch's end, and a Stop mid-epoch, as a
    # Checkpoint of run 0 (the caller knows which run it is) and whether it is the best so far.
    on_checkpoint: Callable[[Checkpoint, bool], None] | None = None
    final_state: dict[str, torch.Tensor] | None = field(default=None, init=False)
    epoch_state: dict[str, torch.Tensor] | None = field(default=None, init=False)
    best_state: dict[str, torch.Tensor] | None = field(default=None, init=False)
    best_epoch: int | None = field(default=None, init=False)
    best_val_loss: float = field(default=math.inf, init=False)

    def __post_init__(self) -> None:
        check_run(self.data, self.config)  # what is wrong is said now, not by the child
        self._lock = threading.Lock()
        self._paused = False
        self._job: Job | None = self._make_job()
        self._commands: Connection | None = None
        self._starting: list[tuple] | None = None  # commands while the child starts
        self._process = None
        # The child's events arrive through a reader thread: a message stops half-sent if the
        # child is stopped from outside (SIGSTOP), and a receive would then block the caller
        # (the GUI thread) until it goes on. `_wake` is readable when the inbox has news.
        self._inbox: queue.SimpleQueue | None = None  # while the child runs
        self._reader: threading.Thread | None = None
        self._wake: tuple[int, int] | None = None
        self._final: _Final | None = None
        self._finished: Finished | None = None
        self._failure: str | None = None

    def _make_job(self) -> Job:
        # The images for display stay here: the child trains on the tensors alone.
        data = replace(self.data, raw_train=None, raw_val=None, raw_test=None, indices={})
        # The child's Trainer does the same: here too, so that the weights shown while it
        # trains (copied into this model) predict in the target's units.
        adopt_target_scaling(self.model, self.data, self.config.loss)
        return Job(self.model.spec.to_dict(), state_arrays(self.model.state_dict()), data,
                   self.config.to_dict(), self.report_interval, self.snapshot_interval,
                   self.start_epoch, self.threads,
                   optimizer_state=portable(self.optimizer_state, np.asarray))

    # ---- control, from any thread ----

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        self._command("pause")

    def resume(self) -> None:
        self._command("resume")

    def step(self) -> None:
        """Run exactly one more batch, then stay paused."""
        self._command("step")

    def stop(self) -> None:
        self._command("stop")

    def set_probe(self, x: torch.Tensor | None) -> None:
        """Samples (normalized, [P, D]) whose activations go into every Snapshot."""
        self._command("probe", None if x is None else x.detach().cpu().numpy().copy())

    def _command(self, name: str, value=None) -> None:
        with self._lock:
            if name in ("pause", "step"):
                self._paused = True
            elif name == "resume":
                self._paused = False
            job = self._job
            if job is not None:  # not started yet: the child starts with it
                job.paused = self._paused
                job.steps += name == "step"
                job.probe = value if name == "probe" else job.probe
                job.stopped |= name == "stop"
            elif self._starting is not None:  # sent once the child runs
                self._starting.append((name, value))
            elif self._commands is not None:
                try:
                    self._commands.send((name, value))
                except OSError:
                    pass  # the child has ended: nothing left to steer

    def kill(self) -> None:
        """End the child now (it stopped answering); run() then returns."""
        with self._lock:
            process = self._process
            if process is not None and process.is_alive():
                process.kill()

    # ---- the run ----

    @staticmethod
    def _start(ctx, commands: Connection, events: Connection, job: Job):
        process = ctx.Process(target=serve, args=(commands, events, job),
                              name="mlp-studio-training", daemon=True)
        process.start()
        return process

    def run(self) -> Finished | None:
        """Start the child and pass its events on until it ends; None if stopped before it
        started. StudioError if the child failed, with a message for the user."""
        if not self.start():
            return None
        while self.poll(None):
            pass
        return self.finish()

    def start(self) -> bool:
        """Start the child (the first start may wait for the fork server to import torch);
        False if stop() came first. Then poll() until it returns False, then finish()."""
        ctx = context()
        commands_out, commands_in = ctx.Pipe(duplex=False)
        events_out, events_in = ctx.Pipe(duplex=False)
        with self._lock:
            job, self._job = self._job, None
            if job.stopped:
                return False
            self._starting = []
        # Not under the lock: the first start waits for the fork server to import torch, and
        # the GUI's pause or stop must not wait with it.
        try:
            process = self._start(ctx, commands_out, events_in, job)
        except RuntimeError as err:
            # Sharing the tensors needs room in /dev/shm (a container's default is 64 MB):
            # without it, the child gets a copy of the data instead.
            log.warning("shared memory refused (%s): copying the data to the child", err)
            job.data = _copied(job.data)
            process = self._start(ctx, commands_out, events_in, job)
        with self._lock:
            self._process, self._commands = process, commands_in
            for command in self._starting:
                commands_in.send(command)
            self._starting = None
        commands_out.close()  # the child's ends: closing ours makes EOF mean "child gone"
        events_in.close()
        self._inbox = queue.SimpleQueue()
        self._wake = os.pipe()
        os.set_blocking(self._wake[0], False)
        os.set_blocking(self._wake[1], False)
        self._reader = threading.Thread(target=_read_events,
                                        args=(events_out, self._inbox, self._wake[1]),
                                        name="mlp-studio-events", daemon=True)
        self._reader.start()
        return True

    def fileno(self) -> int | None:
        """A descriptor that is readable when events have arrived (or the child has gone),
        while it runs: an event loop can watch it instead of polling on a timer."""
        return None if self._wake is None or self._inbox is None else self._wake[0]

    def poll(self, timeout: float | None = 0.0) -> bool:
        """Pass on every event the child has sent (waiting up to `timeout` s for the first;
        None: until one comes); False once the child has gone and finish() is due. Never
        blocks longer than `timeout`, even on a child stopped halfway through a message."""
        inbox = self._inbox
        if inbox is None:
            return False
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake[0], 65536):  # news is about to be taken
                pass
        try:
            message = inbox.get(timeout=timeout) if timeout != 0 else inbox.get_nowait()
        except queue.Empty:
            return True
        while True:
            if message is _GONE:
                self._inbox = None
                return False
            for event in message:
                self._take(event)
            try:
                message = inbox.get_nowait()
            except queue.Empty:
                return True

    def _take(self, message) -> None:
        if isinstance(message, _Final):
            self._final = message
        elif isinstance(message, EpochWeights):
            self.epoch_state = state_tensors(message.weights)
            if message.best:
                self.best_state = self.epoch_state
            self._checkpoint(message, "epoch")
        elif isinstance(message, _Failed):
            self._failure = message.message
        else:
            if isinstance(message, Finished):
                self._finished = message
            self.on_event(message)

    def finish(self) -> Finished | None:
        """After poll() returned False (or to give up on a child that stopped answering: it is
        killed): end the child and load its final weights into the model; the run's Finished
        event. StudioError if the child failed or ended without handing its results back."""
        self._inbox = None
        with self._lock:
            process, commands, self._commands = self._process, self._commands, None
        if commands is not None:
            commands.close()
        exitcode = None
        if process is not None:
            process.join(JOIN_TIMEOUT if self._final is not None else 0.5)
            if process.is_alive():
                process.kill()
                process.join()
            exitcode = process.exitcode
            with self._lock:
                self._process = None
            process.close()  # its pipe handles: a long session runs hundreds of children
        self._end_reader()
        if self._failure is not None:
            raise StudioError(self._failure)
        final = self._final
        if final is None:
            raise StudioError(
                f"The training process ended unexpectedly (exit code {exitcode}), perhaps "
                "out of memory or stopped from outside, before it could hand back this run's "
                "results. Try a smaller network, batch size or subset."
            )
        if final.stop is not None:
            self._checkpoint(final.stop, "stop")
        self.final_state = state_tensors(final.weights)
        self.model.load_state_dict(self.final_state)
        self.best_state = None if final.best_weights is None else state_tensors(final.best_weights)
        self.best_epoch = final.best_epoch
        self.optimizer_state = portable(final.optimizer_state, torch.from_numpy)
        self.best_val_loss = final.best_val_loss
        return self._finished

    def _end_reader(self) -> None:
        """The child has ended, so its pipe's end reaches the reader: wait for it, then close
        the wake-up pipe (left open if the reader were still writing to it)."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.join(JOIN_TIMEOUT)
            if reader.is_alive():
                log.error("the training process's event reader did not end")
                return
        if self._wake is not None:
            for fd in self._wake:
                os.close(fd)
            self._wake = None

    def _checkpoint(self, message: EpochWeights, kind: str) -> None:
        if self.on_checkpoint is not None and finite(message.weights):
            self.on_checkpoint(message.checkpoint(kind), message.best)


def _read_events(events: Connection, inbox: queue.SimpleQueue, wake: int) -> None:
    """The parent's reader thread: each message from the child into `inbox`, then `_GONE`
    once the child has gone, each followed by a byte on `wake`."""
    try:
        while True:
            try:
                message = events.recv()
            except (EOFError, OSError):
                message = _GONE
            inbox.put(message)
            with contextlib.suppress(BlockingIOError):  # full: it is readable already
                os.write(wake, b"!")
            if message is _GONE:
                return
    finally:
        events.close()
