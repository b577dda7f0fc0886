"""Backpropagation, step by step (issue 15): for one validation sample (the experiment's probe,
which the Activations view and the diagram share) and the current weights, the backward pass
one layer at a time, from the output down: heat maps of z, a, dL/da, dL/dz, dL/db and dL/dW,
the chain-rule line that links the layer to the one above, and a gradient check of any weight
against finite differences. A small network (the Playground's) can show every number at once.

The numbers come from core.backprop_steps; this panel only shows them. It recomputes when the
weights, the sample, the data or the loss change, and only while it is visible.
"""

from __future__ import annotations

import numpy as np
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.panels.backprop.layer_maps import LayerMaps
from mlp_studio.app.widgets.on_screen import WhenOnScreen
from mlp_studio.core.backprop_steps import (
    BackwardPass,
    backward_pass,
    gradient_check,
    supported_problem,
)
from mlp_studio.core.errors import StudioError
from mlp_studio.core.model import MLP, build_model
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

# "Every number" is offered up to this many numbers in the whole pass (a 2-8-8-1 playground
# network has ~250); beyond it a text of numbers is no longer something to read.
MAX_NUMBERS = 2000
RELATIVE_ERROR_GOAL = 1e-6


class BackpropPanel(QWidget):
    def __init__(self, state: Experiment, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.passed: BackwardPass | None = None
        self.position = 0  # index into the backward order: 0 is the output layer
        self._dirty = True
        self._initial: MLP | None = None  # the spec's seeded weights while there are none

        self.sample = QSpinBox()
        self.sample.setPrefix("validation sample ")
        self.sample.setKeyboardTracking(False)
        self.sample.setToolTip("The sample whose backward pass is shown (the Activations view "
                               "follows the same one)")
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.previous = QPushButton("◀ Previous layer")
        self.next = QPushButton("Next layer ▶")
        self.step_label = QLabel("")
        self.every_number = QCheckBox("Every number")
        self.every_number.setToolTip(f"All layers' numbers as text (networks with up to "
                                     f"{MAX_NUMBERS} numbers in the pass, e.g. the Playground's)")
        top = QHBoxLayout()
        top.addWidget(self.sample)
        top.addWidget(self.summary, 1)
        nav = QHBoxLayout()
        nav.addWidget(self.previous)
        nav.addWidget(self.next)
        nav.addWidget(self.step_label, 1)
        nav.addWidget(self.every_number)

        self.chain = QLabel("")
        self.chain.setWordWrap(True)
        font = self.chain.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.chain.setFont(font)
        self.chain.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.maps = LayerMaps()
        self.maps.on_pick = self._pick
        self.numbers = QPlainTextEdit()
        self.numbers.setReadOnly(True)
        self.numbers.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.numbers.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.views = QStackedWidget()
        self.views.addWidget(self.maps)
        self.views.addWidget(self.numbers)

        self.check_layer, self.check_row, self.check_col = QSpinBox(), QSpinBox(), QSpinBox()
        self.check_layer.setPrefix("layer ")
        self.check_row.setPrefix("row ")
        self.check_col.setPrefix("column ")
        self.check_button = QPushButton("Check the gradient")
        self.check_button.setToolTip("Compare dL/dW[row, column] from the chain rule with "
                                     "(L(w + ε) − L(w − ε)) / 2ε computed in float64")
        self.check_result = QLabel("Pick a weight (or click a cell of dL/dW) and check it.")
        self.check_result.setWordWrap(True)
        self.check_result.setMinimumHeight(2 * self.check_result.fontMetrics().lineSpacing() + 4)
        check_box = QGroupBox("Gradient check")
        check = QVBoxLayout(check_box)
        choose = QHBoxLayout()
        for widget in (self.check_layer, self.check_row, self.check_col, self.check_button):
            choose.addWidget(widget)
        choose.addStretch(1)
        check.addLayout(choose)
        check.addWidget(self.check_result)

        self.problem = QLabel("")
        self.problem.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.problem)
        layout.addLayout(nav)
        layout.addWidget(self.chain)
        layout.addWidget(self.views, 1)
        layout.addWidget(check_box)

        self.sample.valueChanged.connect(self._on_sample)
        self.previous.clicked.connect(lambda: self.go_to(self.position - 1))
        self.next.clicked.connect(lambda: self.go_to(self.position + 1))
        self.every_number.toggled.connect(self._show_step)
        self.check_layer.valueChanged.connect(self._on_check_layer)
        self.check_button.clicked.connect(self.check_gradient)
        self._refresh_seen = WhenOnScreen(self, self.refresh)  # behind another dock tab: later
        for signal in (state.modelChanged, state.specChanged, state.dataChanged,
                       state.trainConfigChanged):
            signal.connect(self._refresh_seen)
        state.probeChanged.connect(self._on_probe)
        self._on_data_range()
        self.refresh()

    # ---- what to show ----

    def show_sample(self, index: int) -> None:
        """Show the backward pass of validation sample `index` from the output layer (the
        entry point for lessons and other views)."""
        self.state.set_probe_index(index)
        self.position = 0
        self.refresh()

    def refresh(self, *_args) -> None:
        if not self.isVisible():
            self._dirty = True  # computed when shown
            return
        self._dirty = False
        self._on_data_range()
        self.passed, problem = self._compute()
        self.problem.setText(problem or "")
        self.problem.setVisible(bool(problem))
        for widget in (self.views, self.chain, self.previous, self.next, self.check_button):
            widget.setEnabled(self.passed is not None)
        if self.passed is None:
            self.summary.setText("")
            self.step_label.setText("")
            self.chain.setText("")
            return
        passed = self.passed
        self.position = min(self.position, len(passed.layers) - 1)
        outputs = passed.layers[-1].a
        guess = (f"predicted {self._target_text(float(np.argmax(outputs)))}"
                 if self.state.data.task == "classification" else
                 f"predicted {passed.predicted():.4g}")
        self.summary.setText(f"target {self._target_text(passed.target)} · {guess} · loss "
                             f"{passed.loss:.6g} ({passed.loss_label})")
        small = sum(s.dL_dW.size + 5 * s.z.size for s in passed.layers) <= MAX_NUMBERS
        self.every_number.setEnabled(small)
        if not small:
            self.every_number.setChecked(False)
        self.check_layer.setRange(1, len(passed.layers))
        self._on_check_layer()
        self._show_step()

    def _compute(self) -> tuple[BackwardPass | None, str | None]:
        state, data = self.state, self.state.data
        if data is None:
            return None, "Load data first: the backward pass follows one of its samples."
        if len(data.x_val) == 0:
            return None, "The validation split is empty: give it some samples in the Data panel."
        model = self._model()
        problem = supported_problem(model)
        if problem:
            return None, problem
        index = self.sample.value()
        x = data.x_val[index].numpy()
        target = float(data.y_val[index].item())
        try:
            return backward_pass(model, x, target, state.train_config.loss, data.task), None
        except StudioError as err:
            return None, str(err)

    def _model(self) -> MLP:
        """The current weights, or the seeded ones training would start from (built here, not
        set on the experiment: looking must not change what it holds)."""
        model = self.state.model
        if model is None:
            if self._initial is None or self._initial.spec != self.state.spec:
                self._initial = build_model(self.state.spec)
            model = self._initial
        return model

    def _target_text(self, target: float) -> str:
        data = self.state.data
        if data is not None and data.task == "classification":
            names = self.state.class_names()
            return names[int(target)] if int(target) < len(names) else str(int(target))
        return f"{target:.4g}"

    # ---- stepping ----

    def go_to(self, position: int) -> None:
        if self.passed is not None:
            self.position = max(0, min(position, len(self.passed.layers) - 1))
            self._show_step()

    def _show_step(self, *_args) -> None:
        passed = self.passed
        if passed is None:
            return
        order = passed.backward_order
        step = order[self.position]
        self.previous.setEnabled(self.position > 0)
        self.next.setEnabled(self.position < len(order) - 1)
        self.step_label.setText(
            f"Step {self.position + 1} of {len(order)} backwards: {step.label} "
            f"(activation {step.activation})")
        self.chain.setText(step.chain)
        if self.every_number.isChecked():
            self.numbers.setPlainText(_all_numbers(passed))
            self.views.setCurrentWidget(self.numbers)
        else:
            self.maps.show_step(step)
            self.views.setCurrentWidget(self.maps)
        self.check_layer.setValue(step.number)
        # The weight with the largest gradient: one whose check says something (a corner
        # pixel's weights have none).
        row, col = np.unravel_index(int(np.argmax(np.abs(step.dL_dW))), step.dL_dW.shape)
        self.check_row.setValue(int(row))
        self.check_col.setValue(int(col))

    # ---- the gradient check ----

    def _on_check_layer(self, *_args) -> None:
        if self.passed is None:
            return
        rows, cols = self.passed.layers[self.check_layer.value() - 1].dL_dW.shape
        self.check_row.setRange(0, rows - 1)
        self.check_col.setRange(0, cols - 1)

    def _pick(self, row: int, col: int) -> None:
        if self.maps.step is not None:
            self.check_layer.setValue(self.maps.step.number)
            self.check_row.setValue(row)
            self.check_col.setValue(col)
            self.check_gradient()

    def check_gradient(self) -> None:
        passed, data = self.passed, self.state.data
        if passed is None or data is None:
            return
        layer, row, col = (self.check_layer.value(), self.check_row.value(),
                           self.check_col.value())
        try:
            result = gradient_check(self._model(), passed.x, passed.target,
                                    self.state.train_config.loss, layer, row, col, data.task,
                                    passed=passed)
        except StudioError as err:
            self.check_result.setText(str(err))
            return
        verdict = ("they agree to better than one part in a million"
                   if result.relative_error < RELATIVE_ERROR_GOAL else
                   "more than one part in a million apart: a kink of the activation near this "
                   "weight, or a gradient so small that rounding dominates")
        self.check_result.setText(
            f"Layer {layer}, dL/dW[{row}, {col}]: chain rule {result.analytic + 0.0:.10g} · "
            f"finite differences {result.numeric + 0.0:.10g} · relative error "
            f"{result.relative_error:.2e}: {verdict}.")

    # ---- the sample ----

    def _on_data_range(self) -> None:
        data = self.state.data
        count = 0 if data is None else len(data.x_val)
        self.sample.blockSignals(True)
        self.sample.setRange(0, max(count - 1, 0))
        index = self.state.probe_index
        if index is not None:
            self.sample.setValue(index)
        self.sample.blockSignals(False)
        self.sample.setEnabled(count > 0)

    def _on_sample(self, index: int) -> None:
        self.state.set_probe_index(index)  # the other views follow; probeChanged refreshes
        self.refresh()

    def _on_probe(self, index) -> None:
        if index is not None and index != self.sample.value():
            self.refresh()

    def heightForWidth(self, width: int) -> int:
        # The wrapped labels make the dock's scroll area ask this, and the layout's answer is
        # the preferred height (the heat maps' 480 px): it would scroll on a 720 px screen,
        # while the maps can shrink. The least height is the answer.
        return self.minimumSizeHint().height()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._dirty:
            self.refresh()


def _all_numbers(passed: BackwardPass) -> str:
    """Every layer's numbers, output first, as aligned text."""
    lines = [f"loss {passed.loss:.6g}   input a⁰ = {_vector(passed.x)}", ""]
    for step in passed.backward_order:
        lines.append(f"— {step.label} (l = {step.number}, {step.activation}) —")
        for name, values in (("z", step.z), ("a", step.a), ("dL/da", step.dL_da),
                             ("dL/dz", step.dL_dz), ("dL/db", step.dL_db)):
            lines.append(f"{name:>6} = {_vector(values)}")
        lines.append(" dL/dW =")
        lines += ["         " + _vector(row) for row in step.dL_dW]
        lines.append("")
    return "\n".join(lines)


def _vector(values: np.ndarray) -> str:
    return "[" + " ".join(f"{v:+.4e}" for v in np.asarray(values).reshape(-1)) + "]"

