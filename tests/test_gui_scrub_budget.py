"""The checkpoint budget is a user setting (issue 11): set in the scrubber, kept across
restarts (QSettings), with a clear message for 0 or a nonsense saved value."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from mlp_studio.app.main_window import MainWindow
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.panels.training.scrubber import BUDGET_KEY, Scrubber
from mlp_studio.core.checkpoints import DEFAULT_BUDGET_MB
from PySide6.QtCore import QSettings


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def scrubber(qtbot, settings) -> Scrubber:
    widget = Scrubber(Experiment(), settings=settings)
    qtbot.addWidget(widget)
    return widget


def test_the_budget_is_kept_across_restarts(qtbot, settings, tmp_path):
    window = MainWindow(settings, autoload_data=False,
                        recovery_path=Path(tempfile.mkdtemp()) / "r.mlps")  # fmt: skip
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.engineLoaded, timeout=60_000):
        window.load_engine()
    window.panels["training"].scrubber.budget.setValue(48)
    assert window.state.timeline.budget_mb == 48
    window.close()
    settings.sync()

    again = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
                       autoload_data=False, recovery_path=Path(tempfile.mkdtemp()) / "r.mlps")
    qtbot.addWidget(again)
    with qtbot.waitSignal(again.engineLoaded, timeout=60_000):
        again.load_engine()
    assert again.state.timeline.budget_mb == 48
    assert again.panels["training"].scrubber.budget.value() == 48
    again.close()


def test_zero_is_refused_and_not_saved(qtbot, settings):
    widget = scrubber(qtbot, settings)
    widget.budget.setValue(0)
    assert "keeps no checkpoints" in widget.usage.text()
    assert f"stays {DEFAULT_BUDGET_MB:g} MB" in widget.usage.text()
    assert widget.timeline.budget_mb == DEFAULT_BUDGET_MB
    assert settings.value(BUDGET_KEY) is None
    widget.budget.setValue(32)
    assert int(settings.value(BUDGET_KEY)) == 32 and "of 32 MB" in widget.usage.text()


@pytest.mark.parametrize("saved", ["lots", "0", "-5", "nan"])
def test_a_nonsense_saved_budget_says_so_and_keeps_the_default(qtbot, settings, saved):
    settings.setValue(BUDGET_KEY, saved)
    widget = scrubber(qtbot, settings)
    assert widget.timeline.budget_mb == DEFAULT_BUDGET_MB
    text = widget.usage.text()
    assert text.startswith("Saved setting ignored: ") and f"stays {DEFAULT_BUDGET_MB:g} MB" in text
    assert "give" in text  # what to do


def test_an_opened_sessions_own_budget_shows(qtbot, settings):
    widget = scrubber(qtbot, settings)
    tree = widget.timeline.saved_tree()
    tree.checkpoints.set_budget(12)
    widget.timeline.restore(tree)
    assert widget.budget.value() == 12 and settings.value(BUDGET_KEY) is None
