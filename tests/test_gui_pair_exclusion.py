"""A pair and the studio's own run never train at once (issue 11): each refuses while the
other trains, saying why, and the Compare panel's buttons wait for the studio's run."""

from __future__ import annotations

from mlp_studio.app.model.paired_runs import BUSY, PAIR_BUSY
from mlp_studio.app.model.training_controller import TrainingController
from mlp_studio.app.panels.compare.compare_panel import ComparePanel
from mlp_studio.core.paired import plan_pair
from test_gui_compare import tiny_state


def test_a_pair_and_a_normal_run_refuse_each_other(qtbot):
    state = tiny_state(epochs=200)
    controller = TrainingController(state, report_interval=0.02, snapshot_interval=0.05)
    panel = ComparePanel(state)
    qtbot.addWidget(panel)
    notices, failures = [], []
    state.notice.connect(notices.append)
    controller.failed.connect(failures.append)
    try:
        # A pair trains: Train is refused with what to do.
        assert panel.start_pair(plan_pair(panel.base_settings(), "lr", "0.01"))
        assert not controller.start()
        assert failures and PAIR_BUSY in failures[-1] and not state.training
        panel.runs.stop()
        qtbot.waitUntil(lambda: not panel.runs.running, timeout=30_000)

        # The studio trains: the Compare panel waits, and a pair asked for is refused.
        assert controller.start()
        qtbot.waitUntil(lambda: state.training, timeout=30_000)
        assert not panel.duplicate_button.isEnabled()
        assert panel.duplicate_button.toolTip() == BUSY
        assert not panel.start_pair(plan_pair(panel.base_settings(), "lr", "0.01"))
        assert notices[-1] == BUSY and not panel.runs.running
        panel.duplicate_with_one_change()  # the menu's way in: the same message, no dialog
        assert panel._dialog is None and notices[-1] == BUSY
        controller.stop()  # however it ends (a child still starting under load is ended)
        qtbot.waitUntil(lambda: not controller.running and not state.training, timeout=60_000)
        assert panel.duplicate_button.isEnabled()
    finally:
        controller.shutdown()
        panel.shutdown()
