"""Paired runs in the app: the current network and settings trained twice, once with one
setting changed (core.paired), over one or more seeds, each run in the training child process
(core.training_process) one after the other.

The GUI thread starts each child from a short-lived helper thread (the first start may wait
for the fork server), then drains its events from a timer, as the training controller does.
The experiment's own model and history are left alone: a pair trains fresh, seeded copies.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from mlp_studio.core.data import PreparedData
from mlp_studio.core.errors import StudioError
from mlp_studio.core.lineage import epoch_record
from mlp_studio.core.model import MLP
from mlp_studio.core.paired import (
    PairPlan,
    PairResult,
    RunOutcome,
    fingerprint,
    initial_models,
    summarize,
)
from mlp_studio.core.paired_files import SavedPairs
from mlp_studio.core.run_checks import run_problems
from mlp_studio.core.seed_summary import SeedSummary
from mlp_studio.core.threads import training_threads
from mlp_studio.core.training import BatchProgress, EpochEnd, Finished
from mlp_studio.core.training_process import TrainingProcess
from PySide6.QtCore import QObject, QTimer, Signal

log = logging.getLogger(__name__)

POLL_MS = 100  # the views follow epochs, not batches: ten looks a second are plenty
STOP_TIMEOUT = 5.0  # s after Stop before a silent child is ended
MAX_SEEDS = 10
BUSY = ("The studio's run is training (or paused): stop it with Stop before training a "
        "comparison, so that neither run slows the other.")
# What the studio's Train says while a comparison trains.
PAIR_BUSY = ("A comparison is training in the Compare panel: stop it there (or wait for it "
             "to finish) before training here, so that neither run slows the other.")


class PairedRuns(QObject):
    """One comparison at a time: its plan, its finished pairs (one per seed), the run going on."""

    planChanged = Signal(object)  # PairPlan | None: a new comparison (its results are cleared)
    runStarted = Signal(str)  # "A" or "B": a run of the current pair begins
    epochEnded = Signal(str, object)  # "A"/"B", EpochRecord of the run going on
    progress = Signal(str)  # where the runs are, in words
    pairFinished = Signal(object)  # PairResult, appended to `results`
    stateChanged = Signal(str)  # "idle" | "running" | "stopping"
    failed = Signal(str)  # a message for the user

    def __init__(self, parent: QObject | None = None, threads: int | None = None,
                 other_run: Callable[[], bool] = lambda: False):
        super().__init__(parent)
        self.threads = threads or training_threads()
        # Whether the studio's own run trains (or is paused): a pair never trains beside it,
        # which would halve both runs' speed and make their timings meaningless.
        self._other_run = other_run
        self.plan: PairPlan | None = None
        self.data: PreparedData | None = None
        self.results: list[PairResult] = []
        # Each finished pair's trained models (None: a reopened session did not keep them).
        self.models: list[tuple[MLP, MLP] | None] = []
        self.task = "classification"  # of the comparison's data: which metric it ranks by
        self.live: dict[str, list] = {"A": [], "B": []}  # EpochRecords of the pair going on
        self._state = "idle"
        self._target = 0  # seeds to reach
        self._pair: tuple[PairPlan, MLP, MLP] | None = None  # the pair going on
        self._side = ""
        self._outcome_a: RunOutcome | None = None
        self._trainer: TrainingProcess | None = None
        self._starter: threading.Thread | None = None
        self._start_error: BaseException | None = None
        self._finished: Finished | None = None
        self._start_print = None
        self._stop_asked = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)

    # ---- queries

    @property
    def state(self) -> str:
        return self._state

    @property
    def running(self) -> bool:
        return self._state != "idle"

    def summary(self) -> SeedSummary | None:
        if not self.results:
            return None
        return summarize(self.results, "rmse" if self.task == "regression" else "accuracy")

    # ---- sessions

    def saved(self) -> SavedPairs | None:
        """The comparison's finished pairs, for a session (None: nothing to keep)."""
        if self.plan is None or not self.results:
            return None
        return SavedPairs(self.plan, list(self.results), list(self.models), self.task)

    def restore(self, saved: SavedPairs | None) -> None:
        """An opened session's comparison (None: none, the dock empties). A comparison still
        training is stopped first: the session replaces the experiment it compared."""
        self.shutdown()
        self.plan = None if saved is None else saved.plan
        self.results = [] if saved is None else list(saved.results)
        self.models = [] if saved is None else list(saved.models)
        self.task = "classification" if saved is None else saved.task
        self.data = None  # the session's data loads in the Data panel: a repeat takes it then
        self.live = {"A": [], "B": []}
        self.planChanged.emit(self.plan)
        for result in self.results:
            self.pairFinished.emit(result)
        n = len(self.results)
        self.progress.emit(f"{n} seed{'s' if n != 1 else ''} from the session." if n else "")

    # ---- control

    def start(self, plan: PairPlan, data: PreparedData, seeds: int = 1) -> bool:
        """A new comparison over `seeds` seeds; False (and `failed`) if it cannot start."""
        if self.running:
            self.failed.emit("A comparison is still training: stop it first.")
            return False
        if self._refused():
            return False
        problems = []
        for settings in (plan.base, plan.changed):
            problems += [p for p in run_problems(settings.spec, settings.train, data)
                         if p not in problems]
        if problems:
            self.failed.emit("Cannot train the pair: " + " ".join(problems))
            return False
        self.plan, self.data, self.results, self.models = plan, data, [], []
        self.task = data.task
        self.planChanged.emit(plan)
        return self.repeat(seeds)

    def repeat(self, seeds: int, data: PreparedData | None = None) -> bool:
        """Train the current comparison until it has `seeds` seeds (the ones it has stay).
        `data`: what to train on when the comparison has none (one reopened from a session)."""
        if self.plan is None or self.running or self._refused():
            return False
        if self.data is None and not self._take_data(data):
            return False
        if not 1 <= seeds <= MAX_SEEDS:
            self.failed.emit(f"Choose from 1 to {MAX_SEEDS} seeds (3-5 show the seed noise).")
            return False
        if seeds <= len(self.results):
            self.progress.emit(f"The comparison already has {len(self.results)} seed(s).")
            return False
        self._target = seeds
        self._stop_asked = 0.0
        self._set_state("running")
        self._next_pair()
        return True

    def stop(self) -> None:
        """Stop the run going on; the pairs already finished stay."""
        if self._state != "running":
            return
        self._stop_asked = time.monotonic()
        self._set_state("stopping")
        if self._trainer is not None:
            self._trainer.stop()

    def shutdown(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop and wait (window closing); safe to call twice."""
        trainer = self._trainer
        if trainer is None:
            return
        self._stop_asked = time.monotonic()
        trainer.stop()
        if self._starter is not None:
            self._starter.join(timeout)
        deadline = time.monotonic() + timeout
        while self._start_error is None and trainer.poll(max(0.0, deadline - time.monotonic())):
            if time.monotonic() >= deadline:
                break
        self._end_run()

    def _take_data(self, data: PreparedData | None) -> bool:
        """A reopened comparison's data for more seeds: the loaded data, if the pair fits it."""
        plan = self.plan
        problem = ""
        if plan.setting.kind == "data":
            problem = (f"This comparison changes a data setting ({plan.setting.name}): repeat "
                       "it with `mlp-studio pair`, which prepares each run's data.")
        elif data is None:
            problem = "Load the comparison's data first (the Data panel, or Playground points)."
        else:
            found = run_problems(plan.base.spec, plan.base.train, data)
            if found:
                problem = "The loaded data does not fit this comparison: " + " ".join(found)
        if problem:
            self.failed.emit(problem)
            return False
        self.data, self.task = data, data.task
        return True

    def _refused(self) -> bool:
        if not self._other_run():
            return False
        self.failed.emit(BUSY)
        return True

    # ---- the runs

    def _set_state(self, value: str) -> None:
        if value != self._state:
            self._state = value
            self.stateChanged.emit(value)

    def _next_pair(self) -> None:
        index = len(self.results)
        if self._stop_asked or index >= self._target:
            self._pair = None
            self._timer.stop()
            self._set_state("idle")
            return
        plan = self.plan.with_seed(index)
        model_a, model_b = initial_models(plan)
        self._pair = (plan, model_a, model_b)
        self._start_side("A")

    def _start_side(self, side: str) -> None:
        plan, model_a, model_b = self._pair
        model, settings = (model_a, plan.base) if side == "A" else (model_b, plan.changed)
        self._side = side
        self.live[side] = []
        if side == "A":
            self.live["B"] = []
        self._start_print = fingerprint(model, settings, self.data)
        self._finished, self._start_error = None, None
        try:
            trainer = TrainingProcess(model, self.data, settings.train, on_event=self._on_event,
                                      report_interval=0.2, threads=self.threads)
        except StudioError as err:
            self._fail(str(err))
            return
        self._trainer = trainer
        self._starter = threading.Thread(target=self._start_child, args=(trainer,),
                                         name="start paired run", daemon=True)
        self._starter.start()
        self.runStarted.emit(side)
        self._say(f"starting run {side}")
        self._timer.start()

    def _start_child(self, trainer: TrainingProcess) -> None:  # on the starter thread
        try:
            trainer.start()
        except BaseException as err:  # noqa: BLE001 - handed to the GUI thread in _poll
            self._start_error = err

    def _say(self, what: str) -> None:
        seeds = f"seed {len(self.results) + 1} of {self._target}"
        self.progress.emit(f"Run {self._side} ({seeds}): {what}")

    def _on_event(self, event) -> None:  # from trainer.poll(), in the GUI thread
        if isinstance(event, EpochEnd):
            record = epoch_record(event)
            self.live[self._side].append(record)
            self.epochEnded.emit(self._side, record)
            self._say(f"epoch {event.epoch} of {event.epochs}, validation loss "
                      f"{event.val.loss:.4f}")
        elif isinstance(event, BatchProgress) and event.batch % 20 == 0:
            self._say(f"epoch {event.epoch}, batch {event.batch} of {event.batches_per_epoch}")
        elif isinstance(event, Finished):
            self._finished = event

    def _poll(self) -> None:
        trainer = self._trainer
        if trainer is None:
            return
        if self._starter is not None and self._starter.is_alive():
            return
        if self._start_error is not None:
            self._end_run()
            return
        alive = trainer.poll(0)
        stuck = self._stop_asked and time.monotonic() - self._stop_asked > STOP_TIMEOUT
        if not alive or stuck:
            if stuck and alive:
                log.error("a paired run did not stop within %.1f s: ending it", STOP_TIMEOUT)
                trainer.kill()
            self._end_run()

    def _end_run(self) -> None:
        trainer, self._trainer = self._trainer, None
        self._timer.stop()
        if trainer is None:
            return
        error = self._start_error
        if error is None:
            try:
                trainer.finish()
            except StudioError as err:
                error = err
            except Exception as err:  # noqa: BLE001 - a bug: report it, keep the app usable
                log.exception("ending a paired run failed")
                error = err
        self._starter = None
        if error is not None:
            self._fail(str(error) if isinstance(error, StudioError)
                       else f"Training failed: {type(error).__name__}: {error}")
            return
        finished = self._finished
        if finished is None or finished.stopped or self._stop_asked:
            done = len(self.results)
            self.progress.emit(f"Stopped: {done} of {self._target} seed(s) complete"
                               + (", the unfinished pair is dropped." if done else "."))
            self._pair = None
            self._set_state("idle")
            return
        plan, model_a, model_b = self._pair
        label = plan.label_a if self._side == "A" else plan.label_b
        outcome = RunOutcome.of(label, self._start_print, finished)
        if self._side == "A":
            self._outcome_a = outcome
            self._start_side("B")
            return
        result = PairResult(plan, self._outcome_a, outcome)
        self.results.append(result)
        self.models.append((model_a, model_b))
        self.pairFinished.emit(result)
        self.progress.emit(f"{len(self.results)} of {self._target} seed(s) complete.")
        self._next_pair()

    def _fail(self, message: str) -> None:
        self._trainer, self._starter, self._pair = None, None, None
        self._timer.stop()
        self._set_state("idle")
        self.failed.emit(message)
