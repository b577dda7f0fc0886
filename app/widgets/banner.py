"""The one message banner: a line of text with a level (error, warning, info) and a close button.

Used by the main window (under the toolbar) and by panels above their content. It is hidden
whenever it has no text, so it never shows as an empty strip.
"""

from __future__ import annotations

from enum import Enum

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QStyle,
    QToolButton,
    QWidget,
)


class Level(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


ICONS = {
    Level.ERROR: QStyle.StandardPixmap.SP_MessageBoxCritical,
    Level.WARNING: QStyle.StandardPixmap.SP_MessageBoxWarning,
    Level.INFO: QStyle.StandardPixmap.SP_MessageBoxInformation,
}
HUES = {Level.ERROR: (220, 60, 50), Level.WARNING: (230, 160, 30), Level.INFO: (60, 130, 220)}


class Banner(QFrame):
    """Shows one message at a time; `show_message("")` or the close button hides it.

    `closable=False` is for banners that state a condition which goes away by itself (they may
    carry their own buttons, added with `add_widget`)."""

    dismissed = Signal()  # the user closed it
    textChanged = Signal(str)  # "" when it hides: a host (the window's toolbar) hides with it

    def __init__(self, parent: QWidget | None = None, closable: bool = True):
        super().__init__(parent)
        self.setObjectName("banner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setBackgroundRole(QPalette.ColorRole.Window)  # a toolbar would make it Button
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        self.level = Level.INFO
        self._placed = False  # given a width by a layout while shown (see sizeHint)
        self.icon = QLabel()
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(8, 4, 4, 4)
        self._layout.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        self._layout.addWidget(self.label, 1)
        self.close_button = QToolButton()
        self.close_button.setAutoRaise(True)
        self.close_button.setIcon(
            self.style().standardIcon(QStyle.StandardPixmap.SP_TitleBarCloseButton)
        )
        self.close_button.setToolTip("Dismiss this message")
        self.close_button.clicked.connect(self._close)
        self._layout.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        # Only once it has a parent: a parentless widget made visible is a window of its own.
        self.close_button.setVisible(closable)
        self.hide()

    def sizeHint(self) -> QSize:
        # Tall enough for the wrapped text at the current width: layouts without
        # height-for-width (a toolbar's) would otherwise give one line or far too many.
        hint = super().sizeHint()
        # Before a layout has placed it, its own width is a guess, often narrow, and a narrow
        # width means a tall banner that made the window grow past the screen: wrap at the
        # window's width then, and never ask for more than a few lines. Once placed, its own
        # width: a banner in a narrow column (the Draw panel's) wraps there, and was cut to
        # one line when a width under half the window's was taken for a guess.
        width = self.width()
        window = self.window()
        if window is not self and not self._placed:
            width = window.width() - 24
        height = self.heightForWidth(width) if width > 0 else -1
        if height > 0:
            lines = self.label.fontMetrics().lineSpacing()
            hint.setHeight(min(height, 6 * lines + 16))
        return hint

    def minimumSizeHint(self) -> QSize:
        # Never squeezed below its wrapped text: the Draw panel's canvas took the height and
        # cut a two-line message to one.
        hint = super().minimumSizeHint()
        hint.setHeight(max(hint.height(), self.sizeHint().height()))
        return hint

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # Placed: shown (the first resize comes as it is shown, before it counts as visible)
        # at a width a layout gives a message; narrower is Qt's default for an unplaced child.
        self._placed = self._placed or (not self.isHidden() and event.size().width() >= 200)
        if event.size().width() != event.oldSize().width():
            self.updateGeometry()

    def add_widget(self, widget: QWidget) -> None:
        """A button (or other widget) beside the text, before the close button."""
        self._layout.insertWidget(self._layout.count() - 1, widget, 0, Qt.AlignmentFlag.AlignTop)

    def show_message(self, text: str, level: Level | str = Level.WARNING) -> None:
        """Show `text` (plain text) at `level`; an empty text hides the banner."""
        if not text:
            self.clear()
            return
        self.level = Level(level)
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        self.icon.setPixmap(self.style().standardIcon(ICONS[self.level]).pixmap(size, size))
        self.label.setText(text)
        self._tint()
        self.show()
        self.textChanged.emit(text)

    def clear(self) -> None:
        self.label.setText("")
        self.hide()
        self.textChanged.emit("")

    def text(self) -> str:
        """The message shown, or "" when hidden (set hidden, whether or not on screen)."""
        return "" if self.isHidden() else self.label.text()

    def _close(self) -> None:
        self.clear()
        self.dismissed.emit()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.ApplicationPaletteChange:
            self._tint()  # the desktop switched between light and dark
        super().changeEvent(event)

    def _tint(self) -> None:
        # The level's hue mixed into the theme's own window colour: the text keeps the palette's
        # WindowText colour, so it stays readable in light and dark palettes.
        palette = QApplication.palette()
        base = palette.color(QPalette.ColorRole.Window)
        mix = 0.28 if base.lightness() < 128 else 0.22
        rgb = base.getRgb()[:3]
        tinted = base.fromRgb(
            *(round(c * (1 - mix) + h * mix) for c, h in zip(rgb, HUES[self.level], strict=True))
        )
        own = QPalette(palette)
        own.setColor(QPalette.ColorRole.Window, tinted)
        self.setPalette(own)
