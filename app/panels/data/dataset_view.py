"""What the Data dock's sections show of the loaded dataset: its description, the task and
class-balance controls fitted to its classes (hidden for a regression, which has none), the
settings that no longer fit it reset, and the hint on uneven classes."""

from __future__ import annotations

import copy

import numpy as np
from mlp_studio.app.panels.data.balance_chart import percent
from mlp_studio.app.panels.data.data_sections import NORMALIZATION_LABELS
from mlp_studio.app.panels.data.dataset_source import escape_html
from mlp_studio.core.dataset import Dataset
from PySide6.QtCore import QSignalBlocker

TABLE_NORMALIZATIONS = ("none", "per_pixel")  # a table's columns: raw, or one by one


class DatasetView:
    """DataPanel's presentation of its Dataset (self._dataset)."""

    def _unit(self) -> str:
        """What a sample is called: "rows" of a table, "images" otherwise."""
        dataset = self._dataset
        return "rows" if dataset is not None and dataset.kind == "table" else "images"

    def _class_names(self) -> list[str]:
        dataset = self._dataset
        return list(dataset.class_names) if dataset is not None else [str(d) for d in range(10)]

    def _describe_dataset(self, ds: Dataset) -> None:
        """The source line, and the split and section controls that depend on the data."""
        n_train = len(ds.x_train)
        n_test = 0 if ds.x_test is None else len(ds.x_test)
        shape = ds.input_shape
        if ds.kind == "table":
            what = (f"regression of {escape_html(ds.class_names[0])}" if ds.task == "regression"
                    else f"{len(ds.class_names)} classes")  # fmt: skip
            main = (f"<b>{escape_html(ds.name)}</b>: {n_train:,} rows, {shape[0]} inputs "
                    f"(after encoding), {what}")
        else:
            mode = "RGB" if len(shape) == 3 else "grayscale"
            size = f"{shape[1]}×{shape[0]} {mode}"
            images = (f"{n_train:,} training + {n_test:,} test images" if n_test
                      else f"{n_train:,} images")  # fmt: skip
            main = (f"<b>{escape_html(ds.name)}</b>: {images}, {size}, "
                    f"{len(ds.class_names)} classes")
        self._set_source_text(main, str(ds.source))
        total = n_train + n_test
        self.val_count.setMaximum(max(n_train - 1, 1))
        self.pooled_radio.setText(f"Pool all {total:,} and split by percentages")
        official = ds.x_test is not None
        for radio in (self.official_radio, self.test_val_radio):
            radio.setEnabled(official)
            radio.setToolTip("" if official else "This data has no official test set: it is "
                             "split by the percentages.")  # fmt: skip
        self.subset_spin.setMaximum(max(total, 10))
        self.subset_unit.setText(self._unit())
        regression = ds.task == "regression"
        self._show_stratified()
        for key in ("task", "balance"):  # a regression has no classes to pick or balance
            self.sections[key].setVisible(not regression)
        self.sections["samples"].setVisible(ds.kind != "table")
        table = ds.kind == "table"
        combo = self.normalization_combo
        for i in range(combo.count()):  # scales for 0-255 pixels do not apply to a table
            combo.model().item(i).setEnabled(not table or combo.itemData(i) in TABLE_NORMALIZATIONS)
        combo.setItemText(combo.findData("per_pixel"), "Standardize each column" if table
                          else NORMALIZATION_LABELS["per_pixel"])  # fmt: skip
        self.hist_caption.setText("Values of the training rows, every column (log count)" if table
                                  else "Pixel values of the training images (log count)")
        names = list(ds.class_names)
        self.task_combo.blockSignals(True)
        self.task_combo.clear()
        self.task_combo.addItem(f"Which class is it? ({len(names)} classes)", None)
        for c, name in enumerate(names if not regression else []):
            self.task_combo.addItem(f"Is it {name}? (yes / no)", c)
        self.task_combo.setCurrentIndex(max(self.task_combo.findData(
            self._config.target_digit), 0))
        self.task_combo.blockSignals(False)

    def _show_stratified(self) -> None:
        """A regression's target is a real number, not a class: there is no share of each class
        to keep, so Stratified is shown off and cannot be ticked (preparation ignores it there,
        core.data.prepare_dataset); the setting is kept for the next classification."""
        regression = self._dataset is not None and self._dataset.task == "regression"
        check = self.stratified_check
        check.setEnabled(not regression and not self.state.training)
        with QSignalBlocker(check):
            check.setChecked(self._config.split.stratified and not regression)
        check.setToolTip(
            "A regression's target is a number, not a class: its splits are drawn at random"
            if regression else "Every split gets the same share of each class")

    def _fit_config_to(self, ds: Dataset) -> None:
        """Data settings that do not fit the new data (another class count, a regression, no
        official test set) go back to what fits; the user is not asked (the data changed)."""
        config = copy.deepcopy(self._config)
        n = len(ds.class_names)
        self.keep_sliders.set_classes(list(ds.class_names))  # hidden for a regression
        balance = config.balance
        if ds.task == "regression":
            balance.keep_fractions, balance.remedy = (1.0,) * n, "none"
            config.target_digit = None
        else:
            if len(balance.keep_fractions) != n:
                balance.keep_fractions = (1.0,) * n
            if config.target_digit is not None and config.target_digit >= n:
                config.target_digit = None
        if ds.x_test is None and config.split.mode != "pooled":
            config.split.mode = "pooled"
        if ds.kind == "table" and config.normalization not in TABLE_NORMALIZATIONS:
            config.normalization = "per_pixel"  # what preparation does to a table anyway
        if config != self._config:
            self._config = config
            if not self.state.training:
                self.state.set_data_config(config)
        self._show_config(config)

    def _update_hint(self) -> None:
        """Explain how the data can fool the model when the classes are uneven."""
        data = self.state.data
        names = self._class_names()
        parts = []
        keep = np.asarray(self._config.balance.keep_fractions)
        if len(keep) == len(names) and keep.min() < 1.0:
            big, small = names[int(keep.argmax())], names[int(keep.argmin())]
            rare = f"none of class {small}" if keep.min() == 0 else (
                f"only {percent(keep.min())} of class {small}")  # fmt: skip
            parts.append(
                f"Training keeps {percent(keep.max())} of class {big} but {rare}, while "
                "validation and test stay whole. A model can score well by favouring the "
                "common classes: check the recall of the rare ones in the confusion matrix."
            )
        if self._config.target_digit is not None and data is not None and data.num_classes == 2:
            counts = data.class_counts()["test"]
            share = 100.0 * counts[0] / max(counts.sum(), 1)
            d = data.class_names[1]
            parts.append(
                f"Binary task: {share:.0f}% of test samples are “not {d}”, so always answering "
                f"“not {d}” already scores {share:.0f}% accuracy. Watch the recall of “{d}”."
            )
        remedy = {
            "oversample": "Oversampling repeats the rare samples (the darker part of a train bar "
            "is the distinct ones): the network may memorise them.",
            "undersample": "Undersampling throws away samples of the common classes: less to "
            "learn from.",
            "class_weights": "Class weights make each rare sample count more in the loss; the "
            "data stays as it is.",
        }.get(self._config.balance.remedy)
        lines = [f"⚠ {p}" for p in parts] + ([remedy] if parts and remedy else [])
        self.hint_label.setText("<br><br>".join(lines))
        self.hint_label.setVisible(bool(parts))
