"""Editor for one hidden layer: neurons, activation (with its plot), dropout, batch norm."""

from __future__ import annotations

import copy

from mlp_studio.app.panels.network.activation_plot import ActivationPlot
from mlp_studio.app.panels.network.network_diagram import ACTIVATION_NAMES
from mlp_studio.app.widgets.range_note import bind_range
from mlp_studio.core.activations import ACTIVATIONS, MAX_PIECES, ActivationSpec, activation_problems
from mlp_studio.core.model import MAX_UNITS, LayerSpec
from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QBoxLayout,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

ERROR_COLOR = QColor(224, 68, 62)  # readable on light and dark backgrounds
OK_COLOR = QColor(46, 160, 67)
EXAMPLE_FORMULA = "x * sigmoid(1.5*x)"
FORMULA_HELP = (
    "An expression in x: + - * / ^, numbers, pi, e, sin cos tan exp log sqrt abs tanh sigmoid "
    "relu softplus erf, min(a, b), max(a, b), clamp(v, lo, hi), where(x > 0, a, b)."
)


class LayerEditor(QWidget):
    """Edits a copy of one LayerSpec and emits it; the owner turns that into an undoable edit.

    `edited(layer, field)`: field is "units", "activation", "slope", "pieces", "formula",
    "dropout" or "batch_norm". A custom formula is emitted only while it parses; otherwise the
    error is shown under the line edit and the layer keeps its last valid formula.
    """

    edited = Signal(object, str)  # LayerSpec, field

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._layer: LayerSpec | None = None
        self._index = -1
        self._applied_formula = ""  # the formula the spec holds; the box may hold a draft

        self.units = QSpinBox()
        self.units.setKeyboardTracking(False)  # one edit per Enter/arrow step, not per digit
        self.units.setAccelerated(True)
        self.units.setToolTip("Neurons in this layer")
        self.activation = QComboBox()
        for name in ACTIVATIONS:
            self.activation.addItem(ACTIVATION_NAMES.get(name, name), name)
        self.slope = QDoubleSpinBox()
        self.slope.setRange(0.0, 1.0)
        self.slope.setDecimals(3)
        self.slope.setSingleStep(0.01)
        self.slope.setKeyboardTracking(False)
        self.slope.setToolTip("Leaky ReLU: f(x) = slope * x for x < 0")
        self.pieces = QSpinBox()
        self.pieces.setRange(2, MAX_PIECES)
        self.pieces.setKeyboardTracking(False)
        self.pieces.setToolTip("Maxout: each neuron is the max of this many learned lines")
        self.formula = QLineEdit()
        self.formula.setPlaceholderText(EXAMPLE_FORMULA)
        self.formula.setToolTip(FORMULA_HELP)
        self.formula.setClearButtonEnabled(True)
        self.formula_status = QLabel()
        self.formula_status.setWordWrap(True)
        self.dropout = QDoubleSpinBox()
        self.dropout.setRange(0.0, 0.95)
        self.dropout.setDecimals(2)
        self.dropout.setSingleStep(0.05)
        self.dropout.setKeyboardTracking(False)
        self.dropout.setSpecialValueText("off")
        self.dropout.setToolTip("Share of this layer's outputs zeroed at random while training")
        self.batch_norm = QCheckBox("Batch normalisation")
        self.batch_norm.setToolTip("Normalise the layer's pre-activations over each batch")
        self.plot = ActivationPlot()
        self.plot.setMinimumHeight(150)
        self.hint = QLabel("Select a hidden layer in the diagram or the list to edit it.")
        self.hint.setWordWrap(True)
        self.hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.addRow("Neurons", self.units)
        self.form.addRow("Activation", self.activation)
        self.form.addRow("Slope", self.slope)
        self.form.addRow("Pieces", self.pieces)
        self.form.addRow("f(x) =", self.formula)
        self.form.addRow("Dropout", self.dropout)
        self.form.addRow("", self.batch_norm)
        self.fields = QWidget()
        self.fields.setLayout(self.form)
        self.range_note = bind_range(self.units, "units")  # why a typed size was not taken
        self.plot.setMinimumWidth(160)
        self.row = row = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.fields, 3)
        row.addWidget(self.plot, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.hint)
        layout.addLayout(row, 1)
        layout.addWidget(self.formula_status)  # full width: parse errors can be long

        self.units.valueChanged.connect(lambda v: self._emit("units", units=v))
        self.activation.currentIndexChanged.connect(self._on_activation)
        self.slope.valueChanged.connect(lambda v: self._emit_act("slope", slope=v))
        self.pieces.valueChanged.connect(lambda v: self._emit_act("pieces", pieces=v))
        self.formula.textEdited.connect(self._on_formula)
        self.dropout.valueChanged.connect(lambda v: self._emit("dropout", dropout=round(v, 4)))
        self.batch_norm.toggled.connect(lambda on: self._emit("batch_norm", batch_norm=on))
        self.set_layer(-1, None)

    def resizeEvent(self, event) -> None:
        # Narrow: the plot goes under the fields rather than beside them.
        wide = event.size().width() >= 420
        direction = QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        if self.row.direction() != direction:
            self.row.setDirection(direction)
        super().resizeEvent(event)
        self._fit_status(event.size().width())

    def _fit_status(self, width: int) -> None:
        """Reserve the wrapped status's full height: a layout asks a word-wrapped label for
        one line only, and a long parse error then ran under the plot."""
        label = self.formula_status
        label.setMinimumHeight(label.heightForWidth(width) if label.text() else 0)

    @property
    def index(self) -> int:
        return self._index

    def set_layer(self, index: int, layer: LayerSpec | None) -> None:
        """Show hidden layer `index` (None: nothing selected); never emits."""
        same_layer = index == self._index
        self._index = index
        self._layer = copy.deepcopy(layer)
        self.range_note.hide()  # it was about the previous layer's field
        self.hint.setVisible(layer is None)
        self.fields.setVisible(layer is not None)
        self.plot.setVisible(layer is not None)
        if layer is None:
            self.formula_status.hide()
            return
        act = layer.activation
        with QSignalBlocker(self.units):
            self.units.setValue(max(1, min(layer.units, MAX_UNITS)))
        with QSignalBlocker(self.activation):
            self.activation.setCurrentIndex(max(self.activation.findData(act.name), 0))
        with QSignalBlocker(self.slope):
            self.slope.setValue(act.slope)
        with QSignalBlocker(self.pieces):
            self.pieces.setValue(act.pieces)
        with QSignalBlocker(self.dropout):
            self.dropout.setValue(layer.dropout)
        with QSignalBlocker(self.batch_norm):
            self.batch_norm.setChecked(layer.batch_norm)
        # Keep the box (and its cursor) when the spec holds what we last applied from it: the
        # box then shows either that formula or the user's unparsable draft.
        keep = same_layer and act.formula == self._applied_formula
        if not keep and self.formula.text() != act.formula:
            self.formula.setText(act.formula)
        self._applied_formula = act.formula
        self._show_rows(act.name)
        self._refresh_formula_status()
        self._show_plot()

    def _draft_pending(self) -> bool:
        return self.formula.text().strip() != self._applied_formula

    def _show_rows(self, name: str) -> None:
        self.form.setRowVisible(self.slope, name == "leaky_relu")
        self.form.setRowVisible(self.pieces, name == "maxout")
        self.form.setRowVisible(self.formula, name == "custom")
        self.formula_status.setVisible(self._layer is not None and name == "custom")

    def _show_plot(self) -> None:
        """Plot the layer's activation, or the formula being typed (the error is shown below
        the editor, so the plot only says that there is no curve)."""
        if self._layer is None:
            self.plot.set_activation(None)
            return
        act = copy.deepcopy(self._layer.activation)
        if act.name == "custom":
            act.formula = self.formula.text()
            if self.formula_error():
                self.plot.set_activation(None, "No curve: the formula has a problem")
                return
        self.plot.set_activation(act)

    def _formula_problem(self, text: str) -> str:
        problems = activation_problems(ActivationSpec("custom", formula=text))
        return problems[0].removeprefix("has a custom formula problem: ") if problems else ""

    def formula_error(self) -> str:
        """The problem with the formula in the box ("" when it parses)."""
        return self._formula_problem(self.formula.text())

    def _refresh_formula_status(self) -> None:
        error = self.formula_error()
        if error:
            text = error
            if self._draft_pending() and self._applied_formula:
                text += f"\nNot applied: the layer still uses f(x) = {self._applied_formula}"
            colour = ERROR_COLOR
        else:
            text, colour = "✓ valid formula", OK_COLOR
        self.formula_status.setText(text)
        self._fit_status(self.width())
        pal = self.formula_status.palette()
        pal.setColor(QPalette.ColorRole.WindowText, colour)
        self.formula_status.setPalette(pal)

    # ---- edits ----

    def _emit(self, field: str, **changes) -> None:
        if self._layer is None:
            return
        layer = copy.deepcopy(self._layer)
        for key, value in changes.items():
            setattr(layer, key, value)
        self._layer = layer
        self.edited.emit(copy.deepcopy(layer), field)

    def _emit_act(self, field: str, **changes) -> None:
        if self._layer is None:
            return
        act = copy.deepcopy(self._layer.activation)
        for key, value in changes.items():
            setattr(act, key, value)
        self._emit(field, activation=act)
        self._show_plot()

    def _on_activation(self) -> None:
        name = self.activation.currentData()
        changes = {"name": name}
        if name == "custom" and not self._layer.activation.formula.strip():
            # Start from a working example the student can edit, so the layer stays valid.
            changes["formula"] = self.formula.text().strip() or EXAMPLE_FORMULA
            with QSignalBlocker(self.formula):
                self.formula.setText(changes["formula"])
            self._applied_formula = changes["formula"]
        self._show_rows(name)
        self._emit_act("activation", **changes)
        self._refresh_formula_status()

    def _on_formula(self, text: str) -> None:
        if not self.formula_error():
            self._applied_formula = text.strip()
            self._emit_act("formula", formula=text.strip())
        else:
            self._show_plot()
        self._refresh_formula_status()
