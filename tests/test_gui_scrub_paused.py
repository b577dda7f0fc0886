"""Time travel while a run is paused (issue 11): the scrubber shows any checkpoint of the paused
run (and of the runs before it) in every view; Resume returns every view to the live run;
"Branch from here" stops the paused run first (kept in the tree) and branches; while the run
trains, the scrubber is disabled and says why."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from idx_fixtures import write_mnist_folder
from mlp_studio.core.data import DataConfig, prepare_mnist
from mlp_studio.core.mnist import load_folder
from mlp_studio.core.model import LayerSpec, NetworkSpec, activations_of, build_model
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
    if window.controller.running:
        with qtbot.waitSignal(window.controller.finished, timeout=30_000):
            window.controller.stop()
    window.close()


def paused_after_epochs(qtbot, window, epochs: int) -> None:
    """Start a long run and pause it once `epochs` epochs have ended."""
    state = window.state
    config = state.train_config
    config.epochs, config.batch_size, config.restore_best = 10_000, 64, False
    state.set_train_config(config)
    window.train()
    qtbot.waitUntil(lambda: state.epochs_done >= epochs, timeout=60_000)
    with qtbot.waitSignal(window.controller.stateChanged, timeout=10_000,
                          check_params_cb=lambda s: s == "paused"):  # fmt: skip
        window.controller.pause()


def weights(model) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def first_layer(model) -> np.ndarray:
    return model.linears[0].weight.detach().numpy().copy()


def test_scrub_while_paused_shows_the_checkpoint_everywhere_and_resume_returns(qtbot, window):
    state, timeline = window.state, window.state.timeline
    panel, scrubber = window.panels["training"], window.panels["training"].scrubber
    config = state.train_config
    config.epochs, config.batch_size = 10_000, 64
    state.set_train_config(config)
    window.train()
    qtbot.waitUntil(lambda: state.epochs_done >= 1, timeout=60_000)
    # Training: disabled, with a tooltip that says why and what to do.
    assert not scrubber.slider.isEnabled() and "Pause" in scrubber.slider.toolTip()
    assert not timeline.show(timeline.checkpoints()[0])
    with qtbot.waitSignal(window.controller.stateChanged, timeout=10_000,
                          check_params_cb=lambda s: s == "paused"):  # fmt: skip
        window.controller.pause()
    qtbot.waitUntil(lambda: len(timeline.checkpoints()) >= 3, timeout=5_000)
    live_first = first_layer(state.model)
    scrubber.refresh()
    assert scrubber.slider.isEnabled() and "paused" in scrubber.slider.toolTip()

    window.reset_layout()  # not one an earlier test's settings left
    window.docks["dataset"].raise_()  # the diagram's Network tab behind the Data tab
    window.docks["training"].raise_()
    scrubber.slider.setValue(1)  # epoch 1 of the paused run
    qtbot.waitUntil(lambda: timeline.viewed is not None, timeout=5_000)
    chosen = timeline.viewed
    assert (chosen.kind, chosen.epoch) == ("epoch", 1)
    for name, value in chosen.weights.items():
        assert np.array_equal(state.model.state_dict()[name].numpy(), value)
    panel.flush()
    first = first_layer(state.model)
    assert np.array_equal(panel.weights._weights, first[: len(panel.weights._weights)])
    diagram = window.panels["designer"].diagram
    waiting = diagram._weights is None or not np.array_equal(diagram._weights[0], first)
    assert waiting  # behind the Data tab: not yet
    window.docks["designer"].raise_()  # shown: it catches up
    assert np.array_equal(diagram._weights[0], first)
    # Activations: the probe sample under the checkpoint's weights.
    model = build_model(state.model.spec)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in chosen.weights.items()})
    out, _ = activations_of(model, torch.from_numpy(state.probe()))
    assert np.allclose(panel.activations._acts[-1], out[0].numpy(), atol=1e-6)
    assert panel.confusion.current().note == chosen.label()  # its epoch's confusion matrix
    draw = window.panels["canvas"]
    window.docks["canvas"].raise_()
    draw.pick_test_image(0)
    assert "epoch 1 (the past)" in draw.detail_label.text()
    assert "while the run is paused" in scrubber.past.text()
    assert scrubber.branch_button.isEnabled()

    # Resume: every view follows the live run again, and the window says so.
    window.toggle_pause()
    assert timeline.viewed is None and window.controller.run_state == "running"
    assert "Resumed: every view follows Run 1 live again" in window.message_text()
    qtbot.waitUntil(lambda: not np.array_equal(first_layer(state.model), live_first),
                    timeout=10_000)
    assert not scrubber.past.isVisible()


def test_resume_puts_back_the_weights_the_run_paused_with(qtbot, window):
    paused_after_epochs(qtbot, window, 2)
    state, timeline = window.state, window.state.timeline
    live = weights(state.model)
    live_first = first_layer(state.model)
    assert timeline.show(timeline.checkpoints()[0])
    assert not np.array_equal(first_layer(state.model), live_first)
    state.timeline.leave_the_past("Resumed")  # what Resume does before the run goes on
    for name, value in live.items():
        assert np.array_equal(weights(state.model)[name], value)


def test_the_runs_tab_follows_the_current_run_while_it_trains(qtbot, window):
    """It said "0 epochs, not trained" for a run paused after two epochs."""
    paused_after_epochs(qtbot, window, 2)
    runs = window.panels["training"].runs.tree

    def current_row() -> list[str]:
        item = runs.topLevelItem(0)
        return [item.text(column) for column in range(runs.columnCount())]

    window.panels["training"].flush()  # as when the Runs tab is brought to the front
    row = current_row()
    assert int(row[3]) == window.state.epochs_done and row[4].startswith("val ")


def test_branch_while_paused_stops_the_run_and_keeps_it(qtbot, window):
    paused_after_epochs(qtbot, window, 2)
    state, timeline = window.state, window.state.timeline
    scrubber = window.panels["training"].scrubber
    scrubber.refresh()
    scrubber.slider.setValue(1)
    qtbot.waitUntil(lambda: timeline.viewed is not None, timeout=5_000)
    chosen = timeline.viewed
    with qtbot.waitSignal(window.controller.finished, timeout=30_000):
        scrubber.branch_button.click()
        assert timeline.branch_pending and not scrubber.slider.isEnabled()
    tree = timeline.tree
    assert not state.training and tree.current == 2 and tree.runs[2].parent == 1
    start = tree.checkpoints.of_run(2)[0]
    for name, value in chosen.weights.items():
        assert start.weights[name].tobytes() == value.tobytes()  # bit for bit
        assert state.model.state_dict()[name].numpy().tobytes() == value.tobytes()
    kept = tree.checkpoints.of_run(1)
    assert kept[-1].kind == "stop" or kept[-1].batch > 0 or kept[-1].epoch >= 2
    assert tree.runs[1].lineage is not None  # run 1 can be gone back to and trained on
    text = window.message_text()
    assert "Run 1 was stopped" in text and "kept in the Runs tab" in text and "Run 2" in text
    assert timeline.go_to(1) and state.epochs_done >= 2


def test_the_playground_shows_a_checkpoint_of_a_paused_run(qtbot, window):
    state, timeline = window.state, window.state.timeline
    playground = window.panels["playground"]
    state.set_source("playground")
    window.docks["playground"].raise_()
    qtbot.waitUntil(lambda: playground.display_model() is not None, timeout=10_000)
    paused_after_epochs(qtbot, window, 3)
    live_first = first_layer(playground.display_model())  # the run's copy while it trains
    chosen = timeline.checkpoints()[1]
    assert timeline.show(chosen)
    shown = playground.display_model()
    for name, value in chosen.weights.items():
        assert np.array_equal(shown.state_dict()[name].numpy(), value)
    window.toggle_pause()  # Resume: the run's own weights again
    assert timeline.viewed is None
    assert playground.display_model() is playground._shadow
    assert np.array_equal(first_layer(playground.display_model()), live_first)


def test_a_step_while_a_checkpoint_is_shown_returns_to_the_live_run_first(qtbot, window):
    paused_after_epochs(qtbot, window, 2)
    state, timeline = window.state, window.state.timeline
    live_first = first_layer(state.model)
    assert timeline.show(timeline.checkpoints()[0])
    past_first = first_layer(state.model)
    with qtbot.waitSignal(window.controller.progress, timeout=10_000):
        window.step()
    assert timeline.viewed is None and window.controller.run_state == "paused"
    assert "One step: every view follows Run 1 live again" in window.message_text()
    # The step trained on from the weights the run paused with, not the checkpoint's.
    stepped = first_layer(state.model)
    assert np.abs(stepped - live_first).sum() < np.abs(stepped - past_first).sum()
