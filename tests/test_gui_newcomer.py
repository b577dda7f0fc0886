"""What a newcomer met using the app in a real window: each test names the slip it guards."""

from __future__ import annotations

import pytest
from mlp_studio.app.files import lesson_actions
from test_gui_main import make_window, no_modal_questions  # noqa: F401


@pytest.fixture
def window(qtbot, monkeypatch, tmp_path):
    monkeypatch.delenv("MLP_STUDIO_DATA", raising=False)
    window = make_window(qtbot, tmp_path / "recovery.mlps")
    window.lesson_actions.folder = tmp_path / "kept aside"
    monkeypatch.setattr(lesson_actions, "ask_unsaved", lambda _parent: "keep")
    yield window
    window.close()


def test_a_step_in_the_playground_shows_the_loss_of_the_weights_as_they_are(window, qtbot):
    """Lesson 4 says: press Step once, the Playground shows the loss of the weights as they
    are. The label stayed empty."""
    lessons, playground = window.panels["lessons"], window.panels["playground"]
    assert lessons.select("loss")
    lessons.load_button.click()
    window.step_action.trigger()
    qtbot.waitUntil(lambda: window.state.run_state == "paused" and window.state.epochs_done == 0
                    and "after step" in playground.live.losses.text(), timeout=30_000)
    qtbot.wait(500)  # the frames that follow must not wipe it
    assert "after step 1" in playground.live.losses.text()
