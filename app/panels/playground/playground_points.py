"""The Playground's points: a generated problem, an imported CSV or points drawn by hand, their
features, and publishing them to the experiment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from mlp_studio.app.panels.playground.playground_colors import diverging, point_colors
from mlp_studio.app.panels.playground.playground_display import NEURON_STEP, RESOLUTION
from mlp_studio.core.errors import StudioError
from mlp_studio.core.losses import REGRESSION_LOSSES, canonical_loss
from mlp_studio.core.playground import EXTENT, FEATURES, Points, generate, make_data, split_points
from mlp_studio.core.playground_files import load_points_csv, points_from_list
from mlp_studio.core.playground_grids import feature_grids, grid_inputs
from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import QFileDialog


class PlaygroundPoints:
    """PlaygroundPanel's points and the controls that make them."""

    def _current_points(self) -> Points:
        if self.mode == "draw":
            return points_from_list(self.drawn, classes=self.classes_spin.value())
        if self.mode == "csv" and self.csv_points is not None:
            return self.csv_points
        return generate(
            self.dataset,
            self.points_spin.value(),
            self.noise_slider.value() / 100.0,
            self.seed,
            self.classes_spin.value(),
        )

    def _rebuild_points(self, publish: bool = False) -> None:
        """New points from the settings; then the split, the features and (maybe) the state."""
        self.points = self._current_points()
        self._rebuild_data(publish)

    def _rebuild_data(self, publish: bool) -> None:
        points = self.points
        self.playground = None
        self._show_message("")
        try:
            if self.mode == "draw":
                train = np.flatnonzero(self.drawn_train)
                test = np.flatnonzero(~np.asarray(self.drawn_train, bool))
                if len(train) and len(test):
                    self.playground = make_data(
                        points, self.feature_names, split=(train, test, test)
                    )
            else:
                self.playground = make_data(
                    points, self.feature_names, self.train_fraction, self.seed
                )
        except StudioError as err:
            self._show_message(str(err))
        self._after_data_change()
        if publish:
            self._publish()
        if publish:  # every change of the settings publishes (or tries to)
            self._settings_changed()

    def _after_data_change(self) -> None:
        """Recompute what depends only on the data: grid inputs, feature tiles, points, curves."""
        points, pg_data = self.points, self.playground
        extent = points.extent if points is not None else EXTENT
        self.live.boundary.set_extent(extent)
        if pg_data is not None:
            norm = pg_data.data.normalization
            self._inputs = grid_inputs(pg_data.feature_names, norm, extent, RESOLUTION)
            raw = feature_grids(pg_data.feature_names, extent, RESOLUTION)[
                :, ::NEURON_STEP, ::NEURON_STEP
            ]
            scales = np.abs(raw).reshape(len(raw), -1).max(1)
            self._feature_tiles = np.stack(
                [diverging(f, float(s) or 1.0) for f, s in zip(raw, scales, strict=True)]
            )
        else:
            self._inputs = self._feature_tiles = None
        self._draw_points()
        self._curves = []
        self._epoch_label = ""
        self._losses_now = None
        self.live.set_curves(np.zeros((0, 3)), self._test_label())
        self.live.boundary.set_image(None)
        self.active = pg_data is not None and self.state.data is pg_data.data
        self._update_controls()
        self._schedule()

    def _draw_points(self) -> None:
        points = self.points
        if points is None or not len(points):
            empty = np.zeros((0, 2))
            self.live.boundary.set_points(empty, empty, empty, empty)
            return
        colors = point_colors(points.labels, points.task, self._value_scale())
        if self.mode == "draw":
            train = np.asarray(self.drawn_train, bool)
            test = ~train
        elif self.playground is not None:
            train = np.zeros(len(points), bool)
            train[self.playground.train] = True
            test = np.zeros(len(points), bool)
            test[self.playground.test] = True
        else:
            train, test = np.ones(len(points), bool), np.zeros(len(points), bool)
        self.live.boundary.set_points(
            points.xy[train],
            colors[train],
            points.xy[test],
            colors[test],
            light_rims=points.task != "regression",
        )

    def _publish(self) -> None:
        """Hand our data to the studio when the playground is what trains. New points (another
        dataset, noise, drawn points) start from fresh weights: the old ones learned others."""
        pg_data = self.playground
        if self.state.training or self.state.source != "playground":
            return
        if pg_data is None:  # no trainable points (an empty drawing): nothing to train on
            self.state.set_data(None)
            return
        previous = self.state.data
        self.state.set_feature_names(list(pg_data.feature_names))
        self.state.set_data(pg_data.data)  # emits dataChanged -> self.active
        if previous is not None and previous is not pg_data.data and previous.raw_train is None:
            self.state.set_model(None)  # other points than the weights learned: start afresh
        messages = self._fit_loss_to_task(pg_data.data.task)
        self._last_task = pg_data.data.task
        if messages:
            self._show_message(" ".join(messages), error=False)

    def _fit_loss_to_task(self, task: str) -> list[str]:
        config = self.state.train_config
        loss = canonical_loss(config.loss)
        if task == "regression" and loss not in REGRESSION_LOSSES:
            config.loss = "mse"
        elif (
            task == "classification"
            and self._last_task == "regression"
            and (loss in REGRESSION_LOSSES)
        ):
            config.loss = "sparse_categorical_cross_entropy"
        else:
            return []
        self.state.set_train_config(config)
        return [f"Loss set to {config.loss.replace('_', ' ')} for this {task} problem."]

    def regenerate(self) -> None:
        self.seed += 1
        self._rebuild_points(publish=True)

    def _on_dataset_chosen(self, index: int) -> None:
        # item data is "kind:value" (a str survives the round trip through Qt)
        kind, _, value = str(self.dataset_combo.itemData(index)).partition(":")
        if kind == "import":
            path, _ = QFileDialog.getOpenFileName(
                self, "Import points", "", "CSV files (*.csv *.txt);;All files (*)"
            )
            self._select_current_mode()
            if path:
                self.import_csv(path, value)
            return
        if kind == "file":
            self.mode = "csv"
        elif kind == "draw":
            self.mode = "draw"
        else:
            self.mode, self.dataset = "dataset", value
        self._update_controls()
        self._rebuild_points(publish=True)

    def import_csv(self, path: str, task: str = "classification") -> bool:
        """Load `x1,x2,label` points; a problem is shown in the panel and nothing changes."""
        try:
            points = load_points_csv(path, task)
        except StudioError as err:
            self._show_message(str(err))
            return False
        self.csv_points, self.mode = points, "csv"
        self._select_current_mode()
        self._update_controls()
        self._rebuild_points(publish=True)
        return True

    def _select_current_mode(self) -> None:
        """Point the combo at what is shown (an imported file gets its own entry)."""
        combo = self.dataset_combo
        with QSignalBlocker(combo):
            file_index = combo.findData("file:")
            if self.csv_points is not None:
                label = f"File: {Path(self.csv_points.source).name}"
                if file_index < 0:
                    combo.insertItem(combo.findData("draw:") + 1, label, "file:")
                else:
                    combo.setItemText(file_index, label)
            wanted = {
                "dataset": "dataset:" + self.dataset,
                "draw": "draw:",
                "csv": "file:",
            }[self.mode]
            combo.setCurrentIndex(combo.findData(wanted))

    def select_dataset(self, name: str) -> None:
        """Choose a generated dataset, as the user would in the combo box."""
        index = self.dataset_combo.findData("dataset:" + name)
        self.dataset_combo.setCurrentIndex(index)
        self._on_dataset_chosen(index)

    def start_drawing(self) -> None:
        index = self.dataset_combo.findData("draw:")
        self.dataset_combo.setCurrentIndex(index)
        self._on_dataset_chosen(index)

    def _on_classes_changed(self, value: int) -> None:
        for k, button in enumerate(self.class_buttons):
            button.setVisible(k < value)
        if self.mode == "draw":
            keep = [i for i, (_, _, c) in enumerate(self.drawn) if c < value]
            self.drawn = [self.drawn[i] for i in keep]
            self.drawn_train = [self.drawn_train[i] for i in keep]
            if not any(b.isChecked() for b in self.class_buttons[:value]):
                self.class_buttons[0].setChecked(True)
        if self.mode == "draw" or self.dataset == "spiral":
            self._rebuild_points(publish=True)
        else:  # the data does not change, but the saved settings do
            self._settings_changed()

    def _on_noise_changed(self, value: int) -> None:
        self.noise_value.setText(str(value))
        self._rebuild_points(publish=True)

    def _on_ratio_changed(self, value: int) -> None:
        self.ratio_value.setText(f"{value} %")
        if self.mode == "draw":
            n = len(self.drawn)
            flags = np.zeros(n, bool)
            if n >= 2:
                flags[split_points(n, self.train_fraction, self.seed)[0]] = True
            else:
                flags[:] = True
            self.drawn_train = flags.tolist()
        self._rebuild_data(publish=True)

    def _on_feature_toggled(self, _checked: bool) -> None:
        chosen = tuple(n for n in FEATURES if self.feature_boxes[n].isChecked())
        if not chosen:  # the network needs at least one input
            box = self.sender()
            with QSignalBlocker(box):
                box.setChecked(True)
            self.feature_hint.setText("Keep at least one feature.")
            return
        self.feature_hint.setText("")
        self.feature_names = chosen
        self._rebuild_data(publish=True)

    def set_features(self, names: tuple[str, ...]) -> None:
        """Tick exactly these features (as the user would, one box at a time)."""
        for name in FEATURES:
            if name in names:
                self.feature_boxes[name].setChecked(True)
        for name in FEATURES:
            if name not in names:
                self.feature_boxes[name].setChecked(False)

    def current_class(self) -> int:
        for k, button in enumerate(self.class_buttons):
            if button.isChecked():
                return k
        return 0

    def _on_plane_clicked(self, x1: float, x2: float, button) -> None:
        if self.mode != "draw":
            return
        if self.state.training:
            self._show_message("Stop training to change the points.")
            return
        if button == Qt.MouseButton.RightButton:
            self.remove_point_near(x1, x2)
        else:
            self.add_point(x1, x2, self.current_class())

    def add_point(self, x1: float, x2: float, label: int) -> None:
        self.drawn.append((float(x1), float(x2), int(label)))
        # Each point keeps its side: the first trains, the next one tests, then by the ratio.
        if not any(self.drawn_train):
            train = True
        elif all(self.drawn_train):
            train = False
        else:
            train = bool(self._rng.random() < self.train_fraction)
        self.drawn_train.append(train)
        self._rebuild_points(publish=True)

    def remove_point_near(self, x1: float, x2: float) -> None:
        if not self.drawn:
            return
        xy = np.array([(x, y) for x, y, _ in self.drawn])
        nearest = int(np.argmin(np.hypot(xy[:, 0] - x1, xy[:, 1] - x2)))
        if np.hypot(*(xy[nearest] - (x1, x2))) <= 1.0:
            del self.drawn[nearest]
            del self.drawn_train[nearest]
            self._rebuild_points(publish=True)

    def clear_drawing(self) -> None:
        self.drawn, self.drawn_train = [], []
        self._rebuild_points(publish=True)
