"""The Preset box of the training form: another tool's defaults or a published result's
settings (core.presets), taken in one undoable step; it names the preset whose settings hold."""

from __future__ import annotations

from mlp_studio.app.model.experiment import Experiment
from mlp_studio.core.presets import PRESETS, matches
from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QComboBox, QWidget

CUSTOM = "Your own settings"


class PresetPicker(QComboBox):
    def __init__(self, state: Experiment, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.addItem(CUSTOM, None)
        # Shown when no preset holds; never chosen (choosing it would change nothing).
        model = self.model()
        assert isinstance(model, QStandardItemModel)
        model.item(0).setFlags(Qt.ItemFlag.NoItemFlags)
        for preset in PRESETS.values():
            self.addItem(preset.title, preset.key)
            tip = preset.summary
            if preset.published_error is not None:
                tip += f".\nPublished: {preset.published_error:g}% test error ({preset.reference})"
            self.setItemData(self.count() - 1, tip + ".\nEdit > Undo restores your settings.",
                             Qt.ItemDataRole.ToolTipRole)
        self.setToolTip("Start from another tool's defaults or a published result's settings: "
                        "the network, training and data settings change together")
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(10)
        self.activated.connect(self._chosen)
        for signal in (state.specChanged, state.trainConfigChanged, state.dataConfigChanged):
            signal.connect(self.show_current)
        self.show_current()

    def _chosen(self, index: int) -> None:
        key = self.itemData(index)
        if key is not None:
            self.state.apply_preset(PRESETS[key])
        self.show_current()

    def show_current(self, *_args) -> None:
        """Name the preset every one of whose settings holds (the most specific one)."""
        state = self.state
        spec, train, data = state.spec, state.train_config, state.data_config
        held = [key for key, preset in PRESETS.items() if matches(preset, spec, train, data)]
        index = self.findData(held[-1]) if held else 0
        with QSignalBlocker(self):
            self.setCurrentIndex(index)
