"""The network designer: the live diagram, the layer list and editor, network-wide settings.

Every change is an undoable state.edit_spec(); the widgets follow state.specChanged without
echo. While a run is active the design is read-only but the diagram keeps updating.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.panels.network.layer_editor import ERROR_COLOR, LayerEditor
from mlp_studio.app.panels.network.network_diagram import ACTIVATION_NAMES, NetworkDiagram
from mlp_studio.app.widgets.on_screen import WhenOnScreen
from mlp_studio.core.errors import SpecError
from mlp_studio.core.losses import LOSSES, canonical_loss, check_loss_for_task, pairing
from mlp_studio.core.model import (
    INITS,
    MLP,
    LayerSpec,
    NetworkSpec,
    activations_of,
    parameter_count,
)
from PySide6.QtCore import QPoint, QSignalBlocker, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QPalette
from PySide6.QtWidgets import (
    QBoxLayout,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

INIT_LABELS = {
    "default": "PyTorch default",
    "zeros": "Zeros (breaks symmetry badly)",
    "normal": "Normal, std 0.01",
    "xavier": "Xavier / Glorot",
    "he": "He / Kaiming",
}
FIELD_WORDS = {
    "units": "neurons",
    "activation": "activation",
    "slope": "Leaky ReLU slope",
    "pieces": "maxout pieces",
    "formula": "formula",
    "dropout": "dropout",
}
WIDE_LAYOUT = 760  # px: below this the list/settings and the layer editor stack vertically
MERGED_FIELDS = ("units", "slope", "pieces", "formula", "dropout")  # spin-box-like steps


class NetworkPanel(QWidget):
    """Build the network by pointing and clicking; watch its weights while it trains.

    Slots for the main window: show_snapshot(Snapshot), set_probe_sample(image, index).
    """

    def __init__(self, state: Experiment, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self._selected = 0 if state.spec.hidden else -1
        self._sized = False
        self.setMinimumWidth(420)  # the layout adapts below WIDE_LAYOUT (see resizeEvent)

        self.diagram = NetworkDiagram()
        self.add_button = QPushButton("Add layer")
        self.add_button.setToolTip("Insert a hidden layer after the selected one")
        self.remove_button = QPushButton("Remove layer")
        self.remove_button.setToolTip("Remove the selected hidden layer")
        self.params_label = QLabel()
        self.params_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.params_label.setToolTip("Trainable weights, biases and batch-norm scales")
        self.problems_label = QLabel()
        self.problems_label.setWordWrap(True)
        self.problems_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        pal = self.problems_label.palette()
        pal.setColor(QPalette.ColorRole.WindowText, ERROR_COLOR)
        self.problems_label.setPalette(pal)

        self.layer_list = QListWidget()
        self.layer_list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.layer_list.setMinimumWidth(150)
        self.layer_list.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.editor = LayerEditor()
        self.editor_box = QGroupBox("Layer")
        QVBoxLayout(self.editor_box).addWidget(self.editor)

        self.init_combo = QComboBox()
        for name in INITS:
            self.init_combo.addItem(INIT_LABELS.get(name, name), name)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setKeyboardTracking(False)
        self.seed_spin.setToolTip("The same seed and design always start from the same weights")
        self.loss_combo = QComboBox()
        for info in LOSSES.values():
            self.loss_combo.addItem(info.label, info.name)
        for combo in (self.init_combo, self.loss_combo):  # long labels must not widen the dock
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(12)
        self.loss_note = QLabel()
        self.loss_note.setWordWrap(False)  # short lines; wrapped labels defeat the splitter
        self.loss_note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        network_box = QGroupBox("Network")
        form = QFormLayout(network_box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Weight init", self.init_combo)
        form.addRow("Seed", self.seed_spin)
        form.addRow("Loss", self.loss_combo)
        form.addRow("", self.loss_note)

        top = QHBoxLayout()
        top.addWidget(self.add_button)
        top.addWidget(self.remove_button)
        top.addStretch(1)
        top.addWidget(self.params_label)
        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addLayout(top)
        upper_layout.addWidget(self.diagram, 1)
        upper_layout.addWidget(self.problems_label)
        self.left_layout = left = QBoxLayout(QBoxLayout.Direction.TopToBottom)
        left.addWidget(self.layer_list, 0, Qt.AlignmentFlag.AlignTop)
        left.addWidget(network_box, 0, Qt.AlignmentFlag.AlignTop)
        left.addStretch(1)
        lower = QWidget()
        self.lower_layout = QBoxLayout(QBoxLayout.Direction.LeftToRight, lower)
        self.lower_layout.setContentsMargins(0, 0, 0, 0)
        self.lower_layout.addLayout(left, 2)
        self.lower_layout.addWidget(self.editor_box, 3)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(upper)
        self.splitter.addWidget(lower)
        self.splitter.setStretchFactor(0, 1)  # the diagram takes what the controls leave
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.splitter)

        self.add_button.clicked.connect(lambda: self.add_layer(self._selected))
        self.remove_button.clicked.connect(lambda: self.remove_layer(self._selected))
        self.diagram.layerClicked.connect(self.select_layer)
        self.diagram.contextMenuRequested.connect(self._context_menu)
        self.layer_list.currentRowChanged.connect(self._on_list_row)
        self.layer_list.customContextMenuRequested.connect(self._list_context_menu)
        self.editor.edited.connect(self._on_layer_edited)
        self.init_combo.currentIndexChanged.connect(self._on_init)
        self.seed_spin.valueChanged.connect(self._on_seed)
        self.loss_combo.currentIndexChanged.connect(self._on_loss)
        state.specChanged.connect(self._on_spec_changed)
        state.trainConfigChanged.connect(self._on_train_config)
        state.dataChanged.connect(self._on_data)
        state.dataConfigChanged.connect(lambda _config: self._refresh_class_names())
        # Off screen (another dock tab in front), the diagram catches up when shown.
        self._follow_model = WhenOnScreen(self, lambda: self._on_model(self.state.model))
        state.modelChanged.connect(self._follow_model)
        state.trainingChanged.connect(self._on_training)
        state.probeChanged.connect(self._on_probe)

        self._on_train_config(state.train_config)
        self._on_spec_changed(state.spec)
        self._on_model(state.model)
        self._on_training(state.training)

    def resizeEvent(self, event) -> None:
        # A narrow dock stacks the controls under each other instead of side by side...
        width = event.size().width()
        across, down = QBoxLayout.Direction.LeftToRight, QBoxLayout.Direction.TopToBottom
        lower = across if width >= WIDE_LAYOUT else down
        # ...and then puts the layer list beside the network settings while there is room.
        left = across if 560 <= width < WIDE_LAYOUT else down
        changed = (self.lower_layout.direction(), self.left_layout.direction()) != (lower, left)
        self.lower_layout.setDirection(lower)
        self.left_layout.setDirection(left)
        super().resizeEvent(event)
        if changed or not self._sized:
            QTimer.singleShot(0, self, self._fit_controls)  # once the layouts have settled

    def _fit_controls(self) -> None:
        """The controls get the height they ask for, the diagram all the rest."""
        total = sum(self.splitter.sizes())
        if total <= 0:
            return
        self._sized = True
        lower = self.splitter.widget(1).sizeHint().height()
        self.splitter.setSizes([max(total - lower, 1), lower])

    # ---- slots for the main window ----

    @Slot(object)
    def show_snapshot(self, snapshot) -> None:
        """Live weights and probe activations (throttled by the diagram to ~20 Hz)."""
        self.diagram.show_snapshot(snapshot)

    def set_probe_sample(self, image: np.ndarray | None, index: int = 0) -> None:
        """The raw 28x28 image of the probe sample whose activations row `index` shows."""
        self.diagram.set_probe_sample(image, index)

    @Slot(object)
    def _on_probe(self, index: int | None) -> None:
        """The experiment's probe sample: the diagram shows its image beside its activations."""
        data = self.state.data
        if index is not None and data is not None and data.raw_val is not None:
            self.set_probe_sample(data.raw_val[index], 0)

    # ---- edits ----

    def add_layer(self, after: int) -> None:
        """Insert a hidden layer after hidden layer `after` (-1: at the end), like its neighbour."""
        spec = self.state.spec
        position = len(spec.hidden) if after < 0 else min(after + 1, len(spec.hidden))
        neighbour = spec.hidden[position - 1] if position > 0 else None
        layer = copy.deepcopy(neighbour) if neighbour is not None else LayerSpec(64)
        spec.hidden.insert(position, layer)
        self._selected = position
        self.state.edit_spec(spec, f"Add layer {position + 1}")

    def insert_layer(self, before: int) -> None:
        spec = self.state.spec
        position = max(0, min(before, len(spec.hidden)))
        neighbour = spec.hidden[position] if position < len(spec.hidden) else None
        layer = copy.deepcopy(neighbour) if neighbour is not None else LayerSpec(64)
        spec.hidden.insert(position, layer)
        self._selected = position
        self.state.edit_spec(spec, f"Add layer {position + 1}")

    def remove_layer(self, index: int) -> None:
        spec = self.state.spec
        if not 0 <= index < len(spec.hidden):
            return
        del spec.hidden[index]
        self._selected = min(index, len(spec.hidden) - 1)
        self.state.edit_spec(spec, f"Remove layer {index + 1}")

    def _on_layer_edited(self, layer: LayerSpec, field: str) -> None:
        index = self.editor.index
        spec = self.state.spec
        if not 0 <= index < len(spec.hidden):
            return
        spec.hidden[index] = layer
        if field == "batch_norm":
            text = f"Turn batch norm {'on' if layer.batch_norm else 'off'} in layer {index + 1}"
        else:
            text = f"Change {FIELD_WORDS[field]} of layer {index + 1}"
        merge = f"{field}:{index}" if field in MERGED_FIELDS else ""
        self.state.edit_spec(spec, text, merge=merge)

    def _on_init(self) -> None:
        spec = self.state.spec
        spec.init = self.init_combo.currentData()
        self.state.edit_spec(spec, "Change weight init")

    def _on_seed(self, value: int) -> None:
        spec = self.state.spec
        spec.seed = value
        self.state.edit_spec(spec, "Change seed", merge="seed")

    def _on_loss(self) -> None:
        config = self.state.train_config
        config.loss = self.loss_combo.currentData()
        self.state.set_train_config(config)

    # ---- selection ----

    @Slot(int)
    def select_layer(self, index: int) -> None:
        """Select hidden layer `index` (-1: none, which shows the network settings only)."""
        spec = self.state.spec
        self._selected = index if 0 <= index < len(spec.hidden) else -1
        with QSignalBlocker(self.layer_list):
            self.layer_list.setCurrentRow(self._selected + 1 if self._selected >= 0 else -1)
        rows = min(self.layer_list.count(), 6)  # scroll beyond six rows
        height = self.layer_list.sizeHintForRow(0) * rows + 2 * self.layer_list.frameWidth() + 2
        self.layer_list.setFixedHeight(max(height, 40))
        self._show_selection(spec)

    def _on_list_row(self, row: int) -> None:
        spec = self.state.spec
        self.select_layer(row - 1 if 1 <= row <= len(spec.hidden) else -1)

    def _show_selection(self, spec: NetworkSpec) -> None:
        index = self._selected
        layer = spec.hidden[index] if index >= 0 else None
        self.editor.set_layer(index, layer)
        self.editor_box.setTitle(f"Hidden layer {index + 1}" if layer is not None else "Layer")
        self.diagram.set_selected(index)
        self._update_enabled()

    def _context_menu(self, layer: int, pos: QPoint) -> None:
        if layer >= 0:
            self.select_layer(layer)
        menu = self.layer_menu(layer)
        menu.exec(pos)
        menu.deleteLater()

    def layer_menu(self, layer: int) -> QMenu:
        """The context menu for hidden layer `layer` (-1: the input/output or empty space)."""
        menu = QMenu(self)
        editable = not self.state.training
        count = len(self.state.spec.hidden)
        actions: list[tuple[str, object]] = []
        if layer >= 0:
            actions += [
                (f"Insert layer before layer {layer + 1}", lambda: self.insert_layer(layer)),
                (f"Insert layer after layer {layer + 1}", lambda: self.add_layer(layer)),
                (f"Remove layer {layer + 1}", lambda: self.remove_layer(layer)),
            ]
        else:
            actions += [
                ("Add hidden layer at the start", lambda: self.insert_layer(0)),
                ("Add hidden layer at the end", lambda: self.add_layer(count - 1)),
            ]
        for text, slot in actions:
            action = QAction(text, menu)
            action.setEnabled(editable)
            action.triggered.connect(slot)
            menu.addAction(action)
        return menu

    def _list_context_menu(self, pos: QPoint) -> None:
        row = self.layer_list.indexAt(pos).row()
        count = len(self.state.spec.hidden)
        layer = row - 1 if 1 <= row <= count else -1
        self._context_menu(layer, self.layer_list.viewport().mapToGlobal(pos))

    # ---- state -> widgets ----

    def _on_spec_changed(self, spec: NetworkSpec) -> None:
        if self._selected >= len(spec.hidden):
            self._selected = len(spec.hidden) - 1
        with QSignalBlocker(self.init_combo):
            self.init_combo.setCurrentIndex(max(self.init_combo.findData(spec.init), 0))
        with QSignalBlocker(self.seed_spin):
            self.seed_spin.setValue(min(spec.seed, self.seed_spin.maximum()))
        sizes_ok = spec.input_size > 0 and spec.output_size > 0
        if sizes_ok and all(layer.units > 0 for layer in spec.hidden):
            self.params_label.setText(f"{parameter_count(spec):,} parameters")
        else:  # a count over impossible layers would only confuse
            self.params_label.setText("parameters: fix the layer sizes")
        problems = spec.problems()
        self.problems_label.setText("\n".join(f"⚠ {p}" for p in problems))
        self.problems_label.setVisible(bool(problems))
        self._fill_list(spec)
        self.diagram.set_spec(spec, self._class_names(spec))
        self._show_selection(spec)

    def _fill_list(self, spec: NetworkSpec) -> None:
        with QSignalBlocker(self.layer_list):
            self.layer_list.clear()
            inputs = (
                "28×28 = 784 pixels" if spec.input_size == 784 else f"{spec.input_size} features"
            )
            self.layer_list.addItem(f"Input · {inputs}")
            for i, layer in enumerate(spec.hidden):
                act = ACTIVATION_NAMES.get(layer.activation.name, layer.activation.name)
                extras = (" · BN" if layer.batch_norm else "") + (
                    f" · dropout {layer.dropout:g}" if layer.dropout else ""
                )
                self.layer_list.addItem(f"Hidden {i + 1} · {layer.units} {act}{extras}")
            self.layer_list.addItem(f"Output · {spec.output_size} classes")
            for row in (0, self.layer_list.count() - 1):
                item: QListWidgetItem = self.layer_list.item(row)
                item.setForeground(self.palette().color(QPalette.ColorRole.PlaceholderText))
            self.layer_list.setCurrentRow(self._selected + 1 if self._selected >= 0 else -1)
        rows = min(self.layer_list.count(), 6)  # scroll beyond six rows
        height = self.layer_list.sizeHintForRow(0) * rows + 2 * self.layer_list.frameWidth() + 2
        self.layer_list.setFixedHeight(max(height, 40))

    def _class_names(self, spec: NetworkSpec) -> list[str]:
        data = self.state.data
        if data is not None and len(data.class_names) == spec.output_size:
            return list(data.class_names)
        digit = self.state.data_config.target_digit
        if digit is not None and spec.output_size == 2:
            return [f"not {digit}", str(digit)]
        return [str(i) for i in range(spec.output_size)]

    def _on_data(self, _data) -> None:
        self._refresh_class_names()
        self._on_train_config(self.state.train_config)  # classification or regression

    def _refresh_class_names(self) -> None:
        spec = self.state.spec
        self.diagram.set_spec(spec, self._class_names(spec))

    def _on_train_config(self, config) -> None:
        try:
            info = LOSSES[canonical_loss(config.loss)]
        except SpecError as err:
            self.loss_note.setText(str(err))
            return
        with QSignalBlocker(self.loss_combo):
            self.loss_combo.setCurrentIndex(self.loss_combo.findData(info.name))
        data = self.state.data
        if data is not None and data.task == "regression":
            # The trainer compares raw outputs with the real-valued targets.
            try:
                check_loss_for_task(info.name, "regression")
                note, tip = "regression: raw outputs\nagainst real-valued targets", ""
            except SpecError as err:
                note, tip = (
                    "regression needs MSE, MAE or MSLE:\nthis loss needs class labels",
                    str(err),
                )
            self.loss_note.setText(note)
            self.loss_note.setToolTip(tip)
            self.diagram.set_output_kind("regression")
            return
        self.loss_note.setToolTip("")
        self.loss_note.setText(
            f"{pairing(info.name)}\nloss = {info.formula}"
        )
        self.diagram.set_output_kind(info.output)

    def _on_model(self, model: MLP | None) -> None:
        if model is None:
            self.diagram.set_weights(None)
            return
        with torch.no_grad():
            weights = [lin.weight.detach().cpu().clone().numpy() for lin in model.linears]
            biases = [lin.bias.detach().cpu().clone().numpy() for lin in model.linears]
        viewed = self.state.timeline.viewed  # the step label: the checkpoint's, or the latest
        step = viewed.step if viewed is not None else len(self.state.history.batch_losses)
        self.diagram.set_weights(weights, biases, self._probe_activations(model), step or None)

    def _probe_activations(self, model: MLP) -> list[np.ndarray] | None:
        """The probe sample's activations under these weights, when the diagram shows a run's
        (a checkpoint shown, or the latest again, must not keep another's); else None."""
        probe = self.state.probe()
        if (not self.diagram.shows_activations or probe is None
                or probe.shape[1] != model.spec.input_size):
            return None
        out, acts = activations_of(model, torch.from_numpy(probe))
        return [a.detach().cpu().numpy().copy() for a in [*acts, out]]

    def _on_training(self, active: bool) -> None:
        self._update_enabled()

    def _update_enabled(self) -> None:
        editable = not self.state.training
        count = len(self.state.spec.hidden)
        self.add_button.setEnabled(editable)
        self.remove_button.setEnabled(editable and 0 <= self._selected < count)
        self.editor.setEnabled(editable)
        for widget in (self.init_combo, self.seed_spin, self.loss_combo):
            widget.setEnabled(editable)
