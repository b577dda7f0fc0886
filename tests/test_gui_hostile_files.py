"""Files opened in the window a second time, or damaged: a message or the file, never a
traceback from a panel."""

from __future__ import annotations

import pytest
from mlp_studio.core.cli import main
from window_fixtures import open_window


@pytest.fixture
def window(qtbot, monkeypatch):
    window = open_window(qtbot, monkeypatch)
    yield window
    window.close()


def test_a_table_session_opens_again_over_itself(qtbot, window, tmp_path):
    # A table session keeps the default ten class fractions; once the Data panel showed the
    # table's two classes, opening a table session again raised ValueError from zip(strict).
    table = tmp_path / "t.csv"
    table.write_text("a,b,label\n" + "".join(
        f"{i % 7},{i % 5},{'x' if i % 3 else 'y'}\n" for i in range(60)))
    path = tmp_path / "table.mlps"
    assert main(["train", "--data", str(table), "--hidden", "4", "--epochs", "1", "--quiet",
                 "--save-session", str(path)]) == 0
    for _ in range(2):
        assert window.file_actions.open_file(path, ask=False)
        qtbot.wait(50)
    sliders = window.panels["dataset"].keep_sliders
    assert sliders.fractions() == (1.0,) * len(sliders.sliders)


def test_a_folder_of_3000_classes_gets_no_3000_keep_sliders(qtbot):
    # Qt laid out 9,000 widgets for 100 s (window frozen) after loading such a folder.
    from mlp_studio.app.panels.data.balance_chart import MAX_KEEP_SLIDERS, KeepFractionSliders
    from PySide6.QtWidgets import QLabel

    sliders = KeepFractionSliders()
    qtbot.addWidget(sliders)
    sliders.set_classes([f"c{i}" for i in range(3000)])
    assert sliders.sliders == []
    note = sliders.layout().itemAtPosition(0, 0).widget()
    assert isinstance(note, QLabel) and "up to 100 classes; this data has 3,000" in note.text()
    with qtbot.assertNotEmitted(sliders.changed):
        sliders.set_fractions((0.5,) * 10)  # Long tail / Reset: nothing to set
    sliders.set_classes([f"c{i}" for i in range(MAX_KEEP_SLIDERS)])
    assert len(sliders.sliders) == MAX_KEEP_SLIDERS
