"""The Compare dock: a pair on tiny data trains both runs in the background and shows both
curves, matching hashes, the seeds table; the dialog refuses what cannot be a pair."""

from __future__ import annotations

import numpy as np
import pytest
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.panels.compare.compare_panel import ComparePanel
from mlp_studio.app.panels.compare.pair_dialog import PairDialog
from mlp_studio.core.activations import ActivationSpec
from mlp_studio.core.data import prepare_arrays
from mlp_studio.core.model import LayerSpec, NetworkSpec
from mlp_studio.core.paired import plan_pair
from mlp_studio.core.run_settings import RunSettings
from mlp_studio.core.training import TrainConfig
from PySide6.QtWidgets import QDialogButtonBox


def tiny_state(epochs=3) -> Experiment:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 240)
    x = (rng.normal(0, 3, (3, 4))[y] + rng.normal(0, 1, (240, 4))).astype(np.float32)
    state = Experiment()
    state.replace_spec(NetworkSpec(4, [LayerSpec(12, ActivationSpec("relu"))] * 2, 3))
    state.set_train_config(TrainConfig(epochs=epochs, batch_size=32, stats_every=2))
    state.set_data(prepare_arrays(x[:160], y[:160], x[160:200], y[160:200], x[200:], y[200:],
                                  "standardize", ["a", "b", "c"]))
    return state


@pytest.fixture
def panel(qtbot):
    widget = ComparePanel(tiny_state())
    qtbot.addWidget(widget)
    yield widget
    widget.shutdown()


def test_a_pair_on_tiny_data_shows_both_curves_and_matching_hashes(qtbot, panel):
    assert panel.empty.isVisibleTo(panel) and not panel.body.isVisibleTo(panel)
    assert not panel.shown_box.isVisibleTo(panel)  # no empty choice: nothing to choose yet
    plan = plan_pair(panel.base_settings(), "activation", "sigmoid")
    with qtbot.waitSignal(panel.runs.pairFinished, timeout=90_000) as blocker:
        assert panel.start_pair(plan)
        assert not panel.duplicate_button.isEnabled() and panel.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.runs.running, timeout=10_000)
    result = blocker.args[0]
    for run in ("A", "B"):
        x, y = panel.curves.curves[run + "val"].getData()
        assert list(x) == [1, 2, 3] and np.isfinite(y).all()
    # Two different curves: the change changed something.
    assert not np.allclose(panel.curves.curves["Aval"].getData()[1],
                           panel.curves.curves["Bval"].getData()[1])
    assert result.same_start and result.same_order
    text = panel.hashes.text()
    assert text.count(result.a.fingerprint.weights) == 2 and "(identical)" in text
    assert panel.metrics.table.rowCount() > 3
    assert len(panel.f1.bars.opts["height"]) == 3
    assert len(panel.gradients.lines["B"].getData()[0]) == 3
    assert panel.seeds.table.rowCount() == 1 and not panel.shown_box.isVisibleTo(panel)
    assert "One seed cannot tell" in panel.seeds.verdict.text()
    assert panel.duplicate_button.isEnabled() and panel.repeat_button.isEnabled()

    # Repeat over 2 seeds: one more pair, then mean ± std and a verdict.
    with qtbot.waitSignal(panel.runs.pairFinished, timeout=90_000):
        panel.seeds_box.setValue(2)
        panel.repeat_button.click()
    qtbot.waitUntil(lambda: not panel.runs.running, timeout=10_000)
    assert [r.plan.seed for r in panel.runs.results] == [0, 1]
    assert panel.seeds.table.rowCount() == 3  # two seeds, mean ± std
    assert "over 2 seeds" in panel.seeds.verdict.text()
    # The views show the newest seed's pair; any earlier one on demand.
    first, second = panel.runs.results
    assert panel.shown_box.count() == 2 and second.a.fingerprint.weights in panel.hashes.text()
    assert panel.shown_box.isVisibleTo(panel)
    panel.shown_box.setCurrentIndex(0)
    assert first.a.fingerprint.weights in panel.hashes.text()
    assert list(panel.curves.curves["Bval"].getData()[1]) == [
        e.val_loss for e in first.b.history.epochs]


def test_stop_ends_the_pair_and_keeps_the_app_usable(qtbot):
    panel = ComparePanel(tiny_state(epochs=200))
    qtbot.addWidget(panel)
    plan = plan_pair(panel.base_settings(), "optimizer", "sgd")
    assert panel.start_pair(plan, seeds=2)
    qtbot.waitUntil(lambda: len(panel.runs.live["A"]) >= 1, timeout=60_000)
    panel.stop_button.click()
    qtbot.waitUntil(lambda: not panel.runs.running, timeout=20_000)
    assert panel.runs.results == [] and "Stopped" in panel.status.text()
    assert panel.duplicate_button.isEnabled()
    panel.shutdown()


# In the dialog's words (the setting's label, run A), not the command line's ("argument --lr:
# invalid float value", "lr=fast", "write batch-norm=on"), which `mlp-studio pair` keeps.
@pytest.mark.parametrize("name, value, words", [
    ("activation", "relu", "Activation is already relu in run A"),
    ("lr", "fast", "Learning rate: 'fast' is not a number."),
    ("epochs", "1.5", "Epochs: '1.5' is not a whole number."),
    ("optimizer", "fast", "Optimizer: 'fast' is not one of 'sgd', 'momentum',"),
    ("hidden", "abc", "Hidden layers (units per layer): 'abc' is not a comma-separated list of "
                      "whole numbers."),
    ("batch-norm", "maybe", "Batch normalization is on or off: choose on or off, not 'maybe'."),
    ("hidden", "12,0", "Run B cannot train: Hidden layer 2 has 0 neurons"),
])
def test_the_dialog_says_what_is_wrong_and_will_not_train_it(qtbot, name, value, words):
    state = tiny_state()
    dialog = PairDialog(RunSettings(state.spec, state.train_config))
    qtbot.addWidget(dialog)
    dialog.choose(name, value)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    text = dialog.message.text()
    assert words in text and not ok.isEnabled()
    assert "--" not in text and f"{name}=" not in text and "argument" not in text
    assert dialog.plan() is None
    dialog.choose("activation", "tanh")
    assert ok.isEnabled() and dialog.plan().new == "tanh"
    assert "(identical)" in dialog.message.text()
    dialog.choose("hidden", "12,12,12")
    assert "cannot be identical" in dialog.message.text() and "(different)" in \
        dialog.message.text()


def test_an_empty_value_asks_for_one_without_calling_it_a_mistake(qtbot):
    state = tiny_state()
    dialog = PairDialog(RunSettings(state.spec, state.train_config))
    qtbot.addWidget(dialog)
    dialog.choose("hidden", "")
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert dialog.message.text().startswith("Type the hidden layers")
    assert "write hidden=VALUE" not in dialog.message.text() and not ok.isEnabled()
    assert "c0392b" not in dialog.message.styleSheet() and dialog.plan() is None


def test_a_playground_pair_shows_both_decision_boundaries(qtbot):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    x = (np.where(y[:, None] == 1, 2.0, -2.0) + rng.normal(0, 1, (200, 2))).astype(np.float32)
    state = Experiment()
    state.set_source("playground")
    state.replace_spec(NetworkSpec(2, [LayerSpec(6, ActivationSpec("tanh"))], 2))
    state.set_train_config(TrainConfig(epochs=2, batch_size=16))
    state.set_data(prepare_arrays(x[:120], y[:120], x[120:160], y[120:160], x[160:], y[160:],
                                  "standardize", ["orange", "blue"]))
    state.set_feature_names(["x1", "x2"])
    panel = ComparePanel(state)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.runs.pairFinished, timeout=90_000):
        panel.start_pair(plan_pair(panel.base_settings(), "activation", "relu"))
    qtbot.waitUntil(lambda: not panel.runs.running, timeout=10_000)
    assert panel.boundaries.isVisibleTo(panel)
    a, b = (image.image for image in panel.boundaries.images)
    assert a.shape == b.shape == (80, 80, 3) and not np.array_equal(a, b)
    panel.shutdown()
