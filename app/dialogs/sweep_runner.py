"""Runs a sweep's worker processes for the app and reads the study while they work.

The workers are the command line's (core.cli.sweep.start_workers): child processes of one
thread each, so the window stays responsive. Results are read from the study's storage on the
background helper every POLL_MS, the latest read winning; Cancel terminates the workers and
fails the trials they were running (a sweep in the app is not resumed).
"""

from __future__ import annotations

import queue

from mlp_studio.app.widgets.background import Background, error_message
from PySide6.QtCore import QObject, QTimer, Signal, Slot

POLL_MS = 1000
STOP_SECONDS = 3.0


class SweepRunner(QObject):
    resultsChanged = Signal(object)  # core.sweep.SweepResults
    runningChanged = Signal(bool)
    failed = Signal(str)  # what went wrong, for the banner

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.background = Background(self)
        self.sweep = None
        self._processes: list = []
        self._errors = None
        self._running = False
        self._cache: dict = {}  # the open study and its last importance, for the reads
        self._timer = QTimer(self, interval=POLL_MS)
        self._timer.timeout.connect(self._poll)

    @property
    def running(self) -> bool:
        """The workers are starting or working: True from start() until runningChanged(False)
        is sent (by the first poll that finds them all gone), so that this and the dialog's
        buttons always agree."""
        return self._running

    def start(self, sweep, workers: int) -> None:
        """Open (create) the study off the GUI thread, then start the workers."""
        if self.running:
            return
        self.sweep = sweep
        self._running = True
        self.runningChanged.emit(True)

        def prepare(_task):
            from mlp_studio.core.sweep import open_study

            open_study(sweep)  # refuses a study of other settings, a bad storage: one message

        self.background.run(prepare, lane="open", on_done=lambda _v: self._launch(workers),
                            on_error=self._start_failed)

    def _launch(self, workers: int) -> None:
        from mlp_studio.core.cli.sweep import start_workers
        from mlp_studio.core.training_process import context

        if not self._running:
            return  # cancelled while the study was being opened
        self._errors = context().Queue()
        self._processes = start_workers(self.sweep, workers, True, self._errors)
        self._timer.start()

    def _start_failed(self, err: BaseException) -> None:
        self._running = False
        self.runningChanged.emit(False)
        self.failed.emit(error_message(err))

    @Slot()
    def _poll(self) -> None:
        while self._errors is not None:
            try:
                self.failed.emit(self._errors.get_nowait())
            except (queue.Empty, OSError, ValueError):
                break
        self.refresh()
        if not any(p.is_alive() for p in self._processes):
            self._timer.stop()
            self._processes = []
            self._running = False
            self.runningChanged.emit(False)
            self.refresh()

    def refresh(self) -> None:
        """Read the study again (in the background; the latest read wins). The importance is
        computed again only when more trials have completed: it fits a forest each time."""
        sweep = self.sweep
        if sweep is None:
            return
        cache = self._cache

        def read(_task):
            import dataclasses

            from mlp_studio.core.sweep import open_study, param_importance, results

            if cache.get("study") is None or cache.get("name") != sweep.study:
                cache.update(study=open_study(sweep, create=False), name=sweep.study,
                             complete=-1, importance={})
            study = cache["study"]
            done = results(study, importance=False)
            complete = sum(t.state == "COMPLETE" for t in done.trials)
            if complete != cache["complete"]:
                cache.update(importance=param_importance(study), complete=complete)
            return dataclasses.replace(done, importance=cache["importance"])

        self.background.run(read, lane="read", latest=True, on_done=self.resultsChanged.emit,
                            on_error=lambda err: self.failed.emit(error_message(err)))

    def cancel(self) -> None:
        """Stop the workers now; their unfinished trials are marked failed."""
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        for process in self._processes:
            process.join(STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join(STOP_SECONDS)
        was = bool(self._processes)
        self._processes = []
        self._timer.stop()
        if was and self.sweep is not None:
            sweep = self.sweep

            def fail_orphans(_task):
                from mlp_studio.core.sweep import open_study
                from mlp_studio.core.sweep_storage import recover

                recover(open_study(sweep, create=False), retry=False, unclaimed=True)

            self.background.run(fail_orphans, lane="open", on_done=lambda _v: self.refresh())
        self._running = False
        self.runningChanged.emit(False)

    def shutdown(self) -> None:
        self.cancel()
        self.background.shutdown()
