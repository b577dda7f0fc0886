""""Duplicate with one change": pick the one setting run B changes and its new value.

The plan is checked as the user types (core.paired.plan_pair): an unknown value or the value
the base already has is said under the fields and Train stays disabled; what cannot be the same
(weights of another shape) is said too, with the initial-weights hashes of both runs.
"""

from __future__ import annotations

from mlp_studio.core.errors import SpecError
from mlp_studio.core.paired import PairPlan, initial_models, plan_pair, weights_hash
from mlp_studio.core.run_settings import RunSettings, Setting, settings_of
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
)

MAX_SEEDS = 10


class PairDialog(QDialog):
    def __init__(self, base: RunSettings, seeds: int = 1, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Duplicate with one change")
        self._base = base
        self._plan: PairPlan | None = None
        self._settings: list[Setting] = settings_of("network") + settings_of("training")

        intro = QLabel("Run A is the current network and training settings; run B is the same "
                       "with one setting changed. Both start from the seeded initial weights "
                       "(the same numbers wherever the shapes allow) and see the same batches "
                       "in the same order, one after the other in the background.")
        intro.setWordWrap(True)
        self.setting_box = QComboBox()
        for item in self._settings:
            self.setting_box.addItem(f"{item.label} ({item.name})", item.name)
        self.current = QLabel()
        self.value_box = QComboBox()
        self.value_box.setEditable(True)
        self.value_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.seeds_box = QSpinBox()
        self.seeds_box.setRange(1, MAX_SEEDS)
        self.seeds_box.setValue(seeds)
        self.seeds_box.setToolTip("Repeat the pair over this many seeds to see whether the "
                                  "difference is larger than seed noise (3-5 is enough)")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setMinimumHeight(60)

        form = QFormLayout()
        form.addRow("Setting", self.setting_box)
        form.addRow("Run A has", self.current)
        form.addRow("Run B gets", self.value_box)
        form.addRow("Seeds", self.seeds_box)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Train both")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(480)

        self.setting_box.currentIndexChanged.connect(self._on_setting)
        self.value_box.currentTextChanged.connect(lambda _text: self._check())
        self._on_setting()

    # ---- what the user chose

    def plan(self) -> PairPlan | None:
        return self._plan

    def seeds(self) -> int:
        return self.seeds_box.value()

    def choose(self, name: str, value: str) -> None:
        """Pick a setting and type a value (lessons and tests)."""
        index = self.setting_box.findData(name)
        if index >= 0:
            self.setting_box.setCurrentIndex(index)
        self.value_box.setEditText(value)
        self._check()

    # ---- checking as the user goes

    def _setting(self) -> Setting:
        return self._settings[max(self.setting_box.currentIndex(), 0)]

    def _on_setting(self) -> None:
        item = self._setting()
        current = item.show(self._base)
        self.current.setText(current)
        self.value_box.blockSignals(True)
        self.value_box.clear()
        choices = [c for c in item.choices() if c != current]
        self.value_box.addItems(choices)
        self.value_box.setEditText(choices[0] if choices else "")
        self.value_box.blockSignals(False)
        self._check()

    def _check(self) -> None:
        item = self._setting()
        if not self.value_box.currentText().strip():  # nothing typed yet: not a mistake
            self._plan = None
            self._show(f"Type the {item.label.lower()} run B gets.", error=False)
            self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)
            return
        try:
            plan = plan_pair(self._base, item.name, self.value_box.currentText(),
                             by_label=True)  # the field names as shown here
        except SpecError as err:
            self._plan = None
            self._show(str(err), error=True)
            return
        self._plan = plan
        a, b = initial_models(plan)
        ha, hb = weights_hash(a), weights_hash(b)
        same = "identical" if ha == hb else "different"
        lines = [f"{plan.label_a}  vs  {plan.label_b}",
                 f"Initial weights (SHA-256): A {ha} · B {hb} ({same})", *plan.notes()]
        self._show("\n".join(lines), error=False)

    def _show(self, text: str, error: bool) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #c0392b;" if error else "")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not error)
