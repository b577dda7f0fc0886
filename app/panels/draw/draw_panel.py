"""Draw a digit and watch the network read it.

The drawing (or an opened picture, or a test image) goes through exactly what
`mlp-studio predict` does: core.digits.preprocess_digit (crop to the ink, fit into 20x20, centre
the mass in 28x28; the same scaled to the network's own picture size, e.g. 8x8), then the
normalization training used, then the network. A picture opened for a grayscale image folder's
network is prepared as its folder's pictures were (core.image_folder.read_picture: the centred
square resized, never inverted), as `predict` prepares it for such a model, until something is
drawn over it
(core.inference.predict_digit). Every step is shown, then the class probabilities, each hidden
layer's activations and the pixels that pushed the guess (input-gradient saliency).

Run alone: python -m mlp_studio.app.preview draw
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.panels.draw.draw_layout import DrawLayout
from mlp_studio.app.panels.draw.drawable import (
    image_field,
    not_drawable_html,
    why_not_drawable,
)
from mlp_studio.app.panels.draw.drawing_canvas import SIZE
from mlp_studio.app.panels.draw.prediction_views import PredictionViews
from mlp_studio.app.widgets.background import error_message
from mlp_studio.app.widgets.banner import Level
from mlp_studio.app.widgets.on_screen import WhenOnScreen
from mlp_studio.core.data import Normalization, fit_normalization
from mlp_studio.core.digits import (
    FIELD,
    DigitSteps,
    box_for,
    load_image,
    picture_steps,
    preprocess_digit,
)
from mlp_studio.core.image_folder import read_picture
from mlp_studio.core.inference import DigitPrediction, predict_digit
from mlp_studio.core.model import MLP, build_model
from PySide6.QtCore import QSettings, QTimer, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QWidget

NO_MODEL = "Train or import a model to see its guess."
# While training runs, the copy the canvas predicts with is refreshed at most this often (and
# re-run on the current drawing), so the guess visibly follows the learning.
REFRESH_SECONDS = 0.5
# Normalizations that do not depend on the training data: usable before any data is loaded.
FIXED_NORMALIZATIONS = ("none", "unit", "symmetric")


@dataclass(frozen=True, eq=False)
class Placed:
    """A picture put on the canvas (its picture_tag): an opened file or a test image."""

    file: str = ""  # the opened file's name
    index: int | None = None  # a test image's index, true class and its name
    label: int | None = None
    class_name: str = ""
    pixels: np.ndarray | None = None  # already the network's input (an image folder's picture)


class DrawPanel(DrawLayout, PredictionViews, QWidget):
    imageOpened = Signal(bool)  # a picture opened with open_image_file: placed, or refused

    def __init__(self, state: Experiment, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.steps: DigitSteps = preprocess_digit(np.zeros((SIZE, SIZE), np.float32))
        self.prediction: DigitPrediction | None = None
        self.normalization: Normalization | None = None
        self._gray = np.zeros((SIZE, SIZE), np.float32)
        self.field: tuple[int, int] = (FIELD, FIELD)  # the picture size the network takes
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
        self._refresh_seen = WhenOnScreen(self, self._refresh)
        state.modelChanged.connect(self._on_model_changed)
        state.dataChanged.connect(self._on_data_changed)
        state.trainingChanged.connect(self._on_training_changed)
        state.trainConfigChanged.connect(self._on_settings_changed)  # the loss's output head
        state.dataConfigChanged.connect(self._on_settings_changed)  # the normalization kind
        state.specChanged.connect(self._on_model_changed)  # the input size
        self._training_timer = QTimer(self)
        self._training_timer.setInterval(int(REFRESH_SECONDS * 1000))
        self._training_timer.timeout.connect(self._predict)
        self._on_data_changed(state.data)
        self._on_training_changed(state.training)
        self._update_buttons()
        self._refresh()

    # ------------------------------------------------------------------ widgets

    # ------------------------------------------------------------------ actions

    @Slot()
    def open_image(self) -> None:
        settings = QSettings()
        folder = str(settings.value("canvas/lastImageFolder", str(Path.home())))
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open a picture" if self._folder_pictures() else "Open a picture of a digit",
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
        field = self.field if self._folder_pictures() else None

        def load(_task) -> np.ndarray:
            return load_image(path) if field is None else read_picture(path, field)

        self._image_loader.run(
            load, lane="image", latest=True,
            on_done=lambda image: self._on_image_loaded(path, image, field is not None),
            on_error=self._on_image_failed,
        )
        self._show_message(f"Opening {path.name}…", error=False)

    def _on_image_loaded(self, path: Path, image: np.ndarray, prepared: bool) -> None:
        """`prepared`: the picture is already the network's input (read_picture)."""
        self._show_message("")
        pixels = image.astype(np.float32)
        self.canvas.place_image(pixels, Placed(file=path.name, pixels=pixels if prepared else None))
        self.imageOpened.emit(True)

    def _folder_pictures(self) -> bool:
        """The network takes the grayscale pictures of an image folder (not MNIST-style
        digits): a picture is prepared as the folder's were."""
        source = self.state.data_source
        return (self.state.source == "mnist" and source is not None and source.kind == "images"
                and not source.color)

    def _prepared_picture(self) -> np.ndarray | None:
        """The opened picture, prepared for the network, while nothing is drawn over it."""
        tag = self.canvas.picture_tag()
        if (not isinstance(tag, Placed) or tag.pixels is None or tag.pixels.shape != self.field
                or not self.canvas.picture_untouched()):
            return None
        return tag.pixels

    def _on_image_failed(self, err: BaseException) -> None:
        self._show_message(error_message(err))
        self.imageOpened.emit(False)

    def pick_test_image(self, index: int | None = None) -> int | None:
        """Put test image `index` (random if None) on the canvas; returns the index."""
        data = self.state.data
        if data is None or data.raw_test is None or len(data.raw_test) == 0:
            self._show_message(self._why_no_test_images(), error=False)
            return None
        if index is None:
            index = int(np.random.default_rng().integers(len(data.raw_test)))
        label = int(data.y_test[index])
        name = data.class_names[label] if label < len(data.class_names) else str(label)
        self._show_message("")
        pixels = data.raw_test[index].astype(np.float32)
        prepared = self._folder_pictures() and pixels.shape == self.field  # as the model saw it
        tag = Placed(index=index, label=label, class_name=name,
                     pixels=pixels if prepared else None)
        self.canvas.place_image(pixels, tag)
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
        as_input = self._prepared_picture() is not None  # not prepared as a digit
        if not isinstance(tag, Placed):
            self.source_label.setText("")
        elif tag.index is None:
            how = " · prepared as the folder's pictures (centred square, resized)"
            self.source_label.setText(f"Picture: {tag.file}{how if as_input else ''}")
        else:
            how = " · as the network sees it"
            self.source_label.setText(f"Test image #{tag.index} · true label "
                                      f"<b>{tag.class_name}</b>{how if as_input else ''}")
        self.source_label.setVisible(tag is not None)

    def true_label(self) -> int | None:
        """Class index of the test image on the canvas, if one is."""
        tag = self.canvas.picture_tag()
        return tag.label if isinstance(tag, Placed) else None

    # ------------------------------------------------------------------ state

    @Slot(object)
    def _on_model_changed(self, _model) -> None:
        self._stale = True
        self._refresh_seen()  # behind another dock tab: when it is shown

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
        self._refresh()

    def _why_no_test_images(self) -> str:
        if self.state.source != "mnist":
            return ("The studio trains on Playground points, which are not images: choose "
                    "the Data panel's data under Train on to pick test images.")
        return "Load images in the Data panel first."

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
        """Fit the panel to the network's input, preprocess the drawing, show the steps,
        predict."""
        shape = self.state.input_shape()
        field = image_field(shape)
        if field is None:  # a table, points or colour pictures: say why, no dead canvas
            self.not_drawable.setText(not_drawable_html(why_not_drawable(
                shape, self.state.source, self.state.feature_names)))
            self.pages.setCurrentWidget(self.not_drawable_page)
        else:
            self.pages.setCurrentWidget(self.draw_page)
            if field != self.field:
                self.field = field
                self.fitted_tile.title = "Fitted {1}×{0}".format(*box_for(field))
        prepared = self._prepared_picture()
        self.steps = (preprocess_digit(self._gray, self.field) if prepared is None
                      else picture_steps(prepared))
        self._predict()

    @Slot()
    def _predict(self) -> None:
        model = self._inference_model()
        input_size = self.field[0] * self.field[1] if model is None else model.spec.input_size
        # A network for other inputs (a table, 2-D points) has no normalization for the
        # drawing: _problem says why there is no guess.
        fits = input_size == self.field[0] * self.field[1]
        self.normalization = self._pick_normalization(input_size) if fits else None
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
        rows, cols = self.field
        if model.spec.input_size != rows * cols:
            return (
                f"This network takes {model.spec.input_size} inputs per sample: the canvas "
                f"needs one with {rows * cols} inputs (a {cols}×{rows} image)."
            )
        if self.normalization is None:
            kind = self.state.data_config.normalization
            return (
                f"The model expects '{kind}' normalization, computed from its training data: "
                "load its data in the Data panel to see its guess."
            )
        return None

    @Slot()
    def toggle_saliency(self) -> None:
        """Switch the saliency tile between 'ink x gradient' and the plain gradient."""
        self.show_ink_saliency = not self.show_ink_saliency
        self._update_saliency_tip()
        if self.prediction is not None:
            self._show_saliency(self.bars.names()[self.prediction.top])


