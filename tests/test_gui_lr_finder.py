"""Find learning rate…: runs off the GUI thread, plots the smoothed loss with the suggestion
marked, and "Use this rate" is one undoable settings edit; the weights are untouched."""

from __future__ import annotations

import math

import pytest
import torch
from mlp_studio.app.dialogs.lr_finder_dialog import LrFinderDialog
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.panels.training.hyperparameters import HyperparametersForm
from mlp_studio.core.data import DataConfig, prepare_mnist
from mlp_studio.core.lr_finder import RULE_NAME, RangeTest
from mlp_studio.core.model import LayerSpec, NetworkSpec
from test_gui_main import small_mnist  # noqa: F401


@pytest.fixture
def state(qtbot, small_mnist):  # noqa: F811
    state = Experiment()
    state.replace_spec(NetworkSpec(hidden=[LayerSpec(16)]))
    state.set_data(prepare_mnist(small_mnist, DataConfig()))
    config = state.train_config
    config.batch_size = 32
    state.set_train_config(config)
    return state


def test_the_training_form_finds_a_rate_and_using_it_is_undoable(qtbot, state):
    form = HyperparametersForm(state)
    qtbot.addWidget(form)
    model = state.ensure_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    old_lr = state.train_config.lr
    form.find_lr.click()
    [dialog] = form.findChildren(LrFinderDialog)
    qtbot.wait_until(lambda: dialog.finding is not None, timeout=60_000)
    finding = dialog.finding
    assert finding.suggested_lr is not None, finding.note
    xs, ys = dialog.curve.getData()
    assert len(xs) == len(finding.lrs) == len(finding.losses)
    assert dialog.marker.isVisible()
    assert dialog.marker.value() == pytest.approx(math.log10(finding.suggested_lr))
    label = dialog.marker_label.textItem.toPlainText()
    assert f"{finding.suggested_lr:.3g}" in label and RULE_NAME in label  # the rule
    assert dialog.point.getData()[0][0] == pytest.approx(math.log10(finding.suggested_lr))
    assert dialog.use_button.isEnabled()
    assert dialog.decay.isVisibleTo(dialog) and dialog.decay.isChecked()  # constant so far
    assert state.model is model  # the same weights, exactly as they were
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())

    dialog.use_button.click()
    found = float(f"{finding.suggested_lr:.3g}")
    assert state.train_config.lr == found and state.train_config.schedule == "cosine"
    assert form.lr.value() == pytest.approx(found)
    assert form.schedule.currentData() == "cosine"
    assert "found" in state.undo_stack.undoText() and "cosine" in state.undo_stack.undoText()
    state.undo_stack.undo()  # one step: the rate and the schedule
    assert state.train_config.lr == old_lr and form.lr.value() == pytest.approx(old_lr)
    assert state.train_config.schedule == "constant"
    state.undo_stack.redo()
    assert state.train_config.lr == found


@pytest.mark.parametrize("schedule,decay,expected", [
    ("constant", False, "constant"),  # the user unticked the box
    ("step", True, "step"),  # a decaying schedule of the user's is kept (the box is hidden)
])
def test_the_schedule_changes_only_when_asked_and_only_from_constant(qtbot, state, schedule,
                                                                     decay, expected):
    config = state.train_config
    config.schedule = schedule
    state.set_train_config(config)
    dialog = LrFinderDialog(state, test=RangeTest(start_lr=1e-4, end_lr=10, steps=30))
    qtbot.addWidget(dialog)
    assert dialog.decay.isVisibleTo(dialog) == (schedule == "constant")
    dialog.decay.setChecked(decay)
    qtbot.wait_until(lambda: dialog.finding is not None, timeout=60_000)
    assert dialog.finding.suggested_lr is not None, dialog.finding.note
    dialog.use_button.click()
    assert state.train_config.schedule == expected
    assert state.train_config.lr == float(f"{dialog.finding.suggested_lr:.3g}")
    assert "cosine" not in state.undo_stack.undoText()


def test_without_data_it_says_what_to_do(qtbot):
    dialog = LrFinderDialog(Experiment())
    qtbot.addWidget(dialog)
    assert "Load data first" in dialog.status.text()
    assert not dialog.run_button.isEnabled() and not dialog.use_button.isEnabled()


def test_closing_while_it_runs_stops_it_and_changes_nothing(qtbot, state):
    old = state.train_config
    dialog = LrFinderDialog(state, test=RangeTest(start_lr=1e-6, end_lr=1e-2, steps=1000))
    qtbot.addWidget(dialog)
    assert dialog.running and not dialog.use_button.isEnabled()
    qtbot.wait_until(lambda: dialog.progress.value() > 0, timeout=60_000)  # really running
    dialog.reject()
    assert not dialog._background.busy
    assert dialog.finding is None and state.train_config == old
    assert state.undo_stack.count() == 0 or "found" not in state.undo_stack.undoText()
