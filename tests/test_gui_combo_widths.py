"""Drop-downs show their choices whole: the Training settings' Loss and Best-epoch boxes were
cut to "Sparse categorical c…" and "Highest validation acc…" at 1600x1000 and 1280x720."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication, QComboBox, QStyle, QStyleOptionComboBox
from window_fixtures import open_window


def _text_room(box: QComboBox) -> int:
    """The width the box's style gives its text."""
    option = QStyleOptionComboBox()
    box.initStyleOption(option)
    return box.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                      QStyle.SubControl.SC_ComboBoxEditField, box).width()


@pytest.mark.parametrize("size", [(1600, 1000), (1280, 720)])
def test_training_settings_show_every_choice_whole(qtbot, monkeypatch, size):
    window = open_window(qtbot, monkeypatch)
    window.resize(*size)
    QApplication.processEvents()
    training = window.panels["training"]
    form = training.hyperparameters
    for box in (form.loss, form.best_by, form.optimizer, form.device, form.schedule):
        longest = max(box.fontMetrics().horizontalAdvance(box.itemText(i))
                      for i in range(box.count()))
        assert _text_room(box) >= longest, box.currentText()
    # ... and the settings still fit their column: no part of the form is cut off on the right.
    scroll = training.settings_scroll
    assert form.width() <= scroll.viewport().width()
    assert form.width() >= form.minimumSizeHint().width()
