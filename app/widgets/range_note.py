"""Say why a typed number is not taken, where it was typed.

A spin box quietly puts its last value back when the text is out of its range (lr 1000000,
epochs 0): people think the app ignored them. `bind_range` gives a box its range from
core.setting_ranges (the table the engine's checks use too), names the range in the tooltip,
and while the text is out of range shows the engine's own message in `note` (a label under the
form) and as a tooltip at the box. The message stays after the box reverts, until the box
holds an allowed value again.
"""

from __future__ import annotations

from mlp_studio.core.setting_ranges import NumberRange, range_of
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QAbstractSpinBox, QLabel, QToolTip

NOTE_OWNER = "rangeNoteOwner"  # the note's property: which box its message is about


def bind_range(box: QAbstractSpinBox, name: str, note: QLabel) -> NumberRange:
    """Limit `box` to the allowed range of setting `name` and explain typed values outside it."""
    allowed = range_of(name)
    if allowed.whole:
        box.setRange(int(allowed.low), int(allowed.high))
    else:
        box.setRange(allowed.low, allowed.high)
    tip = box.toolTip()
    box.setToolTip(f"{tip}\nAllowed: {allowed.allowed()}." if tip else
                   f"Allowed: {allowed.allowed()}.")  # fmt: skip
    box.lineEdit().textEdited.connect(lambda text: _check(box, allowed, note, text))
    box.valueChanged.connect(lambda _value: _clear(box, note))
    return allowed


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
        _clear(box, note)
        return
    message = allowed.problem(value)
    note.setText(message)
    note.setProperty(NOTE_OWNER, box.objectName() or str(id(box)))
    note.show()
    QToolTip.showText(box.mapToGlobal(QPoint(0, box.height())), message, box)


def _clear(box: QAbstractSpinBox, note: QLabel) -> None:
    if note.property(NOTE_OWNER) == (box.objectName() or str(id(box))):
        note.setProperty(NOTE_OWNER, "")
        note.hide()
        note.clear()
