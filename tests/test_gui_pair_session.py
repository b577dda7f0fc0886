"""A session keeps the Compare dock's paired runs (issue 11): saved, reopened in a new
window state with both runs' curves, hashes and seeds table, and repeatable over more seeds
on the loaded data; a new session empties the dock."""

from __future__ import annotations

import pytest
from idx_fixtures import write_mnist_folder
from mlp_studio.core.data import DataConfig, prepare_mnist
from mlp_studio.core.mnist import load_folder
from mlp_studio.core.model import LayerSpec, NetworkSpec
from mlp_studio.core.paired import plan_pair
from window_fixtures import open_window


@pytest.fixture
def window(qtbot, monkeypatch, tmp_path):
    window = open_window(qtbot, monkeypatch)
    mnist = load_folder(write_mnist_folder(tmp_path / "mnist", 400, 80))
    window.data = prepare_mnist(mnist, DataConfig())
    window.state.set_data(window.data)
    window.state.replace_spec(NetworkSpec(hidden=[LayerSpec(16)]))
    config = window.state.train_config
    config.epochs, config.batch_size = 2, 64
    window.state.set_train_config(config)
    yield window
    window.close()


def test_a_saved_comparison_reopens_in_the_compare_dock(qtbot, window, tmp_path):
    panel = window.panels["compare"]
    plan = plan_pair(panel.base_settings(), "optimizer", "sgd")
    with qtbot.waitSignal(panel.runs.pairFinished, timeout=120_000):
        assert panel.start_pair(plan)
    qtbot.waitUntil(lambda: not panel.runs.running, timeout=20_000)
    result = panel.runs.results[0]
    assert window.file_actions.dirty  # a finished pair is work to save
    path = tmp_path / "pair.mlps"
    window.file_actions.save_to(path, wait=True)

    assert window.file_actions.new_session()
    assert panel.runs.plan is None and panel.empty.isVisibleTo(panel)
    assert window.file_actions.open_file(path, ask=False)
    assert not window.file_actions.dirty

    assert panel.body.isVisibleTo(panel) and not panel.empty.isVisibleTo(panel)
    assert "optimizer=sgd" in panel.title.text()
    assert panel.status.text() == "1 seed from the session."
    assert panel.shown_box.count() == 1
    back = panel.runs.results[0]
    assert back.a.fingerprint == result.a.fingerprint and back.same_start and back.same_order
    assert panel.hashes.text().count(result.a.fingerprint.weights) == 2
    for side, run in (("A", result.a), ("B", result.b)):
        x, y = panel.curves.curves[side + "val"].getData()
        assert list(x) == [1, 2] and list(y) == [e.val_loss for e in run.history.epochs]
    assert panel.seeds.table.rowCount() == 1 and panel.metrics.table.rowCount() > 3
    assert panel.repeat_button.isEnabled()

    # More seeds on the loaded data: the reopened seed stays, seed 1 is added.
    window.state.set_data(window.data)
    with qtbot.waitSignal(panel.runs.pairFinished, timeout=120_000):
        panel.seeds_box.setValue(2)
        panel.repeat_button.click()
    qtbot.waitUntil(lambda: not panel.runs.running, timeout=20_000)
    assert [r.plan.seed for r in panel.runs.results] == [0, 1]
    assert panel.seeds.table.rowCount() == 3 and "over 2 seeds" in panel.seeds.verdict.text()


def test_a_playground_comparison_reopens_with_both_boundaries(qtbot, tmp_path, monkeypatch):
    import numpy as np
    from test_gui_main import make_window

    monkeypatch.delenv("MLP_STUDIO_DATA", raising=False)
    window = make_window(qtbot, tmp_path / "recovery.mlps")
    state, playground = window.state, window.panels["playground"]
    window.docks["playground"].raise_()
    playground.select_dataset("xor")
    playground.activate()
    config = state.train_config
    config.epochs = 2
    state.set_train_config(config)
    panel = window.panels["compare"]
    with qtbot.waitSignal(panel.runs.pairFinished, timeout=120_000):
        assert panel.start_pair(plan_pair(panel.base_settings(), "activation", "tanh"))
    qtbot.waitUntil(lambda: not panel.runs.running, timeout=20_000)
    before = [image.image.copy() for image in panel.boundaries.images]
    path = tmp_path / "xor-pair.mlps"
    assert window.file_actions.save_to(path, wait=True)

    assert window.file_actions.new_session()
    assert not panel.boundaries.isVisibleTo(panel)
    assert window.file_actions.open_file(path, ask=False)
    assert panel.boundaries.isVisibleTo(panel)
    for image, old in zip(panel.boundaries.images, before, strict=True):
        assert np.array_equal(image.image, old)  # the same trained models, drawn again
    window.close()
