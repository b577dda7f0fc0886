"""Say why a typed number is not taken, where it was typed.

A spin box quietly puts its last value back when the text is out of its range (lr 1000000,
epochs 0): people think the app ignored them. `bind_range` gives a box its range from
core.setting_ranges (the table the engine's checks use too), names the range in the tooltip,
and while the text is out of range shows the engine's own message in a note right under the
box and as a tooltip at it. The message stays after the box reverts, until the box
holds an allowed value again.
"""

from __future__ import annotations

from mlp_studio.core.setting_ranges import NumberRange, range_of
from PySide6.QtCore import QEvent, QObject, QPoint
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QAbstractSpinBox, QFormLayout, QLabel, QToolTip

NOTE_COLOR = QColor("#d9453a")  # reads on light and dark backgrounds


def bind_range(box: QAbstractSpinBox, name: str) -> QLabel:
    """Limit `box` to the allowed range of setting `name` and explain typed values outside it
    in a note right under the box (call it once the box is in its QFormLayout). Returns the
    note, hidden while there is nothing to say."""
    allowed = range_of(name)
    if allowed.whole:
        box.setRange(int(allowed.low), int(allowed.high))
    else:
        box.setRange(allowed.low, allowed.high)
    tip = box.toolTip()
    box.setToolTip(f"{tip}\nAllowed: {allowed.allowed()}." if tip else
                   f"Allowed: {allowed.allowed()}.")  # fmt: skip
    note = QLabel()
    pal = note.palette()
    pal.setColor(QPalette.ColorRole.WindowText, NOTE_COLOR)
    note.setPalette(pal)
    note.hide()
    form = box.parentWidget().layout() if box.parentWidget() is not None else None
    if isinstance(form, QFormLayout):
        row, _role = form.getWidgetPosition(box)
        if row >= 0:
            form.insertRow(row + 1, note)  # spans the row: under the field and its label
    box.lineEdit().textEdited.connect(lambda text: _check(box, allowed, note, text))
    keys = _DroppedKeys(box, allowed, note)
    box.installEventFilter(keys)  # keys typed in the box reach its line edit unfiltered
    box.lineEdit().installEventFilter(keys)
    box.valueChanged.connect(lambda _value: note.hide())
    return note


def typed_value(box: QAbstractSpinBox, text: str) -> float | int | None:
    """The number in the box's text (without prefix and suffix), None if it is not one yet."""
    text = text.strip().removeprefix(box.prefix().strip()).removesuffix(box.suffix().strip())
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return int(value) if value.is_integer() and "." not in text and "e" not in text else value


def _check(box: QAbstractSpinBox, allowed: NumberRange, note: QLabel, text: str) -> None:
    value = typed_value(box, text)
    if value is None or allowed.contains(value):
        note.hide()
        return
    message = allowed.problem(value)
    # One line under the field (a narrow form does not grow wrapped labels in a scroll area);
    # the tooltip at the field has the whole message.
    note.setText(f"Out of range: use {allowed.span()}.")
    note.show()
    QToolTip.showText(box.mapToGlobal(QPoint(0, box.height())), message, box)


def explain_dropped_keys(*boxes: QAbstractSpinBox) -> None:
    """For boxes without a setting range of their own (the Data panel's): a key the box
    drops, because it would take the text past the box's range, shows that range at the box
    (95 % typed into a box of at most 90 % left 9 % without a word)."""
    for box in boxes:
        keys = _DroppedKeys(box, None, None)
        box.installEventFilter(keys)
        box.lineEdit().installEventFilter(keys)


def _box_range(box: QAbstractSpinBox) -> str:
    low, high = box.minimum(), box.maximum()
    return f"Out of range: use {low:,g} to {high:,g}{box.suffix()}."


class _DroppedKeys(QObject):
    """A spin box drops a key that would take its text past the range (the 5th digit of 20000
    in a box of at most 9,999, which then kept 2000): textEdited never comes, so the text
    the key would make is checked as it is pressed."""

    def __init__(self, box: QAbstractSpinBox, allowed: NumberRange | None, note: QLabel | None):
        super().__init__(box)
        self.box, self.allowed, self.note = box, allowed, note

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and event.text().isdigit():
            edit = self.box.lineEdit()
            text, at = edit.text(), edit.cursorPosition()
            start, end = at, at
            if edit.hasSelectedText():
                start = edit.selectionStart()
                end = start + len(edit.selectedText())
            after = text[:start] + event.text() + text[end:]
            value = typed_value(self.box, after)
            if value is None:
                return False
            if self.allowed is not None:
                _check(self.box, self.allowed, self.note, after)
            elif not self.box.minimum() <= value <= self.box.maximum():
                QToolTip.showText(self.box.mapToGlobal(QPoint(0, self.box.height())),
                                  _box_range(self.box), self.box)
        return False
