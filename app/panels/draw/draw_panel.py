"""Draw a digit and watch the network read it.

The drawing (or an opened picture, or an MNIST test digit) goes through exactly what
`mlp-studio predict` does: core.digits.preprocess_digit (crop to the ink, fit into 20x20, centre
the mass in 28x28), then the normalization training used, then the network
(core.inference.predict_digit). Every step is shown, then the class probabilities, each hidden
layer's activations and the pixels that pushed the guess (input-gradient saliency).

Run alone: python -m mlp_studio.app.preview draw
"""

from __future__ import annotations

import time
import weakref
from pathlib import Path

import numpy as np
import torch
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.panels.draw.digit_views import (
    ActivationMap,
    ImageTile,
    ProbabilityBars,
    gray_levels,
    rgb_to_qimage,
    saliency_rgb,
)
from mlp_studio.app.panels.draw.drawing_canvas import (
    MAX_BRUSH,
    MIN_BRUSH,
    SIZE,
    DrawingCanvas,
    gray_to_qimage,
)
from mlp_studio.app.widgets.background import Background, error_message
from mlp_studio.app.widgets.banner import Banner, Level
from mlp_studio.core.data import Normalization, fit_normalization
from mlp_studio.core.digits import FIELD, DigitSteps, load_image, preprocess_digit
from mlp_studio.core.inference import DigitPrediction, predict_digit
from mlp_studio.core.model import MLP, build_model, describe
from PySide6.QtCore import QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

NO_MODEL = "Train or import a model to see its guess."
# While training runs, the copy the canvas predicts with is refreshed at most this often (and
# re-run on the current drawing), so the guess visibly follows the learning.
REFRESH_SECONDS = 0.5
# Normalizations that do not depend on the training data: usable before any data is loaded.
FIXED_NORMALIZATIONS = ("none", "unit", "symmetric")


class DrawPanel(QWidget):
    imageOpened = Signal(bool)  # a picture opened with open_image_file: placed, or refused

    def __init__(self, state: Experiment, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.steps: DigitSteps = preprocess_digit(np.zeros((SIZE, SIZE), np.float32))
        self.prediction: DigitPrediction | None = None
        self.normalization: Normalization | None = None
        self._gray = np.zeros((SIZE, SIZE), np.float32)
        # Predictions use a private copy of the model, never state.model itself: predict_digit
        # switches its model to eval() (dropout off, batch norm on running statistics), which
        # must not leak into the model other views and exports read. The copy is rebuilt when
        # the network changes and its weights re-read (load_state_dict copies them) on
        # modelChanged and, while training, at most every REFRESH_SECONDS: the controller
        # copies the training process's newest weights into state.model as they arrive.
        self._copy: MLP | None = None
        self._copy_of: weakref.ref | None = None
        self._copied_at = -float("inf")
        self._stale = True

        self._build()
        state.modelChanged.connect(self._on_model_changed)
        state.dataChanged.connect(self._on_data_changed)
        state.trainingChanged.connect(self._on_training_changed)
        state.trainConfigChanged.connect(self._on_settings_changed)  # the loss's output head
        state.dataConfigChanged.connect(self._on_settings_changed)  # the normalization kind
        self._training_timer = QTimer(self)
        self._training_timer.setInterval(int(REFRESH_SECONDS * 1000))
        self._training_timer.timeout.connect(self._predict)
        self._on_data_changed(state.data)
        self._on_training_changed(state.training)
        self._update_buttons()
        self._refresh()

    # ------------------------------------------------------------------ widgets

    def _build(self) -> None:
        self.canvas = DrawingCanvas()
        self.canvas.imageChanged.connect(self._on_image)
        self.canvas.historyChanged.connect(self._update_buttons)

        self.undo_button = QPushButton("Undo stroke")
        self.undo_button.setToolTip("Take back the last stroke (Ctrl+Z on the canvas)")
        self.undo_button.clicked.connect(self.canvas.undo)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Wipe the canvas (Delete on the canvas)")
        self.clear_button.clicked.connect(self.canvas.clear)
        self.brush_slider = QSlider(Qt.Orientation.Horizontal)
        self.brush_slider.setRange(MIN_BRUSH, MAX_BRUSH)
        self.brush_slider.setValue(self.canvas.brush_size())
        self.brush_slider.setToolTip("Brush size in canvas pixels ([ and ] on the canvas)")
        self.brush_slider.valueChanged.connect(self.canvas.set_brush_size)
        self.brush_value = QLabel()
        self.canvas.brushSizeChanged.connect(self._on_brush_size)
        self._on_brush_size(self.canvas.brush_size())
        self.open_button = QPushButton("Open image…")
        self.open_button.setToolTip("Put a PNG or JPEG picture of a digit on the canvas")
        self.open_button.clicked.connect(self.open_image)
        # Pictures are decoded off the GUI thread (a big photo takes a second or more).
        self._image_loader = Background(self)
        self.test_button = QPushButton("Pick a test image")
        self.test_button.clicked.connect(lambda: self.pick_test_image())
        self.source_label = QLabel()
        self.source_label.setWordWrap(True)
        self.message = Banner()

        tools = QGridLayout()
        tools.setHorizontalSpacing(6)
        tools.addWidget(self.undo_button, 0, 0)
        tools.addWidget(self.clear_button, 0, 1)
        brush = QHBoxLayout()
        brush.addWidget(QLabel("Brush"))
        brush.addWidget(self.brush_slider, 1)
        brush.addWidget(self.brush_value)
        tools.addLayout(brush, 0, 2)
        tools.addWidget(self.open_button, 1, 0)
        tools.addWidget(self.test_button, 1, 1)
        tools.setColumnStretch(2, 1)

        left = QVBoxLayout()
        left.setSpacing(6)
        left.addLayout(tools)
        left.addWidget(self.message)
        left.addWidget(self.source_label)
        left.addWidget(self.canvas, 1)

        # The guess: a large digit, how sure, and what the model is.
        self.guess_label = QLabel("?")
        big = QFont(self.font())
        big.setPointSizeF(big.pointSizeF() * 3.6)
        big.setBold(True)
        self.guess_label.setFont(big)
        self.guess_label.setMinimumWidth(self.guess_label.fontMetrics().horizontalAdvance("00"))
        self.guess_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.confidence_label = QLabel()
        medium = QFont(self.font())
        medium.setPointSizeF(medium.pointSizeF() * 1.35)
        self.confidence_label.setFont(medium)
        self.confidence_label.setWordWrap(True)
        self.detail_label = QLabel()
        self.detail_label.setWordWrap(True)
        self.detail_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        guess_text = QVBoxLayout()
        guess_text.setSpacing(2)
        guess_text.addStretch(1)
        guess_text.addWidget(self.confidence_label)
        guess_text.addWidget(self.detail_label)
        guess_text.addStretch(1)
        header = QHBoxLayout()
        header.addWidget(self.guess_label)
        header.addSpacing(8)
        header.addLayout(guess_text, 1)
        self.bars = ProbabilityBars()

        self.input_tile = ImageTile("Your drawing", smooth=True)
        self.cropped_tile = ImageTile("Cropped to ink")
        self.fitted_tile = ImageTile("Fitted 20×20")
        self.centered_tile = ImageTile("Centred 28×28")
        self.normalized_tile = ImageTile("Normalized")
        self.step_tiles = [
            self.input_tile,
            self.cropped_tile,
            self.fitted_tile,
            self.centered_tile,
            self.normalized_tile,
        ]
        steps = QHBoxLayout()
        steps.setSpacing(2)
        for i, tile in enumerate(self.step_tiles):
            if i:
                steps.addWidget(_arrow())
            steps.addWidget(tile, 1)

        self.saliency_tile = ImageTile("Saliency")
        self.saliency_tile.setCursor(Qt.CursorShape.PointingHandCursor)
        self.saliency_tile.clicked.connect(self.toggle_saliency)
        self.show_ink_saliency = True
        self._update_saliency_tip()
        self.layer_maps: list[ActivationMap] = []
        self.network_hint = QLabel()
        self.network_hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.network_hint.setWordWrap(True)
        self._network_row = QHBoxLayout()
        self._network_row.setSpacing(6)
        self._network_row.addWidget(self.network_hint, 1)
        self._network_row.addWidget(self.saliency_tile, 1)

        right = QVBoxLayout()
        right.setSpacing(6)
        right.addLayout(header)
        right.addWidget(self.bars, 1)
        right.addWidget(_heading("From drawing to network input"))
        right.addLayout(steps)
        right.addWidget(_heading("Inside the network"))
        right.addLayout(self._network_row)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(16)
        layout.addLayout(left, 5)
        layout.addLayout(right, 6)

    def _set_layer_maps(self, model: MLP | None) -> None:
        """One activation map per hidden layer of the current network."""
        hidden = [] if model is None else model.spec.hidden
        titles = [f"Hidden {i} · {layer.units}" for i, layer in enumerate(hidden, start=1)]
        if [m.title for m in self.layer_maps] == titles:
            return
        for old in self.layer_maps:
            self._network_row.removeWidget(old)
            old.deleteLater()
        self.layer_maps = [ActivationMap(title) for title in titles]
        for i, layer_map in enumerate(self.layer_maps):
            self._network_row.insertWidget(i, layer_map, 1)

    # ------------------------------------------------------------------ actions

    @Slot()
    def open_image(self) -> None:
        settings = QSettings()
        folder = str(settings.value("canvas/lastImageFolder", str(Path.home())))
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open a picture of a digit",
            folder,
            "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff);;All files (*)",
        )
        if path:
            settings.setValue("canvas/lastImageFolder", str(Path(path).parent))
            self.open_image_file(path)

    def open_image_file(self, path: str | Path) -> None:
        """Start putting a picture on the canvas (either polarity; see core.digits.load_image):
        decoded on a pool thread, placed when done; imageOpened says how it went. A picture
        opened later wins over one still loading."""
        path = Path(path)
        self._image_loader.run(
            lambda _task: load_image(path), lane="image", latest=True,
            on_done=lambda gray: self._on_image_loaded(path, gray),
            on_error=self._on_image_failed,
        )
        self._show_message(f"Opening {path.name}…", error=False)

    def _on_image_loaded(self, path: Path, gray: np.ndarray) -> None:
        self._show_message("")
        self.canvas.place_image(gray, tag=("file", path.name))
        self.imageOpened.emit(True)

    def _on_image_failed(self, err: BaseException) -> None:
        self._show_message(error_message(err))
        self.imageOpened.emit(False)

    def pick_test_image(self, index: int | None = None) -> int | None:
        """Put MNIST test digit `index` (random if None) on the canvas; returns the index."""
        data = self.state.data
        if data is None or data.raw_test is None or len(data.raw_test) == 0:
            self._show_message(self._why_no_test_images(), error=False)
            return None
        if index is None:
            index = int(np.random.default_rng().integers(len(data.raw_test)))
        label = int(data.y_test[index])
        name = data.class_names[label] if label < len(data.class_names) else str(label)
        self._show_message("")
        tag = ("test", index, label, name)
        self.canvas.place_image(data.raw_test[index].astype(np.float32), tag)
        return index

    def _show_message(self, text: str, error: bool = True) -> None:
        self.message.show_message(text, Level.ERROR if error else Level.INFO)

    @Slot(int)
    def _on_brush_size(self, size: int) -> None:
        self.brush_value.setText(f"{size} px")
        if self.brush_slider.value() != size:
            self.brush_slider.blockSignals(True)
            self.brush_slider.setValue(size)
            self.brush_slider.blockSignals(False)

    @Slot()
    def _update_buttons(self) -> None:
        self.undo_button.setEnabled(self.canvas.can_undo())
        self.clear_button.setEnabled(not self.canvas.is_blank())
        tag = self.canvas.picture_tag()
        if tag is None:
            self.source_label.setText("")
        elif tag[0] == "file":
            self.source_label.setText(f"Picture: {tag[1]}")
        else:
            _, index, _, name = tag
            self.source_label.setText(f"MNIST test image #{index} · true label <b>{name}</b>")
        self.source_label.setVisible(tag is not None)

    def true_label(self) -> int | None:
        """Class index of the test image on the canvas, if one is."""
        tag = self.canvas.picture_tag()
        return tag[2] if tag is not None and tag[0] == "test" else None

    # ------------------------------------------------------------------ state

    @Slot(object)
    def _on_model_changed(self, _model) -> None:
        self._stale = True
        self._refresh()

    @Slot(object)
    def _on_settings_changed(self, _config) -> None:
        self._predict()

    @Slot(object)
    def _on_data_changed(self, data) -> None:
        usable = data is not None and data.raw_test is not None and len(data.raw_test) > 0
        self.test_button.setEnabled(usable)
        self.test_button.setToolTip(
            "Put a random digit from the test set on the canvas, with its true label"
            if usable
            else self._why_no_test_images()
        )
        if self.state.source != "mnist":
            self._show_message(self._why_no_test_images(), error=False)
        elif self.message.text() == self._why_no_test_images("playground"):
            self._show_message("")
        self._refresh()

    def _why_no_test_images(self, source: str | None = None) -> str:
        if (source or self.state.source) != "mnist":
            return ("The studio trains on Playground points, which are not images: choose "
                    "'MNIST digits' under Train on in the Data panel to draw digits and pick "
                    "test images.")
        return "Load MNIST in the Data panel first."

    @Slot(bool)
    def _on_training_changed(self, active: bool) -> None:
        self._stale = True
        if active:
            self._training_timer.start()
        else:
            self._training_timer.stop()
            self._predict()

    def _inference_model(self) -> MLP | None:
        """The private eval-mode copy of state.model, up to date (see __init__)."""
        live = self.state.model
        if live is None:
            self._copy = self._copy_of = None
            return None
        if self._copy is None or self._copy_of() is not live or self._copy.spec != live.spec:
            self._copy = build_model(live.spec).eval()
            self._copy.requires_grad_(False)  # saliency needs the input's gradient only
            self._copy_of = weakref.ref(live)
            self._stale = True
        now = time.monotonic()
        if self._stale or now - self._copied_at >= REFRESH_SECONDS:
            with torch.no_grad():
                self._copy.load_state_dict(live.state_dict())
            self._copied_at, self._stale = now, False
        return self._copy

    def _pick_normalization(self, input_size: int) -> Normalization | None:
        """What the weights expect: the imported model's own or the training data's
        (state.model_normalization); else the chosen kind if it does not depend on the data."""
        norm = self.state.model_normalization
        if norm is not None and norm.size == input_size:
            return norm
        kind = self.state.data_config.normalization
        if kind in FIXED_NORMALIZATIONS:
            # These kinds only use the input size: a blank sample stands in for the data.
            return fit_normalization(kind, np.zeros((1, input_size), np.float32))
        return None

    # ------------------------------------------------------------------ the pipeline

    @Slot(object)
    def _on_image(self, gray: np.ndarray) -> None:
        self._gray = gray
        self._refresh()

    def _refresh(self) -> None:
        """Preprocess the current drawing, show the steps, predict."""
        self.steps = preprocess_digit(self._gray)
        self._predict()

    @Slot()
    def _predict(self) -> None:
        model = self._inference_model()
        input_size = FIELD * FIELD if model is None else model.spec.input_size
        # A network for other inputs (a playground's 2-D points) has no normalization for the
        # drawing: _problem says why there is no guess.
        self.normalization = (
            self._pick_normalization(input_size) if input_size == FIELD * FIELD else None
        )
        self._show_steps()
        self._set_layer_maps(model)
        self.prediction = None
        problem = self._problem(model)
        if problem is None and not self.steps.empty:
            self.prediction = predict_digit(
                model, self.normalization, self.state.train_config.loss, self.steps.pixels, True
            )
        self._show_prediction(model, problem)

    def _problem(self, model: MLP | None) -> str | None:
        """Why there is no prediction, or None."""
        if model is None:
            return NO_MODEL
        if model.spec.input_size != FIELD * FIELD:
            return (
                f"This network takes {model.spec.input_size} inputs per sample: the canvas "
                f"needs one with {FIELD * FIELD} inputs (a 28×28 image)."
            )
        if self.normalization is None:
            kind = self.state.data_config.normalization
            return (
                f"The model expects '{kind}' normalization, computed from its training data: "
                "load MNIST in the Data panel to see its guess."
            )
        return None

    def _show_steps(self) -> None:
        steps = self.steps
        self.input_tile.set_image(
            gray_to_qimage(self._gray),
            f"{SIZE}×{SIZE}",
            box=None if steps.empty else steps.bbox,
        )
        if steps.empty:
            for tile in self.step_tiles[1:]:
                tile.set_image(None)
                tile.set_placeholder("empty")
            return
        h, w = steps.cropped.shape
        self.cropped_tile.set_image(gray_to_qimage(steps.cropped), f"{w}×{h} px")
        self.fitted_tile.set_image(
            gray_to_qimage(steps.fitted), "+ mass centre", marker=steps.center_of_mass
        )
        self.centered_tile.set_image(
            gray_to_qimage(steps.centered), "+ at (14, 14)", marker=(FIELD / 2, FIELD / 2)
        )
        norm = self.normalization
        if norm is None:
            self.normalized_tile.set_image(None)
            self.normalized_tile.set_placeholder("needs the data")
            return
        values = norm.apply(steps.pixels[None, :])[0].reshape(FIELD, FIELD)
        low, high = float(values.min()), float(values.max())
        self.normalized_tile.set_image(
            gray_to_qimage(gray_levels(values, low, high)), f"{norm.kind}: {low:.2g} … {high:.2g}"
        )

    def _class_names(self, count: int) -> list[str]:
        data = self.state.data
        if data is not None and data.num_classes == count:
            return list(data.class_names)
        return [str(i) for i in range(count)]

    def _show_prediction(self, model: MLP | None, problem: str | None) -> None:
        count = 10 if model is None else model.spec.output_size
        names = self._class_names(count)
        true = self.true_label()
        pred = self.prediction
        self.bars.set_probabilities(None if pred is None else pred.probabilities, names, true)
        muted = QPalette.ColorRole.PlaceholderText
        if pred is None:
            _set_text(self.guess_label, "?", muted)
            _set_text(self.confidence_label, problem or "Draw a digit to see its guess.")
            _set_text(self.detail_label, "" if model is None else describe(model.spec))
            for layer_map in self.layer_maps:
                layer_map.set_activations(None)
            self.saliency_tile.set_image(None)
            self.saliency_tile.set_placeholder("")
            self.saliency_tile.setVisible(model is not None)
            self._show_network_hint(model)
            return
        top = pred.top
        p = float(pred.probabilities[top])
        _set_text(self.guess_label, names[top], QPalette.ColorRole.WindowText)
        _set_text(self.confidence_label, f"{p:.1%} sure")
        detail = describe(model.spec)
        if true is not None:
            mark = "✓ right" if true == top else f"✗ the true label is {names[true]}"
            detail = f"{mark} · {detail}"
        if self.state.training:
            detail = f"learning now · {detail}"
        _set_text(self.detail_label, detail)
        for layer_map, values, layer in zip(
            self.layer_maps, pred.activations, model.spec.hidden, strict=True
        ):
            active = float((values > 0).mean()) if values.size else 0.0
            layer_map.set_activations(values, f"{layer.activation.name} · {active:.0%} > 0")
        self._show_saliency(names[top])
        self.saliency_tile.setVisible(True)
        self._show_network_hint(model)

    @Slot()
    def toggle_saliency(self) -> None:
        """Switch the saliency tile between 'ink x gradient' and the plain gradient."""
        self.show_ink_saliency = not self.show_ink_saliency
        self._update_saliency_tip()
        if self.prediction is not None:
            self._show_saliency(self.bars.names()[self.prediction.top])

    def saliency_map(self) -> np.ndarray | None:
        """float32 [784]: what the saliency tile shows (before colouring), or None."""
        if self.prediction is None or self.prediction.saliency is None:
            return None
        gradient = self.prediction.saliency
        return gradient * self.steps.pixels if self.show_ink_saliency else gradient.copy()

    def _show_saliency(self, top_name: str) -> None:
        shown = self.saliency_map()
        what = "ink × gradient" if self.show_ink_saliency else "gradient"
        self.saliency_tile.set_image(
            rgb_to_qimage(saliency_rgb(self.steps.centered, shown)), f"{what} of p({top_name})"
        )

    def _update_saliency_tip(self) -> None:
        if self.show_ink_saliency:
            tip = (
                "Which of your pixels pushed the guess: each pixel's value times the gradient "
                "of the top probability with respect to it. Red raised the probability, blue "
                "lowered it. Click to show the plain gradient."
            )
        else:
            tip = (
                "The gradient of the top probability with respect to each input pixel: red "
                "where more ink would raise it, blue where it would lower it. Click to show "
                "only the pixels you drew (ink × gradient)."
            )
        self.saliency_tile.setToolTip(tip)

    def _show_network_hint(self, model: MLP | None) -> None:
        if model is None:
            text = "Each hidden layer lights up here, one cell per neuron."
        elif not model.spec.hidden:
            text = "This network has no hidden layer: the pixels go straight to the outputs."
        else:
            text = ""
        self.network_hint.setText(text)
        self.network_hint.setVisible(bool(text))


def _set_text(label: QLabel, text: str, role: QPalette.ColorRole | None = None) -> None:
    """Change a label only if needed: every change costs a repaint, on every stroke."""
    if label.text() != text:
        label.setText(text)
    if role is not None and label.foregroundRole() != role:
        label.setForegroundRole(role)


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = QFont(label.font())
    font.setBold(True)
    label.setFont(font)
    label.setContentsMargins(0, 6, 0, 0)
    return label


def _arrow() -> QLabel:
    label = QLabel("→")
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
    # Centred on the tiles' images, not on their images plus two caption lines.
    label.setContentsMargins(0, 0, 0, 2 * label.fontMetrics().height())
    return label
