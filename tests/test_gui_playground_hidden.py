"""The Playground dock behind another tab draws nothing while its points train, and shows the
latest boundary, curves and caption once it is brought to the front (as the Training dock)."""

import numpy as np
from window_fixtures import open_window


def test_the_playground_draws_nothing_behind_another_tab_and_catches_up(qtbot, monkeypatch):
    window = open_window(qtbot, monkeypatch)
    state, panel, docks = window.state, window.panels["playground"], window.docks
    docks["playground"].raise_()
    panel.select_dataset("xor")
    panel.activate()
    assert panel.active
    config = state.train_config
    config.epochs = 20
    state.set_train_config(config)
    qtbot.waitUntil(lambda: not panel._timer.isActive(), timeout=5_000)
    panel.refresh()
    before = panel.live.boundary.image().copy()

    docks["training"].raise_()  # the same dock area: the playground's tab goes behind
    qtbot.waitUntil(lambda: docks["playground"].visibleRegion().isEmpty(), timeout=5_000)
    assert panel.isVisible()  # Qt keeps a tab behind another "visible": not the test
    frames = panel.frames_drawn
    snapshots = []
    window.controller.snapshot.connect(snapshots.append)
    with qtbot.waitSignal(window.controller.finished, timeout=120_000):
        window.train_action.trigger()
    # the frames the last snapshots and the run's end asked for have come due
    qtbot.waitUntil(lambda: not panel._timer.isActive(), timeout=5_000)
    assert snapshots  # the run streamed weights ...
    assert panel.frames_drawn == frames  # ... and none was drawn behind the Training tab
    assert np.array_equal(panel.live.boundary.image(), before)

    docks["playground"].raise_()
    qtbot.waitUntil(lambda: panel.frames_drawn > frames, timeout=5_000)
    shown = panel.live.boundary.image().copy()
    assert np.abs(shown.astype(int) - before).mean() > 5  # the trained boundary
    panel.refresh()  # drawn again from the model now: the same picture, the latest state
    assert np.array_equal(panel.live.boundary.image(), shown)
    assert len(panel.live.curves) == 20
    window.close()
