"""Sessions written by the command line open in the window as the app keeps them (issue 11):
`train --save-session` with its checkpoints (the scrubber lists every epoch, shows each, and
branches from one), `pair --save-session` with its comparison in the Compare panel."""

from __future__ import annotations

import numpy as np
import pytest
from idx_fixtures import write_mnist_folder
from mlp_studio.core.cli import main
from window_fixtures import open_window


@pytest.fixture
def window(qtbot, monkeypatch):
    window = open_window(qtbot, monkeypatch)
    yield window
    window.close()


def test_the_scrubber_lists_the_epochs_of_a_command_line_session(qtbot, window, tmp_path):
    data = write_mnist_folder(tmp_path / "mnist", 300, 60)
    path = tmp_path / "cli.mlps"
    assert main(["train", "--data", str(data), "--hidden", "8", "--epochs", "4",
                 "--no-restore-best", "--quiet", "--save-session", str(path)]) == 0
    assert window.file_actions.open_file(path, ask=False)

    timeline, scrubber = window.state.timeline, window.panels["training"].scrubber
    assert [(c.kind, c.epoch) for c in timeline.checkpoints()] == [
        ("start", 0), ("epoch", 1), ("epoch", 2), ("epoch", 3), ("epoch", 4)]
    scrubber.refresh()
    assert scrubber.slider.isEnabled() and scrubber.slider.maximum() == 5  # + the latest
    assert scrubber.position.text() == "latest (4 epochs)"

    scrubber.slider.setValue(2)
    qtbot.waitUntil(lambda: timeline.viewed is not None)
    chosen = timeline.viewed
    assert chosen.epoch == 2 and "epoch 2" in scrubber.position.text()
    for name, value in chosen.weights.items():
        assert window.state.model.state_dict()[name].numpy().tobytes() == value.tobytes()

    assert timeline.branch()
    tree = timeline.tree
    assert tree.current == 2 and tree.runs[2].fork == (2, 0)
    assert window.state.epochs_done == 2
    first = tree.checkpoints.of_run(2)[0]
    for name, value in chosen.weights.items():
        assert np.array_equal(first.weights[name], value)


def test_a_pair_saved_by_the_command_line_opens_in_the_compare_panel(window, tmp_path):
    data = write_mnist_folder(tmp_path / "mnist", 300, 60)
    path = tmp_path / "pair.mlps"
    assert main(["pair", "--data", str(data), "--hidden", "8", "--epochs", "2", "--seeds", "2",
                 "--change", "optimizer=sgd", "--quiet", "--save-session", str(path)]) == 0
    assert window.file_actions.open_file(path, ask=False)
    panel = window.panels["compare"]
    assert panel.body.isVisibleTo(panel) and "optimizer=sgd" in panel.title.text()
    assert panel.shown_box.count() == 2 and panel.seeds.table.rowCount() == 3
    assert panel.status.text() == "2 seeds from the session."
    assert window.state.epochs_done == 2  # run A is the studio's model
