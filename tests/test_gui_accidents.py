"""What a person does by accident: shortcuts that clash, a stray wheel, odd paths, closing early."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pytest
from mlp_studio.app.main_window import MainWindow
from PySide6.QtCore import QSettings
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
