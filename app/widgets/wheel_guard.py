"""A mouse wheel that scrolls a panel must not change the settings it passes over.

Qt sends a wheel event to the slider, spin box or combo box under the pointer, focused or not:
scrolling down the Data panel set a digit's "keep" slider to 97% in one notch. `WheelGuard`,
installed once on the application, lets these widgets take the wheel only while they have
keyboard focus (a click or Tab gives it); otherwise the event goes on to the scroll area
around them. It also gives them Qt.StrongFocus, so the wheel itself never focuses them. One
application filter covers widgets created later too (layer rows, playground controls).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractSlider, QAbstractSpinBox, QComboBox, QScrollBar

_GUARDED = (QAbstractSlider, QAbstractSpinBox, QComboBox)


def _guarded(obj: QObject) -> bool:
    return isinstance(obj, _GUARDED) and not isinstance(obj, QScrollBar)


class WheelGuard(QObject):
    """Install with `QApplication.instance().installEventFilter(WheelGuard(parent))`."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.Wheel:
            if _guarded(obj) and not obj.hasFocus():
                # Ignored and filtered: Qt offers the event to the parents (the scroll area).
                event.ignore()
                return True
        elif kind == QEvent.Type.Polish and _guarded(obj):
            if obj.focusPolicy() == Qt.FocusPolicy.WheelFocus:
                obj.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        return False
