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
