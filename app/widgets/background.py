"""Run one slow call (reading or decoding a file) off the GUI thread; the latest request wins.

`BackgroundCall.start(fn, *args)` runs `fn` on Qt's global thread pool and returns a token.
`done(token, value)` or `failed(token, message)` then arrive in the GUI thread (queued: the
object lives there). A result whose token is no longer `latest` is stale: a newer request was
made, so a slow file opened first never replaces the one opened after it.
"""

from collections.abc import Callable
from typing import Any

from mlp_studio.core.errors import StudioError
from PySide6.QtCore import QObject, QThreadPool, Signal, Slot


class BackgroundCall(QObject):
    done = Signal(int, object)  # token, the function's value
    failed = Signal(int, str)  # token, a message for the user

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.latest = 0
        self._running: set[int] = set()
        # Connected first, so it has run when the owner's slots see the result.
        self.done.connect(self._finished)
        self.failed.connect(self._finished)

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def start(self, fn: Callable[..., Any], *args: Any) -> int:
        self.latest += 1
        token = self.latest
        self._running.add(token)
        QThreadPool.globalInstance().start(lambda: self._run(token, fn, args))
        return token

    @Slot(int, object)
    def _finished(self, token: int, _value: Any) -> None:
        self._running.discard(token)

    def _run(self, token: int, fn: Callable[..., Any], args: tuple) -> None:
        try:
            value = fn(*args)
        except StudioError as err:
            self._emit(self.failed, token, str(err))
            return
        except Exception as err:  # a bug: report it, keep the app alive
            self._emit(self.failed, token, f"This failed unexpectedly: {type(err).__name__}: "
                                           f"{err}")
            return
        self._emit(self.done, token, value)

    @staticmethod
    def _emit(signal: Any, token: int, value: Any) -> None:
        try:
            signal.emit(token, value)
        except RuntimeError:  # the owner was deleted (window closed) while this ran
            pass
