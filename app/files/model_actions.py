"""File > Import model and Export model: a model file in, the current model out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from mlp_studio.core.bundle import bundle_of
from mlp_studio.core.data import Normalization
from mlp_studio.core.errors import StudioError
from mlp_studio.core.export import ModelBundle, verification_pixels
from mlp_studio.core.model import build_model, describe
from mlp_studio.core.model_import import InputRangeNeeded, import_model
from mlp_studio.core.session import SUFFIX
from PySide6.QtCore import Slot
from PySide6.QtWidgets import QFileDialog, QMessageBox

MODEL_FOLDER_KEY = "files/lastModelFolder"  # shared with the export dialog
IMPORT_FILTER = (
    f"Models (*.safetensors *{SUFFIX} *.keras *.h5 *.onnx);;MLP Studio (*.safetensors *{SUFFIX});;"
    "Keras (*.keras *.h5);;ONNX (*.onnx)"
)
# The question asked when a Keras or ONNX file does not say what its inputs are
INPUT_RANGE_CHOICES = (("raw", "Raw pixels 0–255"), ("unit", "Pixels scaled to 0–1"))


def copy_weights(model) -> dict:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def task_from_class_names(names: list[str]) -> int | None | bool:
    """The target digit a model's class names imply (None: ten digits); False if unknown."""
    if names == [str(d) for d in range(10)]:
        return None
    if len(names) == 2 and names[1].isdigit() and names[0] == f"not {names[1]}":
        return int(names[1])
    return False


class ModelActions:
    """FileActions' model import and export."""

    def model_normalization(self) -> Normalization | None:
        """What the current weights expect: their own (imported, opened) until they train on
        the loaded data, then the data's."""
        return self.state.model_normalization

    def class_names(self, output_size: int) -> list[str]:
        return self.state.class_names(output_size)

    def can_export(self) -> bool:
        model, normalization = self.state.model, self.model_normalization()
        return (
            model is not None
            and normalization is not None
            and normalization.size == model.spec.input_size
        )

    def current_bundle(self) -> ModelBundle | None:
        """The current model with what it needs to run on raw inputs; None without one."""
        model, data = self.state.model, self.state.data
        if model is None:
            return None
        fits = data is not None and data.input_shape == (model.spec.input_size,)
        bundle = bundle_of(model, self.model_normalization(), self.state.train_config.loss,
                           self.class_names(model.spec.output_size),
                           data.task if fits else None, self.state.feature_names)
        if bundle is not None and fits and self.state.model_normalization is data.normalization:
            bundle.table = self.state.table_schema  # a table's rows: encoded as in training
        return bundle

    @Slot()
    def import_model(self) -> bool:
        if self.state.training:
            return False
        folder = self.settings.value(MODEL_FOLDER_KEY, str(Path.home()), str)
        path, _ = QFileDialog.getOpenFileName(self.window, "Import model", folder, IMPORT_FILTER)
        return bool(path) and self.import_file(path)

    def import_file(self, path: str | Path, input_range: str | None = None) -> bool:
        """Load a model: a .safetensors export, a .mlps session's current weights, a Keras
        (.keras, .h5) or ONNX file. Asks raw or unit-range pixels when the file does not say."""
        if self.state.training:
            return False
        path = Path(path)
        try:
            try:
                bundle = import_model(path, input_range)
            except InputRangeNeeded:
                input_range = self.ask_input_range(path)
                if input_range is None:
                    return False
                bundle = import_model(path, input_range)
            model = build_model(bundle.spec)
            model.load_state_dict(bundle.training_state())
        except StudioError as err:
            QMessageBox.warning(self.window, "Cannot import the model", str(err))
            return False
        self.apply_bundle(bundle, model)
        self.settings.setValue(MODEL_FOLDER_KEY, str(path.parent))
        self.message.emit(f"Imported {path.name}: {describe(bundle.spec)}")
        return True

    def ask_input_range(self, path: Path) -> str | None:
        """"raw" or "unit" as the user answers, None on Cancel."""
        box = QMessageBox(self.window)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("What does the model take?")
        box.setText(f"{path.name} does not say how its input pixels are scaled.")
        box.setInformativeText(
            "Choose what it was trained on: raw MNIST pixels (0–255), or pixels divided by "
            "255 (0–1, as in x_train / 255). MLP Studio then builds that into the model."
        )
        buttons = {box.addButton(label, QMessageBox.ButtonRole.AcceptRole): key
                   for key, label in INPUT_RANGE_CHOICES}  # fmt: skip
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return buttons.get(box.clickedButton())

    def apply_bundle(self, bundle: ModelBundle, model) -> None:
        """Make an imported model current: its network, loss, task and normalization."""
        state = self.state
        self._applying = True
        try:
            state.replace_spec(bundle.spec)
            config = state.train_config
            config.loss = bundle.loss
            state.set_train_config(config)
            data_config = state.data_config
            data_config.normalization = bundle.normalization.kind
            digit = task_from_class_names(bundle.class_names)
            if digit is not False:
                data_config.target_digit = digit
            state.set_data_config(data_config)
            state.set_model(model, bundle.normalization, class_names=bundle.class_names)
        finally:
            self._applying = False
        self._changed()

    def _script_writer(self, bundle: ModelBundle):
        """Writes the Keras script of this experiment: the model with the current training
        and data settings (the export dialog offers it for MNIST classifiers)."""
        from mlp_studio.core.keras_script import export_keras_script

        train, data = self.state.train_config, self.state.data_config
        source = self.state.data_location or self._default_source()
        return lambda path: export_keras_script(bundle, train, data, path, source)

    @Slot()
    def export_model(self):
        """Open the export dialog for the current model; None if there is nothing to export."""
        from mlp_studio.app.dialogs.export_dialog import ExportDialog

        if self.state.training:
            return None
        bundle = self.current_bundle()
        if bundle is None:
            QMessageBox.information(
                self.window,
                "Nothing to export yet",
                "Load data and train (or import) a model first: an export includes the "
                "normalization of the data the model learned from.",
            )
            return None
        data = self.state.data
        images = bundle.takes_images
        if data is not None and data.normalization.size == bundle.spec.input_size:
            pixels = verification_pixels(data)
            label = "test images" if images else "test points"
        else:  # an imported model before any data is loaded
            rng = np.random.default_rng(0)
            if images:
                pixels = rng.uniform(0, 255, (1000, bundle.spec.input_size))
            else:  # feature values of a 2-D problem: around the playground's -6..6 plane
                pixels = rng.uniform(-6, 6, (1000, bundle.spec.input_size))
            pixels = pixels.astype(np.float32)
            label = "random images" if images else "random points"
        if self.export_dialog is not None:
            self.export_dialog.close()
            self.export_dialog.deleteLater()
        dialog = ExportDialog(bundle, pixels, self.window, pixels_label=label,
                              settings=self.settings, script=self._script_writer(bundle))
        dialog.exported.connect(lambda path, diff: self.message.emit(f"Exported {path}"))
        self.export_dialog = dialog
        dialog.show()
        return dialog
