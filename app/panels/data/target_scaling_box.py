"""The Data dock's target scaling (regressions only): standardize the targets with the training
split's mean and std, or leave them as they are, and what the fitted scaling is."""

from __future__ import annotations

from mlp_studio.core.data import PreparedData
from mlp_studio.core.target_scaling import TARGET_SCALINGS
from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QComboBox, QLabel, QVBoxLayout, QWidget

LABELS = {
    "standardize": "Standardize the target (training mean and std)",
    "none": "None: the target's own units",
}


class TargetScalingBox(QWidget):
    """A combo of core.target_scaling's kinds and the fitted formula below it."""

    kindChosen = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.combo = QComboBox()
        for key in TARGET_SCALINGS:
            self.combo.addItem(LABELS[key], key)
        self.combo.setToolTip(
            "The network learns targets with mean 0 and standard deviation 1, as its inputs: "
            "a target in the hundreds is far from the outputs a fresh network gives, and its "
            "loss barely moves. RMSE, MAE, R², predictions and exports stay in the target's "
            "units. Mean squared log error always uses the target's own units.")
        self.text = QLabel()
        self.text.setWordWrap(True)
        heading = QLabel("<b>Target</b> (what the network predicts)")
        heading.setForegroundRole(QPalette.ColorRole.WindowText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(heading)
        layout.addWidget(self.combo)
        layout.addWidget(self.text)
        self.combo.currentIndexChanged.connect(
            lambda i: self.kindChosen.emit(self.combo.itemData(i)))

    def show_kind(self, kind: str) -> None:
        """Show `kind` without emitting kindChosen (the settings changed elsewhere)."""
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(max(self.combo.findData(kind), 0))
        self.combo.blockSignals(False)

    def show_data(self, data: PreparedData | None) -> None:
        """The fitted scaling of a regression's data, in words; hidden for anything else."""
        scaling = data.target_scaling if data is not None else None
        self.setVisible(data is not None and data.task == "regression")
        if data is None or scaling is None:
            self.text.setText("")
            return
        name = data.class_names[0] if data.class_names else "y"
        if scaling.identity:
            self.text.setText(f"{name} goes in as it is: the loss is in its units (squared "
                              "for mean squared error).")
            return
        self.text.setText(
            f"{scaling.describe(name)}: the mean and std of the training rows' {name} (never "
            f"validation or test). The loss is computed on these; RMSE, MAE, R² and every "
            f"prediction are in {name}'s units.")
