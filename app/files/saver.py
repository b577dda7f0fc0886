"""Writing sessions off the GUI thread, one at a time (on app.widgets.background)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlp_studio.app.widgets.background import Background
from mlp_studio.core.errors import StudioError
from mlp_studio.core.session import Session, save_session
from PySide6.QtCore import QObject

log = logging.getLogger(__name__)


def write_session(session: Session, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_session(session, path)


def _message(err: BaseException, path: Path) -> str:
    if isinstance(err, StudioError):
        return str(err)
    return f"Cannot save {path}: {type(err).__name__}: {err}"  # a bug (logged with its trace)


class SessionSaver:
    """Writes sessions in the background, one at a time. A newer autosave replaces one that
    waits (or is being written: only the newest reports); manual saves are all written, also
    at shutdown. `done(path, error, token)` is called in the GUI thread, error "" when saved."""

    def __init__(self, parent: QObject, done: Callable[[str, str, Any], Any]) -> None:
        self._tasks = Background(parent)
        self._done = done

    @property
    def busy(self) -> bool:
        return self._tasks.busy

    def save(self, session: Session, path: Path, token: object, replaceable: bool) -> None:
        self._tasks.run(
            lambda _task: write_session(session, path),
            lane="save",
            latest=replaceable,
            finish=not replaceable,
            on_done=lambda _none: self._done(str(path), "", token),
            on_error=lambda err: self._done(str(path), _message(err, path), token),
        )

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every save is written and reported; False if `timeout` s passed first."""
        return self._tasks.wait(timeout)

    def shutdown(self) -> bool:
        """Finish the manual saves, drop waiting autosaves; bounded for a running autosave."""
        finished = self._tasks.shutdown()
        if not finished:
            log.warning("an autosave was still being written when the app closed")
        return finished
