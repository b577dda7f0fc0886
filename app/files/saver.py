"""Writing sessions off the GUI thread, one at a time."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from mlp_studio.core.errors import StudioError
from mlp_studio.core.session import Session, save_session
from PySide6.QtCore import QObject, Signal, Slot

log = logging.getLogger(__name__)

class SessionSaver(QObject):
    """Writes sessions on a worker thread, one at a time; a newer autosave replaces a waiting
    one. `done(path, error, token)` arrives in the GUI thread."""

    done = Signal(str, str, object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: threading.Thread | None = None
        self._token: object = None  # the running job's
        self._queue: list[tuple[Session, Path, object]] = []
        self.done.connect(self._on_done)

    @property
    def busy(self) -> bool:
        return self._thread is not None or bool(self._queue)

    def save(self, session: Session, path: Path, token: object, replaceable: bool) -> None:
        if replaceable:
            self._queue = [job for job in self._queue if job[1] != path]
        self._queue.append((session, path, token))
        self._next()

    def drop_queued(self, keep) -> None:
        """Forget waiting jobs whose token does not satisfy keep(token)."""
        self._queue = [job for job in self._queue if keep(job[2])]

    def _next(self) -> None:
        if self._thread is not None or not self._queue:
            return
        session, path, token = self._queue.pop(0)
        self._token = token
        self._thread = threading.Thread(
            target=self._run, args=(session, path, token), name="save session", daemon=True
        )
        self._thread.start()

    def _run(self, session: Session, path: Path, token: object) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            save_session(session, path)
            error = ""
        except StudioError as err:
            error = str(err)
        except Exception as err:  # a bug: report it rather than lose the thread silently
            log.exception("saving %s failed", path)
            error = f"Cannot save {path}: {type(err).__name__}: {err}"
        self.done.emit(str(path), error, token)  # queued into the GUI thread; the last step

    @Slot(str, str, object)
    def _on_done(self, _path: str, _error: str, token: object) -> None:
        if token is self._token and self._thread is not None:
            self._thread.join()  # it has emitted its last signal: ends at once
            self._thread = self._token = None
        self._next()

    def wait(self) -> None:
        """Block until every job has been written (results arrive as queued signals)."""
        while self._thread is not None:
            self._thread.join()
            self._thread = self._token = None
            self._next()
