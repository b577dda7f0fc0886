"""Update a view only when it can be seen: a panel in a dock tab that is not in front skips
the work (scrubbing through checkpoints re-reads the model many times a second) and catches
up once its tab is brought to the front."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QDockWidget, QWidget


def dock_of(widget: QWidget) -> QDockWidget | None:
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QDockWidget):
        parent = parent.parentWidget()
    return parent


class WhenOnScreen(QObject):
    """Call it to run `update` now if `widget` can be seen, else once its dock is shown.

    A tabbed dock that is not in front stays isVisible() (Qt moves it out of sight), so the
    test is its visible region. A widget outside a dock, or in a window not shown yet, always
    updates at once (a panel on its own, tests)."""

    def __init__(self, widget: QWidget, update: Callable[[], None]) -> None:
        super().__init__(widget)
        self._widget, self._update = widget, update
        self._pending = False
        self._dock: QDockWidget | None = None

    def __call__(self, *_args) -> None:
        if self.hidden():
            self._pending = True
            return
        self._pending = False
        self._update()

    def hidden(self) -> bool:
        dock = self._find_dock()
        return (dock is not None and self._widget.window().isVisible()
                and dock.visibleRegion().isEmpty())  # fmt: skip

    def _find_dock(self) -> QDockWidget | None:
        if self._dock is None:
            self._dock = dock_of(self._widget)
            if self._dock is not None:
                self._dock.visibilityChanged.connect(self._on_dock_visible)
        return self._dock

    def _on_dock_visible(self, visible: bool) -> None:
        if visible and self._pending:
            self._pending = False
            self._update()
