"""The training worker: a QThread that runs core.training_process.TrainingProcess (the Trainer
in a child process) and re-emits its events as Qt signals.

The child has an interpreter of its own, so the GUI's drawing never holds a GIL the training
needs. The worker thread receives the child's events and forwards each through a queued
signal, so every slot connected to TrainingController runs in the GUI thread. Progress events
are already throttled by the trainer (report_interval); snapshots are coalesced here: only the
newest one waits for the GUI, older ones are dropped instead of queueing up.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field

import torch
from mlp_studio.app.state import StudioState
from mlp_studio.core.errors import StudioError
from mlp_studio.core.session import best_val_loss, merge_history
from mlp_studio.core.training import (
    BatchProgress,
    Diverged,
    EpochEnd,
    Finished,
    Halted,
    History,
    LayerStats,
    OptimizerState,
    Snapshot,
    merge_progress,
)
from mlp_studio.core.training_process import TrainingProcess, warm_up
from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Signal, Slot

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


def training_threads() -> int:
    """Intra-op threads for the training process: every core but one, so the GUI keeps one.

    Measured on 2 cores (bench/bench_gui_throughput.py, 784-128-10): GUI-driven training ran
    at 97% of the headless trainer with one thread, and at 58% with two, whose OpenMP team
    spins against the GUI process. MLP_STUDIO_THREADS overrides it.
    """
    value = os.environ.get("MLP_STUDIO_THREADS", "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    return max(1, (os.cpu_count() or 1) - 1)


def _ignore(_event) -> None:
    pass


@dataclass
class Lineage:
    """Every run of one model so far: merged history, epochs done, the best weights seen, and
    where the optimizer left off (the next run continues from there)."""

    history: History = field(default_factory=History)
    epochs_done: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch: int | None = None
    optimizer_state: OptimizerState | None = None

    def extended(self, trainer: TrainingProcess, result: Finished) -> Lineage:
        best, best_epoch = self.best_state, self.best_epoch
        if trainer.best_state is not None and (
            best is None or trainer.best_val_loss < best_val_loss(self.history, best_epoch)
        ):
            best = {k: v.detach().cpu().clone() for k, v in trainer.best_state.items()}
            best_epoch = trainer.best_epoch
        return Lineage(
            merge_history(self.history, result.history),
            self.epochs_done + len(result.history.epochs),
            best,
            best_epoch,
            trainer.optimizer_state,
        )


class _Worker(QObject):
    """Lives in the worker thread; run() blocks there until the training process has ended."""

    event = Signal(object)  # every trainer event except snapshots, in order
    snapshotReady = Signal()  # the newest snapshot waits in take_snapshot()
    halted = Signal()  # the trainer stopped between batches because it is paused
    failed = Signal(str)
    done = Signal()

    def __init__(self):
        super().__init__()
        self.trainer: TrainingProcess | None = None
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None

    def on_event(self, event) -> None:  # called by the trainer, in the worker thread
        if isinstance(event, Snapshot):
            self._offer_snapshot(event)
        elif isinstance(event, Halted):
            self.halted.emit()
        else:
            self.event.emit(event)

    def _offer_snapshot(self, snapshot: Snapshot) -> None:
        with self._lock:
            waiting = self._snapshot is not None
            self._snapshot = snapshot
        if not waiting:  # the GUI has taken the previous one: tell it about this one
            self.snapshotReady.emit()

    def take_snapshot(self) -> Snapshot | None:
        with self._lock:
            snapshot, self._snapshot = self._snapshot, None
        return snapshot

    @Slot()
    def run(self) -> None:
        try:
            self.trainer.run()
        except StudioError as err:
            self.failed.emit(str(err))
        except Exception as err:  # a bug or an out-of-memory: report it, keep the app alive
            log.exception("training failed")
            self.failed.emit(f"Training failed: {type(err).__name__}: {err}")
        finally:
            self.done.emit()


class TrainingController(QObject):
    """Starts, steers and stops training of `state.model` on `state.data` in a QThread."""

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
        state: StudioState,
        parent: QObject | None = None,
        report_interval: float = REPORT_INTERVAL,
        snapshot_interval: float = SNAPSHOT_INTERVAL,
        threads: int | None = None,
    ):
        super().__init__(parent)
        self.state = state
        self.report_interval = report_interval
        self.snapshot_interval = snapshot_interval
        self.threads = threads or training_threads()
        self._state = "idle"
        self._thread: QThread | None = None
        self._worker: _Worker | None = None  # kept referenced until the thread has finished
        self._result: Finished | None = None
        self._probe: torch.Tensor | None = None
        # What the current model has been through (its lineage), so a second run continues the
        # epoch count and a saved session holds the whole history; replaced with the model.
        self._trained_model = None
        self.lineage = Lineage()
        # Events waiting for the next delivery to the views (see PACE_*).
        self._pending: list[BatchProgress | LayerStats | EpochEnd] = []
        self._snapshot_waiting = False
        self.pace = PACE_MIN
        self._busy_mark = (time.perf_counter(), time.thread_time())
        self._delivering = 0.0  # seconds spent in _deliver since _busy_mark
        self._finishing = False  # in the run's last delivery
        self._deliver_timer = QTimer(self)
        self._deliver_timer.setSingleShot(True)
        self._deliver_timer.timeout.connect(self._deliver)
        warm_up()  # the first run then starts without waiting for torch to import

    # ---- queries ----

    @property
    def run_state(self) -> str:
        return self._state

    @property
    def running(self) -> bool:
        return self._thread is not None

    def lineage_of(self, model) -> Lineage:
        """The history behind `model`: empty unless it is the model this controller trained."""
        return self.lineage if model is not None and model is self._trained_model else Lineage()

    def adopt(self, model, lineage: Lineage) -> None:
        """Take over a model with a past (an opened session): the next run continues it."""
        if self._thread is None:
            self._trained_model, self.lineage = model, lineage

    @property
    def trainer(self) -> TrainingProcess | None:
        return None if self._worker is None else self._worker.trainer

    def problems(self) -> list[str]:
        """Everything that stops a run from starting, each a message the user can act on."""
        state = self.state
        out = list(state.spec.problems()) + list(state.train_config.problems())
        data = state.data
        if data is None:
            out.append("There is no data yet: load MNIST in the Dataset panel first.")
        elif len(data.x_train) == 0:
            out.append(
                "The training set is empty: lower the validation share or the "
                "imbalance, or raise the subset size."
            )
        else:
            spec, size = state.spec, int(data.x_train.shape[1])
            if spec.input_size != size:
                out.append(
                    f"The network takes {spec.input_size} inputs but the data has "
                    f"{size} values per sample: load matching data or a matching model."
                )
            if spec.output_size != data.num_classes:
                out.append(
                    f"The network has {spec.output_size} outputs but the data has "
                    f"{data.num_classes} classes: change the task in the Data panel "
                    "or build a new network."
                )
        return out

    # ---- control ----

    def start(self, paused: bool = False) -> bool:
        """Validate, then train in the background; False (and `failed`) if it cannot start."""
        if self._thread is not None:
            return False
        problems = self.problems()
        if problems:
            self.failed.emit("Cannot train yet: " + " ".join(problems))
            return False
        state = self.state
        worker = _Worker()
        try:
            model = state.ensure_model()
            if model is not self._trained_model:
                self._trained_model, self.lineage = model, Lineage()
            trainer = TrainingProcess(
                model,
                state.data,
                state.train_config,
                on_event=worker.on_event,
                report_interval=self.report_interval,
                snapshot_interval=self.snapshot_interval,
                start_epoch=self.lineage.epochs_done,
                threads=self.threads,
                optimizer_state=self.lineage.optimizer_state,
            )
        except StudioError as err:
            self.failed.emit(str(err))
            return False
        probe = self._fitting_probe(state.spec.input_size)
        if probe is not None:
            trainer.set_probe(probe)
        if paused:
            trainer.pause()
        worker.trainer = trainer

        thread = QThread(self)
        thread.setObjectName("training")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.event.connect(self._on_event)
        worker.snapshotReady.connect(self._on_snapshot_ready)
        worker.halted.connect(self._on_halted)
        worker.failed.connect(self.failed)
        worker.done.connect(thread.quit)
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker, self._result = thread, worker, None
        self._busy_mark = (time.perf_counter(), time.thread_time())  # the pace carries over
        state.set_training(True)
        thread.start()
        self._set_state("running")
        return True

    def pause(self) -> None:
        """Halt after the current batch; stateChanged("paused") once the worker has halted."""
        if self._worker is not None and self._state == "running":
            self._worker.trainer.pause()

    def resume(self) -> None:
        if self._worker is not None and self._state in ("running", "paused"):
            self._worker.trainer.resume()
            self._set_state("running")

    def step(self) -> None:
        """Run one batch, then stay paused; when idle, start a paused run and step it."""
        if self._worker is None:
            if self.start(paused=True):
                self._worker.trainer.step()
        elif self._state in ("running", "paused"):
            self._worker.trainer.step()

    def stop(self) -> None:
        """Ask the worker to stop at the next batch; `finished` follows when it has."""
        if self._worker is not None and self._state != "stopping":
            self._worker.trainer.stop()
            self._set_state("stopping")

    def set_probe(self, x) -> None:
        """Normalized samples [P, D] (tensor or array) whose activations go into snapshots."""
        self._probe = None if x is None else torch.as_tensor(x, dtype=torch.float32).clone()
        if self._worker is not None:
            self._worker.trainer.set_probe(
                self._fitting_probe(self._worker.trainer.model.spec.input_size))

    def _fitting_probe(self, input_size: int) -> torch.Tensor | None:
        """The probe, if it fits the network (a sample of other data would break snapshots)."""
        probe = self._probe
        return probe if probe is not None and probe.shape[-1] == input_size else None

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Stop and join the worker (window closing, app quitting); safe to call twice."""
        thread = self._thread
        if thread is None:
            return
        trainer = self._worker.trainer
        trainer.stop()
        thread.quit()
        if not thread.wait(timeout_ms):
            # The child does not answer (stuck in a huge batch?): end it; its weights are lost
            # but the window's model keeps the last ones shown.
            log.error("the training process did not stop within %d ms: killing it", timeout_ms)
            trainer.kill()
            if not thread.wait(timeout_ms):
                log.error("the training thread did not stop")
                return
        # The worker's last signals (Finished, the thread's end) wait in the event queue: take
        # them now, so the run lands in the lineage and `finished` goes out as usual.
        QCoreApplication.sendPostedEvents(self)
        self._on_thread_finished()

    # ---- from the worker (GUI thread) ----

    def _set_state(self, value: str) -> None:
        if value != self._state:
            self._state = value
            self.stateChanged.emit(value)

    @Slot(object)
    def _on_event(self, event) -> None:
        if isinstance(event, BatchProgress | LayerStats | EpochEnd):
            self._pending.append(event)
            trainer = self.trainer
            if trainer is not None and trainer.paused:
                self._deliver()  # a step or the last batches before a pause: show them now
            else:
                self._schedule_delivery()
        elif isinstance(event, Diverged):
            self._deliver()  # keep the order: the batches before it first
            self.diverged.emit(event)
        elif isinstance(event, Finished):
            self._result = event

    @Slot()
    def _on_snapshot_ready(self) -> None:
        self._snapshot_waiting = True
        self._schedule_delivery()

    def _schedule_delivery(self) -> None:
        if not self._deliver_timer.isActive():
            self._deliver_timer.start(round(1000 * self.pace))

    @Slot()
    def _deliver(self) -> None:
        """Hand the waiting events to the views in order (consecutive batch progress merged
        within an epoch), then the newest snapshot; then adapt the pace to how busy the GUI
        thread has been."""
        self._deliver_timer.stop()
        start = time.perf_counter()
        pending, self._pending = self._pending, []
        if any(isinstance(event, EpochEnd) for event in pending):
            self._adopt_epoch_weights()
        for event in merge_progress(pending):
            if isinstance(event, BatchProgress):
                self.progress.emit(event)
            elif isinstance(event, LayerStats):
                self.layerStats.emit(event)
            else:
                self.epochEnded.emit(event)
        if self._snapshot_waiting:
            self._snapshot_waiting = False
            worker = self._worker
            snapshot = worker.take_snapshot() if worker is not None else None
            if snapshot is not None:
                self._show_weights(snapshot)
                self.snapshot.emit(snapshot)
        self._delivering += time.perf_counter() - start
        self._adapt_pace()

    def _show_weights(self, snapshot: Snapshot) -> None:
        """Copy the child's weights into the window's model, so what reads it while training
        (the canvas's live prediction, exports) sees the network as it is now."""
        model = self._trained_model
        if model is None or self._thread is None or self._finishing:
            return
        with torch.no_grad():
            for linear, w, b in zip(model.linears, snapshot.weights, snapshot.biases,
                                    strict=True):  # fmt: skip
                linear.weight.copy_(torch.from_numpy(w))
                linear.bias.copy_(torch.from_numpy(b))

    def _adopt_epoch_weights(self) -> None:
        """The window's model takes the weights of the latest epoch's end (all of them, batch
        norm statistics too): what an autosave at this EpochEnd writes."""
        trainer, model = self.trainer, self._trained_model
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

    @Slot()
    def _on_halted(self) -> None:
        worker = self._worker
        if worker is not None and worker.trainer.paused and self._state == "running":
            self._deliver()  # the views show where it stopped
            self._set_state("paused")

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._thread is None:  # already cleaned up by shutdown()
            return
        self._snapshot_waiting = True  # the final weights, if the worker left a snapshot
        self._finishing = True  # the views get the last events; the model keeps run()'s weights
        try:
            self._deliver()
        finally:
            self._finishing = False
        thread, worker, result = self._thread, self._worker, self._result
        self._thread = self._worker = self._result = None
        trainer = worker.trainer
        model = trainer.model
        if trainer.final_state is not None:
            # Again, here: a snapshot copied in by a late delivery must not stay on top.
            model.load_state_dict(trainer.final_state)
        if result is not None:
            self.lineage = self.lineage.extended(trainer, result)
        # The worker and the trainer refer to each other (on_event): break that, or every
        # run's process handle, pipes, weights and data would stay alive.
        worker.trainer, worker._snapshot, trainer.on_event = None, None, _ignore
        worker.deleteLater()
        thread.deleteLater()
        self.state.set_training(False)
        self._set_state("idle")
        if self.state.model is model:
            self._trained_model = model
            self.state.set_model(model)  # the weights changed: views re-read them
        if result is not None:
            self.finished.emit(result)
