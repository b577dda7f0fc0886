"""Stratified means nothing for a regression (a table with a numeric target): the Data panel
showed it ticked and enabled for house_prices.csv. Now it is off and disabled there, with a
tooltip saying why, the setting survives for the next classification, and preparation ignores it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from mlp_studio.core.data import DataConfig, prepare_dataset
from mlp_studio.core.tables import load_table
from window_fixtures import open_window

HOUSES = Path(__file__).resolve().parents[1] / "resources" / "lessons" / "house_prices.csv"


def _load_table(window, qtbot, path: Path, task: str) -> None:
    state, panel = window.state, window.panels["dataset"]
    state.set_source("mnist")  # the Data panel's data
    chooser = panel.chooser
    chooser.kind_combo.setCurrentIndex(chooser.kind_combo.findData("table"))
    chooser.set_table_file(str(path))
    qtbot.waitUntil(lambda: state.data is not None and state.data.task == task
                    and not panel.is_busy(), timeout=60_000)


def test_stratified_is_off_and_disabled_for_a_regression(qtbot, monkeypatch, tmp_path):
    window = open_window(qtbot, monkeypatch)
    state, panel = window.state, window.panels["dataset"]
    check = panel.stratified_check
    assert state.data_config.split.stratified
    _load_table(window, qtbot, HOUSES, "regression")
    assert state.data.task == "regression"
    assert not check.isEnabled() and not check.isChecked()
    assert "regression" in check.toolTip()
    panel.seed_spin.setValue(panel.seed_spin.value() + 1)  # another split edit keeps the setting
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=60_000)
    assert state.data_config.split.stratified

    # Training disables the settings and enables them again afterwards: not this one.
    panel._on_training_changed(True)
    panel._on_training_changed(False)
    assert not check.isEnabled()

    kinds = tmp_path / "kinds.csv"
    kinds.write_text("a,b,kind\n" + "".join(f"{i},{i % 7},{'x' if i % 2 else 'y'}\n"
                                            for i in range(60)))
    _load_table(window, qtbot, kinds, "classification")
    assert state.data.task == "classification"
    assert check.isEnabled() and check.isChecked()
    assert "share of each class" in check.toolTip()
    window.close()


def test_preparing_a_regression_ignores_stratified():
    houses = load_table(HOUSES)
    assert houses.task == "regression"
    splits = []
    for stratified in (True, False):
        config = DataConfig()
        config.split.stratified = stratified
        splits.append(prepare_dataset(houses, config))
    assert torch.equal(splits[0].y_train, splits[1].y_train)
    assert torch.equal(splits[0].y_val, splits[1].y_val)
