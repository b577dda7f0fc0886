"""The main window as GUI tests open it: no MNIST autoload, engine loaded, and questions about
unsaved work answered Discard."""

from __future__ import annotations

import tempfile
from pathlib import Path

from mlp_studio.app.main_window import MainWindow
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox


def open_window(qtbot, monkeypatch) -> MainWindow:
    monkeypatch.delenv("MLP_STUDIO_DATA", raising=False)
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *args, **kwargs: QMessageBox.StandardButton.Discard)  # fmt: skip
    window = MainWindow(QSettings(), autoload_data=False,
                        recovery_path=Path(tempfile.mkdtemp()) / "recovery.mlps")
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.engineLoaded, timeout=60_000):
        window.load_engine()
    return window


def open_draw_panel(qtbot, state):
    """A Draw panel of `state`, shown at the size the Draw tests measure it at."""
    from mlp_studio.app.panels.draw.draw_panel import DrawPanel

    panel = DrawPanel(state)
    panel.resize(940, 600)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    return panel
