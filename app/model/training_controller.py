"""The training controller: starts, steers and stops a run of core.training_process
(the Trainer in a child process) and re-emits its events as Qt signals.

The child has an interpreter of its own, so the GUI's drawing never holds a GIL the training
needs. The GUI thread drains the child's pipe from a timer (no thread in between) and sends
commands directly; only starting the child runs on a short-lived helper thread, since the first
start waits for the fork server to import torch. Progress events are throttled by the trainer
(report_interval); of the snapshots, only the newest waiting one is shown.
"""

from __future__ import annotations

import logging
import math
import threading
import time

import torch
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.model.paired_runs import PAIR_BUSY
from mlp_studio.core.errors import StudioError
from mlp_studio.core.lineage import epoch_record
from mlp_studio.core.run_checks import run_problems
from mlp_studio.core.threads import training_threads
from mlp_studio.core.training import (
    BatchProgress,
    Diverged,
    EpochEnd,
    Finished,
    Halted,
    LayerStats,
    Snapshot,
    merge_progress,
)
from mlp_studio.core.training_process import TrainingProcess, warm_up
from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Signal

log = logging.getLogger(__name__)

REPORT_INTERVAL = 0.05  # s between progress events: ~20 GUI updates a second
SNAPSHOT_INTERVAL = 0.1  # s between weight/activation copies for the live views
# The views get the events in batches, every PACE_MIN s (20 a second) while they keep up.
# The pace follows how busy the GUI thread is (its CPU time per wall second), aiming at most
# at PACE_BUSY, so the window always has time left for the user's input: slow views or a
# slow machine get fewer, larger updates (at most PACE_MAX apart) instead.
PACE_MIN, PACE_MAX = 0.05, 0.25
PACE_BUSY = 0.5
PACE_WINDOW = 0.3  # s of GUI-thread activity judged at a time
# A child that has not ended this long after Stop (stopped from outside with SIGSTOP, or stuck
# in a huge batch) is ended, so the window never stays "stopping".
STOP_TIMEOUT = 5.0


class TrainingController(QObject):
    """Starts, steers and stops training of `state.model` on `state.data` in a child process."""

    # Events reach these signals in the trainer's order, delivered in batches (see PACE_*).
    progress = Signal(object)  # BatchProgress
    layerStats = Signal(object)  # LayerStats
    snapshot = Signal(object)  # Snapshot
    epochEnded = Signal(object)  # EpochEnd
    diverged = Signal(object)  # Diverged
    finished = Signal(object)  # Finished, once the thread has ended
    failed = Signal(str)  # a message for the user: the run could not start or crashed
    stateChanged = Signal(str)  # "idle" | "running" | "paused" | "stopping"

    def __init__(
        self,
        state: Experiment,
        parent: QObject | None = None,
        report_interval: float = REPORT_INTERVAL,
        snapshot_interval: float = SNAPSHOT_INTERVAL,
        threads: int | None = None,
    ):
        super().__init__(parent)
        self.state = state
        self.report_interval = report_interval
        self.snapshot_interval = snapshot_interval
        self.threads = threads or training_threads()  # core.threads: why one
        self._state = "idle"
        self._trainer: TrainingProcess | None = None  # the run, from start() until it ends
        self._starter: threading.Thread | None = None  # starts the child
        self._start_error: BaseException | None = None
        self._start_weights: dict[str, torch.Tensor] | None = None  # the model as a run began
        self._stop_asked = 0.0  # time.monotonic() of the run's Stop, 0 before it
        self._snapshot: Snapshot | None = None  # the newest, waiting for the next delivery
        self._probe: torch.Tensor | None = None
        # Events waiting for the next delivery to the views (see PACE_*).
        self._pending: list[BatchProgress | LayerStats | EpochEnd] = []
        self.pace = PACE_MIN
        self._busy_mark = (time.perf_counter(), time.thread_time())
        self._delivering = 0.0  # seconds spent in _deliver since _busy_mark
        self._finishing = False  # in the run's last delivery
        self._halted = False  # the child said it halted (paused) in the latest poll
        self._result: Finished | None = None
        self._poll_timer = QTimer(self)
        self._poll_timer.setSingleShot(True)
        self._poll_timer.timeout.connect(self._poll)
        # The child's pipe wakes the GUI thread when events arrive (see _on_readable).
        self._notifier: QSocketNotifier | None = None
        self._last_poll = 0.0
        state.probeChanged.connect(self._on_probe_changed)  # the experiment's sample
        state.timeline.stopRequested.connect(self.stop)  # "Branch from here" while paused
        warm_up()  # the first run then starts without waiting for torch to import

    # ---- queries ----

    @property
    def run_state(self) -> str:
        return self._state

    @property
    def running(self) -> bool:
        return self._trainer is not None

    @property
    def trainer(self) -> TrainingProcess | None:
        return self._trainer

    def problems(self) -> list[str]:
        """Everything that stops a run from starting, each a message the user can act on."""
        state = self.state
        problems = [PAIR_BUSY] if state.paired.running else []
        problems += run_problems(state.spec, state.train_config, state.data)
        if state.data_out_of_date():
            problems.append("The data settings changed after this data was prepared: train "
                            "once the Data panel has prepared the new ones (the status bar "
                            "says 'Data ready'), or fix what it reports.")
        return problems

    # ---- control ----

    def start(self, paused: bool = False) -> bool:
        """Validate, then train in the background; False (and `failed`) if it cannot start."""
        if self._trainer is not None:
            return False
        problems = self.problems()
        if problems:
            self.failed.emit("Cannot train yet: " + " ".join(problems))
            return False
        state = self.state
        try:
            model = state.ensure_model()
            state.timeline.before_run()  # the latest weights, not a checkpoint shown
            lineage = state.lineage
            # Kept in the lineage if the run leaves the model worse (the user can go back).
            start_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
            trainer = TrainingProcess(
                model,
                state.data,
                state.train_config,
                on_event=self._on_event,
                report_interval=self.report_interval,
                snapshot_interval=self.snapshot_interval,
                start_epoch=lineage.epochs_done,
                threads=self.threads,
                optimizer_state=lineage.optimizer_state,
                on_checkpoint=state.timeline.record,
            )
        except StudioError as err:
            self.failed.emit(str(err))
            return False
        if state.probe_index is not None:  # the views' sample; else set_probe's
            self._probe = self._probe_of(state)
        probe = self._fitting_probe(state.spec.input_size)
        if probe is not None:
            trainer.set_probe(probe)
        if paused:
            trainer.pause()
        self._trainer, self._start_error, self._stop_asked = trainer, None, 0.0
        self._start_weights = start_weights
        self._busy_mark = (time.perf_counter(), time.thread_time())  # the pace carries over
        self._starter = threading.Thread(target=self._start_child, args=(trainer,),
                                         name="start training", daemon=True)
        self._starter.start()
        state.set_training(True)
        self._set_state("running")
        self._poll_timer.start(round(1000 * PACE_MIN))
        return True

    def _start_child(self, trainer: TrainingProcess) -> None:  # on the starter thread
        try:
            trainer.start()
        except BaseException as err:  # noqa: BLE001 - handed to the GUI thread in _poll
            self._start_error = err

    def pause(self) -> None:
        """Halt after the current batch; stateChanged("paused") once the child has halted."""
        if self._trainer is not None and self._state == "running":
            self._trainer.pause()

    def resume(self) -> None:
        if self._trainer is not None and self._state in ("running", "paused"):
            self.state.timeline.leave_the_past("Resumed")
            self._trainer.resume()
            self._set_state("running")

    def step(self) -> None:
        """Run one batch, then stay paused; when idle, start a paused run and step it."""
        if self._trainer is None:
            if self.start(paused=True):
                self._trainer.step()
        elif self._state in ("running", "paused"):
            self.state.timeline.leave_the_past("One step")
            self._trainer.step()

    def stop(self) -> None:
        """Ask the child to stop at the next batch; `finished` follows when it has (or it is
        ended after STOP_TIMEOUT s without an answer)."""
        if self._trainer is not None and self._state != "stopping":
            if not self.state.timeline.branch_pending:  # else the branch says what happens
                self.state.timeline.leave_the_past("Stopped")
            self.state.timeline.return_to_latest()
            self._trainer.stop()
            self._stop_asked = time.monotonic()
            self._set_state("stopping")
            self._poll_timer.start(round(1000 * PACE_MIN))  # answer the end promptly

    def set_probe(self, x) -> None:
        """Normalized samples [P, D] (tensor or array) whose activations go into snapshots."""
        self._probe = None if x is None else torch.as_tensor(x, dtype=torch.float32).clone()
        if self._trainer is not None:
            self._trainer.set_probe(self._fitting_probe(self._trainer.model.spec.input_size))

    @staticmethod
    def _probe_of(state: Experiment) -> torch.Tensor | None:
        probe = state.probe()
        return None if probe is None else torch.from_numpy(probe)

    def _on_probe_changed(self, _index) -> None:
        self.set_probe(self._probe_of(self.state))

    def _fitting_probe(self, input_size: int) -> torch.Tensor | None:
        """The probe, if it fits the network (a sample of other data would break snapshots)."""
        probe = self._probe
        return probe if probe is not None and probe.shape[-1] == input_size else None

    def shutdown(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the run and wait for its end, at most `timeout` s before ending the child
        (window closing, app quitting); safe to call twice. The run lands in the lineage and
        `finished` goes out as usual."""
        trainer = self._trainer
        if trainer is None:
            return
        trainer.stop()
        if self._starter is not None:
            self._starter.join(timeout)
        deadline = time.monotonic() + timeout
        while self._start_error is None and trainer.poll(max(0.0, deadline - time.monotonic())):
            if time.monotonic() >= deadline:
                log.error("the training process did not stop within %.1f s: ending it", timeout)
                break
        self._end_run()

    # ---- the child's events (GUI thread) ----

    def _set_state(self, value: str) -> None:
        self.state.set_run_state(value)
        if value != self._state:
            self._state = value
            self.stateChanged.emit(value)

    def _on_event(self, event) -> None:  # from trainer.poll(), in the GUI thread
        if isinstance(event, Snapshot):
            self._snapshot = event
        elif isinstance(event, Halted):
            self._halted = True
        elif isinstance(event, Diverged):
            self._deliver()  # keep the order: the batches before it first
            self.diverged.emit(event)
        elif isinstance(event, Finished):
            self._result = event
        else:
            self._pending.append(event)

    def _on_readable(self) -> None:
        """The child sent something (or ended): take it at the pace's next turn, at once when
        nothing has been taken for a pace already (a step, a pause, the end of a run)."""
        self._notifier.setEnabled(False)  # until taken: the pipe stays readable meanwhile
        wait = 0.0 if self._stop_asked else self._last_poll + self.pace - time.perf_counter()
        if not self._poll_timer.isActive() or self._poll_timer.remainingTime() > 1000 * wait:
            self._poll_timer.start(max(0, round(1000 * wait)))

    def _poll(self) -> None:
        """Take what the child has sent and show it; end the run once the child has gone."""
        trainer = self._trainer
        if trainer is None:
            return
        if self._starter is not None and self._starter.is_alive():
            self._poll_timer.start(round(1000 * PACE_MIN))  # the child is still starting
            return
        if self._start_error is not None:
            self._end_run()
            return
        if self._notifier is None and trainer.fileno() is not None:
            self._notifier = QSocketNotifier(trainer.fileno(), QSocketNotifier.Type.Read, self)
            self._notifier.activated.connect(self._on_readable)
        self._last_poll = time.perf_counter()
        self._halted = False
        alive = trainer.poll(0)
        stuck = self._stop_asked and time.monotonic() - self._stop_asked > STOP_TIMEOUT
        if not alive or stuck:
            if stuck and alive:
                log.error("the training process did not stop within %.1f s", STOP_TIMEOUT)
            self._end_run(stuck=bool(stuck and alive))
            return
        self._deliver()
        if self._halted and trainer.paused and self._state == "running":
            self._set_state("paused")
        self._notifier.setEnabled(True)
        if self._stop_asked:  # a child that stopped answering sends nothing: look again
            self._poll_timer.start(round(1000 * PACE_MAX))

    def _deliver(self) -> None:
        """Hand the waiting events to the views in order (consecutive batch progress merged
        within an epoch), then the newest snapshot; then adapt the pace to how busy the GUI
        thread has been."""
        start = time.perf_counter()
        pending, self._pending = self._pending, []
        if pending or self._snapshot is not None:
            self.state.timeline.return_to_latest()  # new weights: a checkpoint shown is past
        if any(isinstance(event, EpochEnd) for event in pending):
            self._adopt_epoch_weights()
        state = self.state
        for event in merge_progress(pending):
            if isinstance(event, BatchProgress):
                state.record_batch_losses(event.losses)
                self._follow_rate(event.samples_per_second)
                self.progress.emit(event)
            elif isinstance(event, LayerStats):
                state.record_grad_norms(event.step, event.grad_norms)
                self.layerStats.emit(event)
            else:
                state.record_epoch(epoch_record(event))
                self.epochEnded.emit(event)
        snapshot, self._snapshot = self._snapshot, None
        if snapshot is not None:
            self._show_weights(snapshot)
            self.snapshot.emit(snapshot)
        self._delivering += time.perf_counter() - start
        self._adapt_pace()

    def _follow_rate(self, rate: float) -> None:
        """The experiment's speed: smoothed while running; a paused run (a Step) has none."""
        trainer = self._trainer
        if trainer is None or trainer.paused or not math.isfinite(rate) or rate <= 0:
            self.state.set_rate(0.0)
            return
        old = self.state.rate
        self.state.set_rate(rate if old == 0 else 0.8 * old + 0.2 * rate)

    def _show_weights(self, snapshot: Snapshot) -> None:
        """Copy the child's weights into the window's model, so what reads it while training
        (the canvas's live prediction, exports) sees the network as it is now."""
        model = self._trainer.model if self._trainer is not None else None
        if model is None or self._finishing:
            return
        with torch.no_grad():
            for linear, w, b in zip(model.linears, snapshot.weights, snapshot.biases,
                                    strict=True):  # fmt: skip
                linear.weight.copy_(torch.from_numpy(w))
                linear.bias.copy_(torch.from_numpy(b))

    def _adopt_epoch_weights(self) -> None:
        """The window's model takes the weights of the latest epoch's end (all of them, batch
        norm statistics too): what an autosave at this EpochEnd writes."""
        trainer = self._trainer
        model = trainer.model if trainer is not None else None
        if (trainer is not None and model is not None and trainer.epoch_state is not None
                and not self._finishing):
            model.load_state_dict(trainer.epoch_state)

    def _adapt_pace(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        wall = now - self._busy_mark[0]
        if wall < PACE_WINDOW:
            return
        # Busy: the GUI thread's CPU time (the views' drawing, whenever it happens), or the
        # wall time of the deliveries (their slots), which also counts waiting for the GIL.
        busy = max(cpu - self._busy_mark[1], self._delivering, 0.0) / wall
        self._busy_mark, self._delivering = (now, cpu), 0.0
        # Proportional, damped (square root) so the pace settles instead of oscillating.
        factor = (max(busy, 1e-3) / PACE_BUSY) ** 0.5
        self.pace = min(max(self.pace * factor, PACE_MIN), PACE_MAX)

    def _end_run(self, stuck: bool = False) -> None:
        """The child has gone (or is ended now): its last events, its weights into the model,
        the run into the lineage; then idle and `finished`."""
        trainer = self._trainer
        if trainer is None:  # already ended (shutdown, then the timer)
            return
        self._poll_timer.stop()
        self.state.timeline.return_to_latest()  # the run's final weights come next
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
            self._notifier = None
        self._finishing = True  # the views get the last events; the model keeps the final weights
        try:
            self._deliver()
        finally:
            self._finishing = False
        error, result = self._start_error, None
        if error is None:
            try:
                trainer.finish()
            except StudioError as err:
                error = err
            except Exception as err:  # noqa: BLE001 - a bug: report it, keep the app usable
                log.exception("ending the training run failed")
                error = err
        self._trainer, self._starter, self._start_error = None, None, None
        start_weights, self._start_weights = self._start_weights, None
        if error is None:
            result = self._result
        self._result = None
        if error is not None:
            if stuck:
                message = (f"The training process did not answer for {STOP_TIMEOUT:.0f} s "
                           "after Stop and was ended; the model keeps the weights shown last.")
            elif isinstance(error, StudioError):
                message = str(error)
            else:
                message = f"Training failed: {type(error).__name__}: {error}"
            self.failed.emit(message)
        model = trainer.model
        state = self.state
        if result is not None and state.model is model:
            state.set_lineage(state.lineage.extended(trainer, result, start_weights))
        self.state.set_training(False)
        self._set_state("idle")
        if state.model is model:
            state.set_model(model)  # the weights changed: views re-read them
            state.set_result(result)
        if result is not None:
            self.finished.emit(result)
        state.timeline.after_run(result is not None)
