"""Run slow calls (loading, downloading, preparing data, saving, exporting) off the GUI thread.

`Background.run(fn, ...)` runs `fn(task)` in a superqt `FunctionWorker` on this object's own
thread pool and returns the `Task`. The callbacks (`on_done(value)`, `on_error(exception)`,
`on_progress(*values)`) are called in the GUI thread. `fn` may call `task.progress(...)` (the
GUI sees the latest value; reports never pile up) and should poll `task.cancelled` in long loops.

- `lane`: tasks of one lane run one after another (one session save at a time, one data
  preparation at a time: a full MNIST copy is ~220 MB).
- `latest=True`: latest request wins in its lane. Waiting `latest` tasks of the lane are
  dropped; a running one is cancelled and its outcome is never delivered.
- `finish=True`: `shutdown` runs the task to its end even if it has not started (a manual save
  is finished, not dropped); every other task is cancelled or dropped, and shutdown waits for
  them only up to its timeout.

Each Background has its own QThreadPool, big enough that every started task has a thread at
once (lanes, not the pool, decide what waits). Qt's global pool has as many threads as cores
(2 on a small laptop) and is shared with anything else: there a long download and a folder read
would keep a save, or a data preparation, from starting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from mlp_studio.core.errors import StudioError
from PySide6.QtCore import QCoreApplication, QObject, Qt, QThreadPool, Signal, Slot
from superqt.utils import FunctionWorker

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 5.0  # s: longer than a session save or a cancelled download takes
MAX_THREADS = 16  # per owner; its lanes keep the running tasks far fewer


def error_message(err: BaseException) -> str:
    """What to tell the user: StudioErrors are written for users; anything else is a bug."""
    if isinstance(err, StudioError):
        return str(err)
    return f"This failed unexpectedly: {type(err).__name__}: {err}"


class Task(QObject):
    """One call of a function on a pool thread; lives in the GUI thread."""

    _progressed = Signal()  # emitted from the worker: the latest progress is waiting

    def __init__(self, fn: Callable[[Task], Any], lane: str | None, latest: bool, finish: bool,
                 on_done: Callable[[Any], Any] | None, on_error: Callable[[BaseException], Any]
                 | None, on_progress: Callable[..., Any] | None) -> None:
        super().__init__()
        self.lane, self.latest, self.finish = lane, latest, finish
        self._on_done, self._on_error, self._on_progress = on_done, on_error, on_progress
        self._lock = threading.Lock()
        self._progress: tuple | None = None  # the latest values not yet shown
        self._cancelled = False
        self.superseded = False  # a later request won: nothing is delivered
        self.ended = threading.Event()  # set in the worker thread once it emitted its last signal
        self.worker = FunctionWorker(fn, self)
        self.worker.returned.connect(self._returned)  # queued: the receiver is in the GUI thread
        self.worker.errored.connect(self._errored)
        self.worker.finished.connect(self._finished)
        # Connected last, run in the worker: the queued signals above are posted by then.
        self.worker.finished.connect(self.ended.set, Qt.ConnectionType.DirectConnection)
        self._progressed.connect(self._show_progress)
        self.when_finished: Callable[[Task], Any] = lambda _task: None  # set by Background

    @property
    def cancelled(self) -> bool:
        """Whether the function should stop (polled by it from the worker thread)."""
        return self._cancelled

    def cancel(self) -> None:
        """Ask the function to stop. Once cancelled, a value it returns is not delivered (an
        exception it raises, such as DownloadCancelled, is)."""
        self._cancelled = True
        self.worker.quit()  # superqt's abort flag: it then drops the returned value

    def progress(self, *values: Any) -> None:
        """From the function: report progress; on_progress gets the latest values."""
        with self._lock:
            pending = self._progress is not None
            self._progress = values
        if not pending:
            self._progressed.emit()

    @Slot()
    def _show_progress(self) -> None:
        with self._lock:
            values, self._progress = self._progress, None
        if values is not None and self._on_progress is not None and not self._cancelled:
            self._on_progress(*values)

    @Slot(object)
    def _returned(self, value: Any) -> None:
        if self._on_done is not None and not self.superseded:
            self._on_done(value)

    @Slot(object)
    def _errored(self, err: BaseException) -> None:
        if not isinstance(err, StudioError):  # a bug, not a user's mistake: keep the trace
            log.error("%s failed", getattr(self.worker, "_func", "a task"), exc_info=err)
        if self._on_error is not None and not self.superseded:
            self._on_error(err)

    @Slot()
    def _finished(self) -> None:
        self.when_finished(self)


class Background(QObject):
    """Background tasks of one owner (a panel, the file actions, a dialog)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(MAX_THREADS)
        self._running: list[Task] = []  # started, not yet finished (references kept till then)
        self._waiting: list[Task] = []  # queued behind a running task of their lane

    @property
    def busy(self) -> bool:
        return bool(self._running or self._waiting)

    def run(
        self,
        fn: Callable[[Task], Any],
        *,
        on_done: Callable[[Any], Any] | None = None,
        on_error: Callable[[BaseException], Any] | None = None,
        on_progress: Callable[..., Any] | None = None,
        lane: str | None = None,
        latest: bool = False,
        finish: bool = False,
    ) -> Task:
        """Run fn(task) on a pool thread (see the module's docstring); returns the task."""
        task = Task(fn, lane, latest, finish, on_done, on_error, on_progress)
        task.when_finished = self._on_finished
        if lane is not None and latest:
            for old in [t for t in self._waiting if t.lane == lane and t.latest]:
                self._waiting.remove(old)
            for old in self._running:
                if old.lane == lane and old.latest:
                    old.superseded = True
                    old.cancel()
        if lane is not None and any(t.lane == lane for t in self._running):
            self._waiting.append(task)
        else:
            self._start(task)
        return task

    def _start(self, task: Task) -> None:
        self._running.append(task)
        self.pool.start(task.worker)

    def _on_finished(self, task: Task) -> None:
        if task in self._running:
            self._running.remove(task)
        for waiting in self._waiting:
            if waiting.lane == task.lane:
                self._waiting.remove(waiting)
                self._start(waiting)
                break

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every task has run and its callbacks were called (in this thread);
        False if some were still running after `timeout` seconds."""
        return self._wait(lambda _task: True, timeout)

    def _wait(self, which: Callable[[Task], bool], timeout: float | None) -> bool:
        """Wait for the tasks `which` selects (and those ahead of them in their lanes)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            lanes = {t.lane for t in self._waiting if which(t)}
            blocking = [t for t in self._running if which(t) or t.lane in lanes]
            if not blocking:
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            blocking[0].ended.wait(left)
            for task in list(self._running):
                if task.ended.is_set():
                    # Its queued results, then its finished (which starts the next in its lane).
                    QCoreApplication.sendPostedEvents(task)

    def shutdown(self, timeout: float = SHUTDOWN_TIMEOUT) -> bool:
        """Stop: drop waiting tasks, cancel running ones, finish the `finish` ones; returns
        False if some were still running after `timeout` seconds (their threads end later)."""
        self._waiting = [t for t in self._waiting if t.finish]
        for task in self._running:
            if not task.finish:
                task.cancel()
        self._wait(lambda task: task.finish, None)
        return self._wait(lambda _task: True, timeout)
