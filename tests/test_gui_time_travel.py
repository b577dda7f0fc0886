"""Time travel in the window (issue 11): scrub back through a run's checkpoints (every view
shows the checkpoint's weights), branch a run from one, see the runs as a tree, keep it all in
a session."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from idx_fixtures import write_mnist_folder
from mlp_studio.core.data import DataConfig, prepare_mnist
from mlp_studio.core.mnist import load_folder
from mlp_studio.core.model import LayerSpec, NetworkSpec
from window_fixtures import open_window


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory):
    return load_folder(write_mnist_folder(tmp_path_factory.mktemp("mnist"), 600, 100))


@pytest.fixture
def window(qtbot, monkeypatch, small_mnist):
    window = open_window(qtbot, monkeypatch)
    window.state.set_data(prepare_mnist(small_mnist, DataConfig()))
    window.state.replace_spec(NetworkSpec(hidden=[LayerSpec(32)]))
    yield window
    window.close()


def train(qtbot, window, **changes) -> None:
    config = window.state.train_config
    for key, value in changes.items():
        setattr(config, key, value)
    window.state.set_train_config(config)
    with qtbot.waitSignal(window.controller.finished, timeout=120_000):
        window.train()


def first_layer(model) -> np.ndarray:
    return model.linears[0].weight.detach().numpy().copy()


def test_scrub_branch_save_reopen(qtbot, window, tmp_path, monkeypatch):
    state, timeline = window.state, window.state.timeline
    panel = window.panels["training"]
    scrubber = panel.scrubber
    train(qtbot, window, epochs=3, batch_size=64, restore_best=False)
    path = timeline.checkpoints()
    assert [(c.kind, c.epoch) for c in path] == [("start", 0), ("epoch", 1), ("epoch", 2),
                                                  ("epoch", 3)]
    assert scrubber.slider.isEnabled() and scrubber.slider.maximum() == 4
    latest = first_layer(state.model)

    # Scrub to epoch 1: the model every view reads holds its weights; the UI says it is past.
    scrubber.slider.setValue(1)
    qtbot.waitUntil(lambda: timeline.viewed is not None)
    chosen = timeline.viewed
    assert chosen.epoch == 1
    for name, value in chosen.weights.items():
        assert np.array_equal(state.model.state_dict()[name].numpy(), value)
    assert not scrubber.past.isHidden() and "Showing the past" in scrubber.past.text()
    assert "Showing epoch 1" in panel.status.text()
    shown = first_layer(state.model)
    assert np.array_equal(panel.weights._weights, shown[: len(panel.weights._weights)])
    window.docks["designer"].raise_()  # a hidden dock's view catches up when shown
    assert np.array_equal(window.panels["designer"].diagram._weights[0], shown)
    assert scrubber.branch_button.isEnabled()

    # A save while the past is shown keeps the latest weights as the session's own.
    window.file_actions.save_to(tmp_path / "s.mlps", wait=True)

    # Train while the past is shown: the dialog's "Branch from here".
    monkeypatch.setattr("mlp_studio.app.dialogs.branch_dialog.train_from_past",
                        lambda parent, tl: tl.branch())
    with qtbot.waitSignal(window.controller.finished, timeout=120_000):
        window.train()
    tree = timeline.tree
    assert tree.current == 2 and tree.runs[2].parent == 1 and tree.runs[2].fork == (1, 0)
    own = tree.checkpoints.of_run(2)
    assert own[0].kind == "start"
    for name, value in chosen.weights.items():
        assert own[0].weights[name].tobytes() == value.tobytes()  # bit for bit
    assert [c.epoch for c in own] == [1, 2, 3, 4]  # it trained 3 epochs from epoch 1
    assert state.epochs_done == 4 and [r.epoch for r in state.history.epochs] == [1, 2, 3, 4]
    panel.runs.redraw()
    top = panel.runs.tree.topLevelItem(0)
    assert top.text(0) == "Run 1" and top.child(0).text(0) == "Run 2 (current)"
    assert top.child(0).text(1) == "Run 1, epoch 1"

    # Going back to run 1: its latest weights and three epochs.
    assert timeline.go_to(1)
    assert np.array_equal(first_layer(state.model), latest) and state.epochs_done == 3

    window.file_actions.save_to(tmp_path / "tree.mlps", wait=True)
    assert window.file_actions.new_session()
    assert len(timeline.tree.runs) == 1
    assert window.file_actions.open_file(tmp_path / "tree.mlps", ask=False)
    assert set(timeline.tree.runs) == {1, 2} and timeline.tree.current == 1
    assert np.array_equal(first_layer(state.model), latest)
    scrubber.slider.setValue(1)
    qtbot.waitUntil(lambda: timeline.viewed is not None)
    for name, value in chosen.weights.items():
        assert state.model.state_dict()[name].numpy().tobytes() == value.tobytes()
    scrubber.latest_button.click()
    assert timeline.viewed is None and np.array_equal(first_layer(state.model), latest)

    # The first save, made while epoch 1 was shown, holds the latest weights.
    assert window.file_actions.open_file(tmp_path / "s.mlps", ask=False)
    assert np.array_equal(first_layer(state.model), latest)


def test_a_budget_of_zero_is_refused_with_a_message(window):
    scrubber = window.panels["training"].scrubber
    before = window.state.timeline.budget_mb
    scrubber.budget.setValue(0)
    assert "keeps no checkpoints" in scrubber.usage.text()
    assert window.state.timeline.budget_mb == before
    scrubber.budget.setValue(64)
    assert window.state.timeline.budget_mb == 64 and "of 64 MB" in scrubber.usage.text()


def test_step_while_the_past_is_shown_trains_from_the_latest_weights(qtbot, window):
    train(qtbot, window, epochs=2, batch_size=64, restore_best=False)
    timeline = window.state.timeline
    latest = first_layer(window.state.model)
    timeline.show(timeline.checkpoints()[0])
    assert not np.array_equal(first_layer(window.state.model), latest)
    timeline.before_run()  # what the controller does before any run starts
    assert timeline.viewed is None and np.array_equal(first_layer(window.state.model), latest)
    assert torch.equal(window.state.model.linears[0].weight, torch.from_numpy(latest))


def test_scrubbing_is_no_unsaved_change(qtbot, window, tmp_path):
    train(qtbot, window, epochs=2, batch_size=64)
    window.file_actions.save_to(tmp_path / "clean.mlps", wait=True)
    assert not window.file_actions.dirty
    timeline = window.state.timeline
    timeline.show(timeline.checkpoints()[1])
    timeline.return_to_latest()
    assert not window.file_actions.dirty
