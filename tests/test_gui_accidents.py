"""What a person does by accident: shortcuts that clash, a stray wheel, odd paths, closing early."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pytest
from mlp_studio.app.main_window import MainWindow
from mlp_studio.core import mnist
from mlp_studio.core.model import LayerSpec, NetworkSpec
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMessageBox


@pytest.fixture
def window(qtbot, monkeypatch):
    monkeypatch.delenv("MLP_STUDIO_DATA", raising=False)
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *args, **kwargs: QMessageBox.StandardButton.Discard)  # fmt: skip
    recovery = Path(tempfile.mkdtemp()) / "recovery.mlps"
    window = MainWindow(QSettings(), autoload_data=False, recovery_path=recovery)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.engineLoaded, timeout=60_000):
        window.load_engine()
    yield window
    window.close()


def test_no_two_actions_share_a_shortcut(window):
    keys = Counter()
    for action in window.findChildren(QAction):
        for sequence in action.shortcuts():
            keys[sequence.toString(QKeySequence.SequenceFormat.PortableText)] += 1
    assert keys, "the window has shortcuts"
    assert [key for key, count in keys.items() if count > 1] == []
    assert window.evaluate_action.shortcut().toString() == "Ctrl+E"
    assert window.file_actions.export_action.shortcut().toString() == "Ctrl+Shift+E"


@pytest.fixture
def export_dialog(qtbot):
    import numpy as np
    from mlp_studio.app.dialogs.export_dialog import ExportDialog
    from mlp_studio.core import export
    from mlp_studio.core.data import Normalization
    from mlp_studio.core.model import build_model

    spec = NetworkSpec(784, [LayerSpec(8)], 10)
    normalization = Normalization("unit", np.zeros(784), np.full(784, 255.0))
    bundle = export.ModelBundle(spec, normalization, "cross-entropy",
                                [str(d) for d in range(10)], build_model(spec).state_dict())
    dialog = ExportDialog(bundle, np.zeros((4, 784), np.float32), settings=QSettings())
    qtbot.addWidget(dialog)
    return dialog


@pytest.mark.parametrize("case", ["/", "", "folder", "folder/", "missing-folder", "~nobody9/m"])
def test_every_typed_export_path_gets_a_message_not_a_traceback(qtbot, export_dialog, tmp_path,
                                                                  case):  # fmt: skip
    texts = {"folder": str(tmp_path), "folder/": f"{tmp_path}/",
             "missing-folder": str(tmp_path / "missing" / "m.onnx")}  # fmt: skip
    text = texts.get(case, case)
    export_dialog.set_format("onnx")
    qtbot.keyClicks(export_dialog.path_edit, "x")  # a real edit, then the text under test
    export_dialog.path_edit.setText(text)
    export_dialog.path_edit.textEdited.emit(text)
    message = export_dialog.status_text()
    expected = {"/": "is a folder", "": "Type a file name", "folder": "is a folder",
                "folder/": "is a folder", "missing-folder": "does not exist",
                "~nobody9/m": "does not exist"}  # fmt: skip
    assert expected[case] in message
    assert not export_dialog.export_button.isEnabled()
    assert export_dialog.path() is None
    assert not export_dialog.start_export()  # refused with the same message, nothing started
    assert not export_dialog.busy and expected[case] in export_dialog.status_text()
    export_dialog.set_path(tmp_path / "m.onnx")  # a good path clears the message
    assert export_dialog.export_button.isEnabled()
    assert "is a folder" not in export_dialog.status_text()
    assert export_dialog.path() == tmp_path / "m.onnx"


@pytest.fixture
def fresh_launch(qtbot, monkeypatch, tmp_path):
    """The app as a first launch starts it: no MNIST anywhere, so it opens on the playground
    (whose setup adjusted the network and settings and used to mark the session modified)."""
    monkeypatch.delenv("MLP_STUDIO_DATA", raising=False)
    monkeypatch.setattr(mnist, "default_cache_dir", lambda: tmp_path / "cache")
    asked: list[str] = []

    def question(*args, **_kwargs):
        asked.append(args[2])
        return answers.pop(0) if answers else QMessageBox.StandardButton.Discard

    answers: list = []
    monkeypatch.setattr(QMessageBox, "question", question)
    window = MainWindow(QSettings(), autoload_data=True, recovery_path=tmp_path / "r.mlps")
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.engineLoaded, timeout=60_000):
        window.load_engine()
    window.asked, window.answers = asked, answers
    yield window
    answers.clear()
    window.close()


def test_a_fresh_launch_is_not_modified_and_closes_without_a_question(fresh_launch):
    window = fresh_launch
    assert window.state.data is not None  # the playground's points
    assert not window.isWindowModified() and not window.file_actions.dirty
    assert window.close() and window.asked == []


@pytest.mark.parametrize("edit", ["design", "reset"])
def test_closing_with_an_untrained_design_or_new_weights_asks_to_save(fresh_launch, edit):
    window = fresh_launch
    if edit == "design":
        spec = window.state.spec
        spec.hidden = [LayerSpec(7)]
        window.state.edit_spec(spec, "Add layer")
    else:
        window.reset_action.trigger()
    assert window.state.epochs_done == 0 and window.isWindowModified()
    window.answers.append(QMessageBox.StandardButton.Cancel)
    assert not window.close()  # the user chose to keep working
    assert window.isVisible() and len(window.asked) == 1
    assert "unsaved changes" in window.asked[0]


def wheel(widget, notches: int = -1) -> None:
    """One real-looking wheel turn over `widget`, delivered the way Qt delivers it."""
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    centre = QPointF(widget.rect().center())
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(),
                        QPoint(0, 120 * notches), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                        False)  # fmt: skip
    QApplication.sendEvent(widget, event)


def test_the_wheel_over_a_panel_changes_no_setting_without_focus(qtbot, window):
    from PySide6.QtWidgets import QAbstractSlider, QAbstractSpinBox, QComboBox, QScrollBar

    data = window.panels["dataset"]
    slider = data.keep_sliders.sliders[3]
    for dock in window.docks.values():
        dock.raise_()
    qtbot.wait(10)
    guarded = [w for panel in window.panels.values()
               for kind in (QAbstractSlider, QAbstractSpinBox, QComboBox)
               for w in panel.findChildren(kind) if not isinstance(w, QScrollBar)]  # fmt: skip
    assert len(guarded) > 20 and slider in guarded
    for widget in guarded:  # the wheel never gives them focus
        widget.ensurePolished()
        assert widget.focusPolicy() == Qt.FocusPolicy.StrongFocus, widget
    before = {id(w): _value(w) for w in guarded}
    for widget in guarded:
        if widget.isEnabled():
            wheel(widget, -1)
            wheel(widget, +3)
    assert {id(w): _value(w) for w in guarded} == before
    assert slider.value() == 100
    # With focus (a click or Tab), the wheel works as usual.
    slider.setFocus()
    qtbot.waitUntil(slider.hasFocus)
    wheel(slider, -1)
    assert slider.value() < 100


def _value(widget):
    from PySide6.QtWidgets import QComboBox

    return widget.currentIndex() if isinstance(widget, QComboBox) else widget.value()


def test_data_settings_are_undoable_and_a_slider_drag_is_one_entry(qtbot, window):
    data, state = window.panels["dataset"], window.state
    stack = state.undo_stack
    start = stack.count()
    slider = data.keep_sliders.sliders[3]
    for value in range(99, 49, -1):  # a drag: fifty steps
        slider.setValue(value)
    assert stack.count() == start + 1
    assert state.data_config.balance.keep_fractions[3] == 0.5
    assert window.undo_action.text() == "&Undo Keep 50% of the 3s"
    combo = data.normalization_combo
    combo.setCurrentIndex((combo.currentIndex() + 1) % combo.count())
    changed = combo.currentData()
    assert stack.count() == start + 2 and state.data_config.normalization == changed

    window.undo_action.trigger()  # the normalization comes back, in the state and on screen
    assert state.data_config.normalization == combo.currentData() != changed
    window.undo_action.trigger()  # then the slider
    assert slider.value() == 100 and state.data_config.balance.keep_fractions[3] == 1.0
    assert data.config() == state.data_config
    window.redo_action.trigger()
    assert slider.value() == 50 and state.data_config.balance.keep_fractions[3] == 0.5
    data.long_tail_button.click()  # several digits at once: its own entry
    assert stack.count() == start + 2 and data.keep_sliders.sliders[9].value() == 5
    window.undo_action.trigger()
    assert slider.value() == 50 and data.keep_sliders.sliders[9].value() == 100


def test_the_window_fits_a_1280x720_screen_with_any_dock_or_tab_in_front(qtbot, window):
    from PySide6.QtWidgets import QTabWidget

    room = (1280 - 40, 720 - 80)  # the window frame, a title bar and a taskbar

    def fits() -> None:
        hint = window.minimumSizeHint().expandedTo(window.minimumSize())
        assert hint.width() <= room[0] and hint.height() <= room[1], hint
        window.resize(1280, 720)
        qtbot.wait(5)
        assert window.size().toTuple() == (1280, 720)  # never grows past the screen

    for dock in window.docks.values():
        dock.raise_()
        fits()
        for tabs in dock.findChildren(QTabWidget):
            for i in range(tabs.count()):
                tabs.setCurrentIndex(i)
                fits()


@pytest.mark.parametrize("field, typed, says", [
    ("lr", "1000000", "Out of range: use 1e-6 to 10."),
    ("epochs", "0", "Out of range: use 1 to 100,000."),
])  # fmt: skip
def test_a_typed_number_out_of_range_says_why_on_the_spot(qtbot, window, field, typed, says):
    from mlp_studio.app.panels.training.hyperparameters import HyperparametersForm
    from mlp_studio.core.setting_ranges import range_of

    form = window.findChild(HyperparametersForm)
    box = getattr(form, field)
    before = box.value()
    assert range_of(field).allowed() in box.toolTip()
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), typed)
    note = form.range_notes[field]
    assert note.isVisibleTo(form) and says in note.text()
    assert note.parentWidget() is box.parentWidget()  # in the same form, right under the field
    box.interpretText()  # Enter / focus out: the box keeps its value and the note stays
    assert box.value() == before and says in form.range_notes[field].text()
    assert getattr(window.state.train_config, field) == before
    # The same words come from the engine's check of a config (CLI, session files).
    config = window.state.train_config
    setattr(config, field, float(typed) if field == "lr" else int(typed))
    wording = f"is out of range: it must be {range_of(field).allowed()}"
    assert any(p.startswith(range_of(field).label) and wording in p for p in config.problems())
    box.stepBy(1)  # an allowed value clears the note
    assert not form.range_notes[field].isVisibleTo(form)


def test_a_layer_size_out_of_range_says_why(qtbot, window):
    from mlp_studio.app.panels.network.layer_editor import LayerEditor
    from mlp_studio.core.setting_ranges import MAX_UNITS

    editor = window.findChild(LayerEditor)
    editor.set_layer(0, window.state.spec.hidden[0])
    box = editor.units
    before = box.value()
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), "0")
    assert editor.range_note.isVisibleTo(editor)
    assert editor.range_note.text() == f"Out of range: use 1 to {MAX_UNITS:,}."
    box.interpretText()
    assert box.value() == before and f"{MAX_UNITS:,}" in box.toolTip()
