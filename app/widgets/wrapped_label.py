"""A word-wrapped label that layouts never squeeze below its text."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget


class WrappedLabel(QLabel):
    """A layout asks a word-wrapped QLabel for about one line's height, so in a tight dock or
    splitter a three-line message was squeezed and the widgets above it drawn over each other
    (the Lessons dock's note at 1280x720). This one asks for its wrapped height at its width."""

    def __init__(self, text: str = "", parent: QWidget | None = None):
        super().__init__(text, parent)
        self.setWordWrap(True)

    def setText(self, text: str) -> None:
        super().setText(text)
        self._fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._fit()

    def _fit(self) -> None:
        self.setMinimumHeight(self.heightForWidth(self.width()) if self.text() else 0)
