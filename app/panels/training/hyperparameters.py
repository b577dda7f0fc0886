"""The training settings form, bound to Experiment.train_config.

Every edit writes a whole TrainConfig through state.set_train_config; changes from elsewhere
(the designer's loss pairing, an opened session) arrive through trainConfigChanged and update the
widgets without echo. Problems (TrainConfig.problems()) are listed inline under the form.
"""

from __future__ import annotations

import math
import re

import torch
from mlp_studio.app.dialogs.lr_finder_dialog import LrFinderDialog
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.panels.training.preset_picker import PresetPicker
from mlp_studio.app.widgets.combo_fit import fit_to_items
from mlp_studio.app.widgets.range_note import bind_range
from mlp_studio.core.errors import SpecError
from mlp_studio.core.losses import LOSSES, REGRESSION_LOSSES, canonical_loss, pairing
from mlp_studio.core.setting_ranges import range_of
from mlp_studio.core.target_scaling import scaling_for_loss
from mlp_studio.core.training import OPTIMIZERS, SCHEDULES, TrainConfig
from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtGui import QColor, QPalette, QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

OPTIMIZER_NAMES = {
    "sgd": "SGD",
    "momentum": "SGD with momentum",
    "nesterov": "Nesterov momentum",
    "adagrad": "AdaGrad",
    "adadelta": "AdaDelta",
    "rmsprop": "RMSprop",
    "adam": "Adam",
    "adamw": "AdamW",
}
SCHEDULE_NAMES = {"constant": "Constant", "step": "Step decay", "cosine": "Cosine annealing"}
DEVICE_NAMES = {
    "cpu": "CPU",
    "auto": "Auto (best available)",
    "cuda": "CUDA GPU",
    "mps": "Apple GPU (MPS)",
}
PROBLEM_COLOR = QColor("#d9453a")  # reads on light and dark backgrounds
_PARTIAL_NUMBER = re.compile(r"[+]?(\d*\.?\d*)([eE][-+]?\d*)?")


def available_devices() -> list[str]:
    """What this machine can train on: cpu and auto always, GPUs when torch finds them."""
    devices = ["cpu", "auto"]
    if torch.cuda.is_available():
        devices.append("cuda")
    if torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def ladder_step(value: float, steps: int, smallest: float, allow_zero: bool) -> float:
    """Move `steps` rungs along 1-2-5 per decade (..., 0.001, 0.002, 0.005, 0.01, ...)."""
    for _ in range(abs(steps)):
        if value <= 0:
            value = smallest if steps > 0 else 0.0
            continue
        e = math.floor(math.log10(value))
        rungs = sorted(round(m * 10.0**k, 12) for k in (e - 1, e, e + 1) for m in (1, 2, 5))
        if steps > 0:
            value = next(r for r in rungs if r > value * (1 + 1e-9))
        else:
            lower = [r for r in rungs if r < value * (1 - 1e-9)]
            value = lower[-1]
            if value < smallest * (1 - 1e-9):
                value = 0.0 if allow_zero else smallest
    return value


class LogSpinBox(QDoubleSpinBox):
    """A box for values spanning decades (learning rate, decay): shows "0.001" or "1e-05",
    accepts typed scientific notation, and the arrows/wheel step along 1-2-5 per decade."""

    def __init__(
        self, maximum: float, smallest: float, allow_zero: bool, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.setDecimals(10)  # the text shows %g; this only bounds rounding
        self.setRange(0.0, maximum)
        self.setKeyboardTracking(False)
        self._smallest = smallest
        self._allow_zero = allow_zero

    def textFromValue(self, value: float) -> str:
        return f"{value:g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:
        t = text.strip()
        try:
            value = float(t)
        except ValueError:
            partial = _PARTIAL_NUMBER.fullmatch(t) is not None
            return (QValidator.State.Intermediate if partial else QValidator.State.Invalid,
                    text, pos)  # fmt: skip
        ok = self.minimum() <= value <= self.maximum()
        return (QValidator.State.Acceptable if ok else QValidator.State.Intermediate, text, pos)

    def stepBy(self, steps: int) -> None:
        value = ladder_step(self.value(), steps, self._smallest, self._allow_zero)
        self.setValue(min(value, self.maximum()))

    def stepEnabled(self) -> QDoubleSpinBox.StepEnabledFlag:
        flags = QDoubleSpinBox.StepEnabledFlag.StepNone
        if self.value() < self.maximum():
            flags |= QDoubleSpinBox.StepEnabledFlag.StepUpEnabled
        if self.value() > (0.0 if self._allow_zero else self._smallest):
            flags |= QDoubleSpinBox.StepEnabledFlag.StepDownEnabled
        return flags


class DoublingSpinBox(QSpinBox):
    """Batch sizes: the arrows double and halve (32, 64, 128, ...); any number can be typed."""

    def stepBy(self, steps: int) -> None:
        value = self.value()
        for _ in range(abs(steps)):
            if steps > 0:
                value = 1 << value.bit_length()  # the next power of two above
            else:
                value = max(1, 1 << ((value - 1).bit_length() - 1)) if value > 1 else 1
        self.setValue(value)


class HyperparametersForm(QWidget):
    def __init__(self, state: Experiment, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self._writing = False

        self.loss = QComboBox()
        for key, info in LOSSES.items():
            self.loss.addItem(info.label, key)
        self.loss.setToolTip("What training minimises; it also fixes the output activation")
        self.pairing = QLabel("")
        self.pairing.setWordWrap(True)
        self.pairing.setMinimumHeight(3 * self.pairing.fontMetrics().lineSpacing())  # no squeeze
        self.pairing.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.optimizer = QComboBox()
        for key in OPTIMIZERS:
            self.optimizer.addItem(OPTIMIZER_NAMES.get(key, key), key)
        self.lr = LogSpinBox(range_of("lr").high, range_of("lr").low, allow_zero=False)
        self.lr.setToolTip(
            "Step size. Arrows step 1-2-5 per decade; type e.g. 3e-4.\n"
            "Typical: 0.001 for Adam, 0.01-0.1 for SGD."
        )
        self.find_lr = QPushButton("Find learning rate…")
        self.find_lr.setToolTip("Try rates from 1e-7 to 10 for up to 100 batches on a copy of "
                                "the weights, and suggest one")
        self.find_lr.clicked.connect(self._open_lr_finder)
        self.momentum = QDoubleSpinBox()
        self.momentum.setDecimals(3)
        self.momentum.setSingleStep(0.05)
        self.momentum.setToolTip("Share of the previous step kept (momentum and Nesterov only)")
        self.rho = QDoubleSpinBox()
        self.rho.setDecimals(4)
        self.rho.setSingleStep(0.01)
        self.rho.setToolTip("RMSprop: how much of its average of squared gradients each step "
                            "keeps (PyTorch 0.99, Keras 0.9)")
        self.epsilon = LogSpinBox(range_of("epsilon").high, 1e-10, allow_zero=True)
        self.epsilon.setToolTip("RMSprop and Adam: added so that they never divide by zero "
                                "(PyTorch 1e-8, Keras 1e-7)")
        self.epsilon_in_sqrt = QCheckBox("ε inside √ (Keras)")
        self.epsilon_in_sqrt.setToolTip(
            "RMSprop divides by √(average + ε) as Keras does, not √average + ε as PyTorch "
            "does; with ε = 1e-7 tiny gradients then take smaller steps")
        self.preset = PresetPicker(state)
        self.schedule = QComboBox()
        for key in SCHEDULES:
            self.schedule.addItem(SCHEDULE_NAMES.get(key, key), key)
        self.schedule.setToolTip("How the learning rate changes over the epochs")
        self.step_epochs = QSpinBox()
        self.step_epochs.setSuffix(" epochs")
        self.gamma = QDoubleSpinBox()
        self.gamma.setDecimals(3)
        self.gamma.setSingleStep(0.05)
        self.gamma.setToolTip("Multiply the learning rate by this at every step")
        self.batch_size = DoublingSpinBox()
        self.batch_size.setToolTip("Samples per gradient step; the arrows double and halve")
        self.epochs = QSpinBox()
        self.weight_decay = LogSpinBox(1.0, 1e-6, allow_zero=True)
        self.weight_decay.setToolTip("L2 penalty, applied by the optimizer (typical: 0 to 1e-4)")
        self.l1 = LogSpinBox(1.0, 1e-6, allow_zero=True)
        self.l1.setToolTip("L1 penalty on the weights, added to the loss; pushes weights to 0")
        self.seed = QSpinBox()
        self.seed.setToolTip("Seeds the batch order (the network's weights use its own seed)")
        self.device = QComboBox()
        self.stats_every = QSpinBox()
        self.stats_every.setSuffix(" batches")
        self.stats_every.setToolTip("How often gradient norms and dead units are measured")
        self.restore_best = QCheckBox("Keep the best epoch")
        self.restore_best.setToolTip(
            "At the end, restore the weights of the best epoch on validation (otherwise the "
            "last epoch's weights are kept)"
        )
        self.best_by = QComboBox()
        self.best_by.addItem("Highest validation accuracy", "accuracy")
        self.best_by.addItem("Lowest validation loss", "loss")
        self.best_by.setToolTip(
            "Which epoch is the best: the highest validation accuracy (ties go to the lower "
            "loss; what Keras reports), or the lowest validation loss. Regression always "
            "uses the loss."
        )
        for combo in (self.loss, self.optimizer, self.schedule, self.best_by):
            fit_to_items(combo)  # every choice readable; the side panel widens to fit
        for box in (self.momentum, self.step_epochs, self.gamma, self.batch_size, self.epochs,
                    self.seed, self.stats_every):  # fmt: skip
            box.setKeyboardTracking(False)  # write on Enter / focus out, not every keystroke

        def group(title: str) -> tuple[QGroupBox, QFormLayout]:
            box = QGroupBox(title)
            form = QFormLayout(box)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
            return box, form

        preset_row = QFormLayout()
        preset_row.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        preset_row.addRow("Preset", self.preset)
        opt_box, opt = group("Optimization")
        opt.addRow("Loss", self.loss)
        opt.addRow("", self.pairing)
        opt.addRow("Optimizer", self.optimizer)
        opt.addRow("Learning rate", self.lr)
        opt.addRow("", self.find_lr)
        opt.addRow("Momentum", self.momentum)
        opt.addRow("RMSprop ρ", self.rho)
        opt.addRow("Epsilon", self.epsilon)
        opt.addRow("", self.epsilon_in_sqrt)
        self._optimizer_form = opt
        sched_box, sched = group("Learning-rate schedule")
        sched.addRow("Schedule", self.schedule)
        sched.addRow("Every", self.step_epochs)
        sched.addRow("Factor (γ)", self.gamma)
        self._schedule_form = sched
        run_box, run = group("Run")
        run.addRow("Batch size", self.batch_size)
        run.addRow("Epochs", self.epochs)
        run.addRow("Seed", self.seed)
        run.addRow("Device", self.device)
        reg_box, reg = group("Regularization")
        reg.addRow("Weight decay", self.weight_decay)
        reg.addRow("L1", self.l1)
        more_box, more = group("Monitoring")
        more.addRow("Stats every", self.stats_every)
        more.addRow(self.restore_best)
        more.addRow("Best epoch", self.best_by)
        # A regression has no accuracy: instead of the choice, what is used.
        self.best_by_fixed = QLabel()
        more.addRow("Best epoch", self.best_by_fixed)
        self._monitoring_form = more

        # Under each number field: why a typed value was not taken (out of range).
        self.range_notes = {
            name: bind_range(getattr(self, name), name)
            for name in ("lr", "momentum", "rho", "epsilon", "gamma", "batch_size", "epochs",
                         "weight_decay", "l1", "seed", "step_epochs", "stats_every")
        }
        self.problems = QLabel("")
        self.problems.setWordWrap(True)
        self.problems.setTextFormat(Qt.TextFormat.PlainText)
        self.locked = QLabel("Settings are locked while training runs.")
        self.locked.setWordWrap(True)
        self.locked.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(preset_row)
        self._groups = [opt_box, sched_box, run_box, reg_box, more_box]
        for box in self._groups:
            layout.addWidget(box)
        layout.addWidget(self.problems)
        layout.addWidget(self.locked)
        layout.addStretch(1)
        self._style_problems()

        for combo in (self.loss, self.optimizer, self.schedule, self.device, self.best_by):
            combo.currentIndexChanged.connect(self._edited)
        for box in (
            self.lr,
            self.momentum,
            self.rho,
            self.epsilon,
            self.step_epochs,
            self.gamma,
            self.batch_size,
            self.epochs,
            self.weight_decay,
            self.l1,
            self.seed,
            self.stats_every,
        ):
            box.valueChanged.connect(self._edited)  # fmt: skip
        self.restore_best.toggled.connect(self._edited)
        self.epsilon_in_sqrt.toggled.connect(self._edited)
        self.best_by.currentIndexChanged.connect(self._edited)

        state.trainConfigChanged.connect(self._on_state_config)
        state.dataChanged.connect(self._on_data)
        state.trainingChanged.connect(self._on_training)
        self._apply(state.train_config)
        self._on_training(state.training)

    # ---- widgets -> state ----

    def config(self) -> TrainConfig:
        """The TrainConfig the widgets show (fields without a widget come from the state)."""
        config = self.state.train_config
        config.loss = self.loss.currentData()
        config.optimizer = self.optimizer.currentData()
        config.lr = self.lr.value()
        config.momentum = self.momentum.value()
        config.rho = self.rho.value()
        config.epsilon = self.epsilon.value()
        config.epsilon_in_sqrt = self.epsilon_in_sqrt.isChecked()
        config.schedule = self.schedule.currentData()
        config.step_epochs = self.step_epochs.value()
        config.gamma = self.gamma.value()
        config.batch_size = self.batch_size.value()
        config.epochs = self.epochs.value()
        config.weight_decay = self.weight_decay.value()
        config.l1 = self.l1.value()
        config.seed = self.seed.value()
        config.device = self.device.currentData()
        config.stats_every = self.stats_every.value()
        config.restore_best = self.restore_best.isChecked()
        config.best_by = self.best_by.currentData()
        return config

    def _edited(self, *_args) -> None:
        config = self.config()
        self._update_dependents(config)
        self._writing = True
        try:
            self.state.set_train_config(config)
        finally:
            self._writing = False

    # ---- state -> widgets ----

    def _on_state_config(self, config: TrainConfig) -> None:
        if not self._writing:
            self._apply(config)

    def _apply(self, config: TrainConfig) -> None:
        self._fill_devices(config.device)
        blockers = [QSignalBlocker(w) for w in (
            self.loss, self.optimizer, self.schedule, self.device, self.lr, self.momentum,
            self.step_epochs, self.gamma, self.batch_size, self.epochs, self.weight_decay,
            self.l1, self.seed, self.stats_every, self.restore_best, self.best_by, self.rho,
            self.epsilon, self.epsilon_in_sqrt)]  # fmt: skip
        try:
            for combo, value in (
                (self.loss, _canonical(config.loss)),
                (self.optimizer, config.optimizer),
                (self.schedule, config.schedule),
                (self.device, config.device),
                (self.best_by, config.best_by),
            ):
                _select(combo, value)
            for box, value in ((self.lr, config.lr), (self.momentum, config.momentum),
                               (self.rho, config.rho), (self.epsilon, config.epsilon),
                               (self.gamma, config.gamma), (self.weight_decay, config.weight_decay),
                               (self.l1, config.l1)):  # fmt: skip
                if box.value() != value:  # untouched boxes keep the user's cursor
                    box.setValue(value)
            for box, value in (
                (self.step_epochs, config.step_epochs),
                (self.batch_size, config.batch_size),
                (self.epochs, config.epochs),
                (self.seed, config.seed),
                (self.stats_every, config.stats_every),
            ):
                if isinstance(value, int) and box.value() != value:
                    box.setValue(value)
            self.restore_best.setChecked(config.restore_best)
            self.epsilon_in_sqrt.setChecked(config.epsilon_in_sqrt)
        finally:
            del blockers
        self._update_dependents(config)

    def _fill_devices(self, current: str) -> None:
        devices = available_devices()
        if current not in devices:
            devices.append(current)  # shown, and reported below, rather than silently changed
        if [self.device.itemData(i) for i in range(self.device.count())] == devices:
            return
        with QSignalBlocker(self.device):
            self.device.clear()
            for key in devices:
                self.device.addItem(DEVICE_NAMES.get(key, key), key)
        fit_to_items(self.device)

    def _on_data(self, _data) -> None:
        self._update_dependents(self.state.train_config)  # a regression's loss reads otherwise

    def _update_dependents(self, config: TrainConfig) -> None:
        self.best_by.setEnabled(config.restore_best)
        data = self.state.data
        regression = data is not None and data.task == "regression"
        self._monitoring_form.setRowVisible(self.best_by, not regression)
        self._monitoring_form.setRowVisible(self.best_by_fixed, regression)
        self.best_by_fixed.setText("Lowest validation loss" if config.restore_best
                                   else "Last epoch")
        self.best_by_fixed.setToolTip(
            "A regression has no accuracy: the best epoch is the one with the lowest "
            "validation loss; untick 'Keep the best epoch' to keep the last epoch's weights.")
        self.momentum.setEnabled(config.optimizer in ("momentum", "nesterov"))
        rmsprop = config.optimizer == "rmsprop"
        self._optimizer_form.setRowVisible(self.rho, rmsprop)
        self._optimizer_form.setRowVisible(self.epsilon_in_sqrt, rmsprop)
        self._optimizer_form.setRowVisible(self.epsilon, config.optimizer in
                                           ("rmsprop", "adam", "adamw"))
        step = config.schedule == "step"
        self._schedule_form.setRowVisible(self.step_epochs, step)
        self._schedule_form.setRowVisible(self.gamma, step)
        info = LOSSES.get(_canonical(config.loss))
        if info is not None:
            regression = regression and info.name in REGRESSION_LOSSES
            scaled = regression and not scaling_for_loss(data.target_scaling, info.name, 1).identity
            words = (f"raw outputs, {'standardized ' if scaled else ''}real-valued targets"
                     if regression else pairing(info.name))
            self.pairing.setText(f"{words}\n{info.formula}")
        problems = config.problems()
        if config.device not in available_devices():
            problems.append(f"Device '{config.device}' is not available on this machine: "
                            "choose CPU or Auto.")  # fmt: skip
        self.problems.setText("\n".join(f"• {p}" for p in problems))
        self.problems.setVisible(bool(problems))

    def problem_text(self) -> str:
        return self.problems.text() if self.problems.isVisibleTo(self) else ""

    # ---- training lock and looks ----

    def _open_lr_finder(self) -> None:
        dialog = LrFinderDialog(self.state, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def _on_training(self, active: bool) -> None:
        self.preset.setEnabled(not active)
        for box in self._groups:
            box.setEnabled(not active)
        self.locked.setVisible(active)

    def _style_problems(self) -> None:
        pal = self.problems.palette()
        pal.setColor(QPalette.ColorRole.WindowText, PROBLEM_COLOR)
        self.problems.setPalette(pal)


def _canonical(loss: str) -> str:
    try:
        return canonical_loss(loss)
    except SpecError:
        return loss  # listed as a problem; the box keeps its choice


def _select(combo: QComboBox, value: str) -> None:
    index = combo.findData(value)
    if index >= 0:
        combo.setCurrentIndex(index)
