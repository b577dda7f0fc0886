"""The 2-D playground: small problems whose every neuron can be watched over the input plane.

Layout as in TensorFlow Playground: data settings on top; input features, the network's neuron
heatmaps and the output (loss curves above the decision boundary) side by side. Resting the
mouse on a neuron shows its output large in the big view. "Pin this run" freezes the current
boundary and curves beside the live ones for comparison.

The panel is a client of the state: when the user works with it (or clicks "Train on the
playground data") it calls state.set_data with playground PreparedData, and training then runs
through the shell's controller like MNIST. The main window connects the controller's signals:
    controller.snapshot -> panel.on_snapshot      (live boundary and neurons)
    controller.epochEnded -> panel.on_epoch_end   (loss curves)
    controller.progress -> panel.on_progress      (epoch counter)
Snapshots carry Linear weights only: during a run the views use a private copy of the model,
taken when the run starts (so batch-norm running statistics are those of the start until the
run ends and the trained model itself is shown again).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import torch
from mlp_studio.app.model.experiment import SOURCES, Experiment
from mlp_studio.app.panels.playground.boundary_view import BoundaryView, SquareBox
from mlp_studio.app.panels.playground.neuron_grid_view import (
    MAX_SHOWN,
    Column,
    NeuronGridView,
    _qimage,
)
from mlp_studio.app.panels.playground.playground_colors import (
    class_color,
    decision_rgb,
    diverging,
    point_colors,
    tint,
)
from mlp_studio.app.widgets.banner import Banner, Level
from mlp_studio.app.widgets.suggestion_bar import SuggestionBar
from mlp_studio.core.errors import StudioError
from mlp_studio.core.losses import REGRESSION_LOSSES, canonical_loss
from mlp_studio.core.model import MLP, NetworkSpec, build_model, describe
from mlp_studio.core.playground import (
    CLASS_NAMES,
    DATASET_LABELS,
    DATASETS,
    EXTENT,
    FEATURE_LABELS,
    FEATURES,
    PlaygroundData,
    Points,
    feature_grids,
    generate,
    grid_inputs,
    load_points_csv,
    make_data,
    network_grids,
    points_from_list,
    split_points,
)
from mlp_studio.core.playground_settings import DRAW_CLASSES, RANGES, PlaygroundSettings
from mlp_studio.core.training import BatchProgress, EpochEnd, Snapshot, losses_now
from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QIcon, QPalette, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

RESOLUTION = 100  # the big view's grid
NEURON_STEP = 3  # neuron tiles keep every third row/column of it: 34 x 34
FRAME_MS = 33  # at most ~30 boundary redraws a second
# While training, slower parts redraw less often: the controller paces deliveries by how busy
# the GUI thread is, so every millisecond saved here is boundary frames gained.
NETWORK_MS = 250  # neuron tiles and links (their painting costs the most)
CURVES_MS = 250  # loss curves (pyqtgraph re-ranges and repaints the plot on every change)
SETTLE_MS = 400  # no snapshot for this long (paused, finished): links antialiased again
# Settings that suit 2-D problems (Playground trains with batches of 10), applied once when the
# studio switches from other data (MNIST) to the playground.


class RunView(QWidget):
    """Losses above a boundary view: the live run, or a pinned one."""

    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel(f"<b>{title}</b>")
        self.losses = QLabel(" ")
        self.losses.setTextFormat(Qt.TextFormat.RichText)
        self.losses.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.plot = pg.PlotWidget()
        self.plot.setFixedHeight(78)
        item = self.plot.getPlotItem()
        item.setMouseEnabled(False, False)
        item.hideButtons()
        item.setMenuEnabled(False)
        item.hideAxis("bottom")
        item.getAxis("left").setWidth(34)
        item.getAxis("left").setStyle(tickLength=-3)
        self.train_curve = item.plot([], [])
        self.test_curve = item.plot([], [])
        self.boundary = BoundaryView()
        self.caption = QLabel(" ")
        self.caption.setWordWrap(True)
        # The caption changes every frame: it sits in the SquareBox, outside any layout, so
        # it never re-lays out the panel.
        self.caption.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addStretch(1)
        head.addWidget(self.losses, 1)
        layout.addLayout(head)
        layout.addWidget(self.plot)
        layout.addWidget(SquareBox(self.boundary, self.caption), 1)
        self.curves = np.zeros((0, 3))  # epoch, train loss, test loss
        self.test_label = "Test"
        self.apply_theme()

    def set_curves(self, curves: np.ndarray, test_label: str = "Test") -> None:
        self.curves = np.array(curves, np.float64).reshape(-1, 3)
        self.test_label = test_label
        c = self.curves
        self.train_curve.setData(c[:, 0], c[:, 1])
        self.test_curve.setData(c[:, 0], c[:, 2])
        if len(c):
            # The words carry their curve's colour: the legend of the plot.
            faint = self.palette().color(QPalette.ColorRole.PlaceholderText).name()
            self.losses.setText(
                f"{test_label} loss <b>{c[-1, 2]:.3f}</b> &nbsp; "
                f"<span style='color:{faint}'>Training loss <b>{c[-1, 1]:.3f}</b></span>"
            )
        else:
            self.losses.setText(" ")

    def show_losses_now(self, train: float, test: float, why: str) -> None:
        """The loss of the weights as they are (after a hand edit or a step): the curves'
        last point no longer describes them."""
        faint = self.palette().color(QPalette.ColorRole.PlaceholderText).name()
        self.losses.setText(
            f"{self.test_label} loss now <b>{test:.3f}</b> &nbsp; "
            f"<span style='color:{faint}'>Training loss <b>{train:.3f}</b> ({why})</span>"
        )

    def apply_theme(self) -> None:
        palette = self.palette()
        self.plot.setBackground(palette.color(QPalette.ColorRole.Window))
        text = palette.color(QPalette.ColorRole.WindowText)
        faint = palette.color(QPalette.ColorRole.PlaceholderText)
        axis = self.plot.getPlotItem().getAxis("left")
        axis.setTextPen(faint)
        axis.setPen(QColor(faint.red(), faint.green(), faint.blue(), 90))
        self.test_curve.setPen(pg.mkPen(text, width=2))
        self.train_curve.setPen(pg.mkPen(faint, width=1.5))

    def changeEvent(self, event) -> None:
        if event.type() == event.Type.PaletteChange:
            self.apply_theme()
        super().changeEvent(event)


def _swatch(color: tuple[int, int, int], size: int = 12) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(*color))
    return QIcon(pixmap)


class PlaygroundPanel(QWidget):
    """2-D datasets, input features, neuron heatmaps and the live decision boundary."""

    # The data settings (what settings() returns: dataset, noise, points, features, drawn
    # points...) changed, by the user or by apply_settings. FileActions marks the session
    # modified (it ignores the changes it makes itself while opening a session).
    settingsChanged = Signal()

    def __init__(self, state: Experiment, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        # the data the user asked for
        self.mode = "dataset"  # "dataset" | "draw" | "csv"
        self.dataset = "circle"
        self.seed = 0
        self.feature_names: tuple[str, ...] = ("x1", "x2")
        self.drawn: list[tuple[float, float, int]] = []
        self.drawn_train: list[bool] = []
        self.csv_points: Points | None = None
        self.playground: PlaygroundData | None = None  # what the views show
        self.points: Points | None = None
        self.active = False  # state.data is our playground data
        self._last_task: str | None = None
        # the model the views show, and the live run
        self._fresh: tuple[NetworkSpec, MLP] | None = None
        self._shadow: MLP | None = None
        self._inputs: torch.Tensor | None = None
        self._feature_tiles: np.ndarray | None = None
        self._curves: list[tuple[float, float, float]] = []
        self._epoch_label = ""
        self._grids_dirty = False
        self.frames_drawn = 0
        self._network_drawn = 0.0  # perf_counter of the last neuron-view update
        self._frame_time = 0.0  # ... and of the last frame
        self._curves_shown: list | None = None
        self._curves_time = 0.0
        self._snapshot_time = 0.0
        self._rng = np.random.default_rng(0)

        # The GUI thread draws grids with one intra-op thread. With torch's default (all cores)
        # every op of a frame started a thread team that spun against the training worker:
        # tanh of 32k values took 12 ms instead of 0.1 (2 cores, bench_playground_fps.py).
        # Set once, never restored: torch.set_num_threads also sets the count that threads
        # starting later adopt, and the controller's worker sets its own when it starts.
        if torch.get_num_threads() != 1:
            torch.set_num_threads(1)
        self._build()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._frame)

        state.dataChanged.connect(self._on_data_changed)
        state.specChanged.connect(lambda _spec: self._schedule())
        state.modelChanged.connect(lambda _model: self._on_model_changed())
        state.historyReplaced.connect(self._on_history_replaced)
        state.sourceChanged.connect(self._on_source_changed)
        state.playgroundSettingsApplied.connect(self.apply_settings)
        state.trainingChanged.connect(self._on_training_changed)
        state.trainConfigChanged.connect(lambda _config: self._schedule())
        self._rebuild_points()
        self._update_controls()
        state.set_playground_settings(self.settings())  # what a session would store

    # ---------------------------------------------------------------- widgets

    def _build(self) -> None:
        # data settings
        self.dataset_combo = QComboBox()
        for name in DATASETS:
            self.dataset_combo.addItem(DATASET_LABELS[name], "dataset:" + name)
        self.dataset_combo.insertSeparator(self.dataset_combo.count())
        self.dataset_combo.addItem("Draw your own", "draw:")
        self.dataset_combo.addItem("Import CSV: class labels…", "import:classification")
        self.dataset_combo.addItem("Import CSV: real values…", "import:regression")
        self.dataset_combo.activated.connect(self._on_dataset_chosen)
        self.classes_spin = QSpinBox()
        self.classes_spin.setRange(*RANGES["classes"])
        self.classes_spin.setValue(3)
        self.classes_spin.setToolTip("Spiral arms, or classes to draw: one class each")
        self.classes_spin.valueChanged.connect(self._on_classes_changed)
        self.noise_slider = QSlider(Qt.Orientation.Horizontal)
        self.noise_slider.setRange(*RANGES["noise"])
        self.noise_slider.setFixedWidth(110)
        self.noise_slider.setToolTip("Noise, as in TensorFlow Playground (0-50 %)")
        self.noise_value = QLabel("0")
        # No tracking: the data (and the studio's data) change once, when the slider is let go.
        self.noise_slider.setTracking(False)
        self.noise_slider.sliderMoved.connect(lambda v: self.noise_value.setText(str(v)))
        self.noise_slider.valueChanged.connect(self._on_noise_changed)
        self.points_spin = QSpinBox()
        self.points_spin.setRange(*RANGES["points"])
        self.points_spin.setSingleStep(100)
        self.points_spin.setValue(500)
        self.points_spin.setKeyboardTracking(False)
        self.points_spin.valueChanged.connect(lambda _v: self._rebuild_points(publish=True))
        self.ratio_slider = QSlider(Qt.Orientation.Horizontal)
        self.ratio_slider.setRange(*RANGES["train_percent"])
        self.ratio_slider.setSingleStep(5)
        self.ratio_slider.setValue(50)
        self.ratio_slider.setFixedWidth(110)
        self.ratio_slider.setToolTip("Share of the points used for training; the rest test it")
        self.ratio_value = QLabel("50 %")
        self.ratio_slider.setTracking(False)
        self.ratio_slider.sliderMoved.connect(lambda v: self.ratio_value.setText(f"{v} %"))
        self.ratio_slider.valueChanged.connect(self._on_ratio_changed)
        self.regenerate_button = QPushButton("Regenerate")
        self.regenerate_button.setToolTip("New random points with the same settings")
        self.regenerate_button.clicked.connect(self.regenerate)

        top = QHBoxLayout()
        top.setSpacing(6)
        self.classes_label = QLabel("Classes")
        self.noise_label = QLabel("Noise")
        self.points_label = QLabel("Points")
        for w in (
            QLabel("<b>Data</b>"),
            self.dataset_combo,
            self.classes_label,
            self.classes_spin,
            self.noise_label,
            self.noise_slider,
            self.noise_value,
            self.points_label,
            self.points_spin,
            QLabel("Training"),
            self.ratio_slider,
            self.ratio_value,
            self.regenerate_button,
        ):
            top.addWidget(w)
        top.addStretch(1)

        # drawing
        self.draw_bar = QWidget()
        draw = QHBoxLayout(self.draw_bar)
        draw.setContentsMargins(0, 0, 0, 0)
        draw.addWidget(QLabel("Click to add a point of class"))
        self.class_buttons: list[QToolButton] = []
        for k in range(DRAW_CLASSES):
            button = QToolButton()
            button.setText(CLASS_NAMES[k])
            button.setIcon(_swatch(class_color(k)))
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setCheckable(True)
            button.setAutoExclusive(True)
            button.setChecked(k == 0)
            self.class_buttons.append(button)
            draw.addWidget(button)
        draw.addWidget(QLabel("· right-click removes the nearest point"))
        self.clear_button = QPushButton("Clear points")
        self.clear_button.clicked.connect(self.clear_drawing)
        draw.addWidget(self.clear_button)
        draw.addStretch(1)

        # not-active banner and messages
        self.banner = Banner(closable=False)  # goes away once these points train
        self.use_button = QPushButton("Train on these points")
        self.use_button.clicked.connect(self.activate)
        self.banner.add_widget(self.use_button)
        self.message = Banner()

        # features
        features_box = QVBoxLayout()
        features_box.setSpacing(2)
        title = QLabel("<b>Features</b>")
        title.setToolTip("What the network sees of each point")
        features_box.addWidget(title)
        features_box.addWidget(self._faint("Which properties\ndo you feed in?"))
        self.feature_boxes: dict[str, QCheckBox] = {}
        icons = feature_grids(FEATURES, EXTENT, 24)
        for name, grid in zip(FEATURES, icons, strict=True):
            box = QCheckBox(FEATURE_LABELS[name])
            box.setChecked(name in self.feature_names)
            scale = float(np.abs(grid).max()) or 1.0
            pixmap = QPixmap.fromImage(_qimage(diverging(grid, scale)))
            icon = QIcon(pixmap)
            icon.addPixmap(pixmap, QIcon.Mode.Disabled)  # stays readable while training runs
            box.setIcon(icon)
            box.setIconSize(box.iconSize() * 2)
            box.toggled.connect(self._on_feature_toggled)
            self.feature_boxes[name] = box
            features_box.addWidget(box)
        features_box.addStretch(1)
        self.feature_hint = self._faint("")
        self.feature_hint.setWordWrap(True)
        features_box.addWidget(self.feature_hint)

        # network
        self.network = NeuronGridView()
        self.network.weightEdited.connect(self._on_weight_edited)
        self.network.nodeHovered.connect(self._on_node_hovered)
        self.network.note = (
            "Each square shows what a neuron outputs over the plane (orange negative, blue "
            "positive); rest the mouse on one to see it large. Links are weights: click one, "
            "or a neuron for its bias, to edit it."
        )
        network_box = QVBoxLayout()
        network_box.addWidget(self.network, 1)

        # output: live and pinned runs
        self.live = RunView("This run")
        self.live.boundary.pointClicked.connect(self._on_plane_clicked)
        self.pinned = RunView("Pinned run")
        self.pinned.setVisible(False)
        self.show_test = QCheckBox("Show test data")
        self.show_test.setChecked(True)
        self.show_test.toggled.connect(self._on_show_test)
        self.pin_button = QPushButton("Pin this run")
        self.pin_button.setToolTip(
            "Freeze this boundary and its loss curves beside the live view, then change the "
            "network or the features and train again to compare"
        )
        self.pin_button.clicked.connect(self.toggle_pin)
        runs = QHBoxLayout()
        runs.setSpacing(10)
        runs.addWidget(self.live, 1)
        runs.addWidget(self.pinned, 1)
        under = QHBoxLayout()
        under.addWidget(self.show_test)
        under.addStretch(1)
        under.addWidget(self.pin_button)
        output_box = QVBoxLayout()
        output_box.addLayout(runs, 1)
        output_box.addLayout(under)

        self.middle = middle = QGridLayout()
        middle.setHorizontalSpacing(14)
        middle.addLayout(features_box, 0, 0)
        middle.addLayout(network_box, 0, 1)
        middle.addLayout(output_box, 0, 2)
        middle.setColumnStretch(1, 3)
        middle.setColumnStretch(2, 4)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(top)
        layout.addWidget(self.draw_bar)
        layout.addWidget(self.banner)
        layout.addWidget(SuggestionBar(self.state, "playground"))
        layout.addWidget(self.message)
        layout.addLayout(middle, 1)

    def _faint(self, text: str) -> QLabel:
        label = QLabel(text)
        palette = label.palette()
        palette.setColor(
            QPalette.ColorRole.WindowText, palette.color(QPalette.ColorRole.PlaceholderText)
        )
        label.setPalette(palette)
        return label

    # ---------------------------------------------------------------- data

    @property
    def train_fraction(self) -> float:
        return self.ratio_slider.value() / 100.0

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
        self.live.set_curves(np.zeros((0, 3)), self._test_label())
        self.live.boundary.set_image(None)
        self.active = pg_data is not None and self.state.data is pg_data.data
        self._update_controls()
        self._schedule()

    def _test_label(self) -> str:
        if self.playground is not None and not self.playground.val_is_test:
            return "Validation"
        return "Test"

    def _value_scale(self) -> float:
        """Colour scale of a regression: the largest |target| (Playground's targets are +-1)."""
        if self.points is None or self.points.task != "regression" or not len(self.points):
            return 1.0
        return max(float(np.abs(self.points.labels).max()), 1e-6)

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

    def settings(self) -> PlaygroundSettings:
        """The data settings shown (a session stores them): generator settings, plus drawn
        or imported points themselves."""
        return PlaygroundSettings(
            self.mode, self.dataset, self.noise_slider.value(), self.points_spin.value(),
            self.ratio_slider.value(), self.classes_spin.value(), self.seed,
            tuple(self.feature_names),
            self.points.task if self.points is not None else "classification",
            tuple(tuple(point) for point in self.drawn) if self.mode == "draw" else (),
            tuple(self.drawn_train) if self.mode == "draw" else (),
            self.csv_points if self.mode == "csv" else None,
        )

    @Slot(object)
    def apply_settings(self, settings: PlaygroundSettings) -> None:
        """Show the data `settings` describe (checked by PlaygroundSettings.from_dict) and
        publish it when the playground is what trains."""
        for widget, value in ((self.noise_slider, settings.noise),
                              (self.points_spin, settings.points),
                              (self.ratio_slider, settings.train_percent),
                              (self.classes_spin, settings.classes)):  # fmt: skip
            with QSignalBlocker(widget):
                widget.setValue(value)
        self.noise_value.setText(str(self.noise_slider.value()))
        self.ratio_value.setText(f"{self.ratio_slider.value()} %")
        for name, box in self.feature_boxes.items():
            with QSignalBlocker(box):
                box.setChecked(name in settings.features)
        self.mode, self.dataset, self.seed = settings.mode, settings.dataset, settings.seed
        self.feature_names = settings.features
        if settings.mode == "draw":
            self.drawn, self.drawn_train = list(settings.drawn), list(settings.drawn_train)
        if settings.csv_points is not None:
            self.csv_points = settings.csv_points
        self._select_current_mode()
        self._update_controls()
        self._rebuild_points(publish=True)

    def activate(self) -> None:
        """Train on the playground's points (the Data panel's Train on, or this panel's
        button): the experiment's source becomes the playground, which publishes them."""
        if self.playground is None:
            self._rebuild_points()
        if self.state.source == "playground":
            self._publish()
        else:
            self.state.set_source("playground")  # -> _on_source_changed -> _publish

    def _settings_changed(self) -> None:
        self.state.set_playground_settings(self.settings())
        self.settingsChanged.emit()

    @Slot(str)
    def _on_source_changed(self, source: str) -> None:
        if source == "playground":
            self.activate()
        self._update_controls()

    def regenerate(self) -> None:
        self.seed += 1
        self._rebuild_points(publish=True)

    # ---------------------------------------------------------------- control slots

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

    def _on_show_test(self, visible: bool) -> None:
        self.live.boundary.set_test_visible(visible)
        self.pinned.boundary.set_test_visible(visible)

    # ---- drawing ----

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

    # ---------------------------------------------------------------- state and controller

    @Slot(object)
    def _on_data_changed(self, data) -> None:
        self.active = self.playground is not None and data is self.playground.data
        self._update_controls()
        self._schedule()

    def _on_model_changed(self) -> None:
        if not self.state.training:
            self._schedule()

    @Slot(object)
    def _on_history_replaced(self, history) -> None:
        """Other weights: their own loss curves (none for fresh weights), no stale epoch."""
        self._curves = [(r.epoch, r.train_loss, r.val_loss) for r in history.epochs]
        self._curves_shown = None  # redraw even when equal (the losses label follows)
        self._epoch_label = (f"{len(history.epochs):,} epochs trained" if history.epochs
                             else "")
        self._schedule()

    def _show_losses_now(self, why: str) -> None:
        """After a hand edit or a step: the loss of the weights as they are."""
        pg_data, model = self.playground, self.display_model()
        if pg_data is None or model is None or not self.active:
            return
        train, test = losses_now(model, pg_data.data, self.state.train_config.loss)
        self.live.show_losses_now(train, test, why)

    def _on_training_changed(self, training: bool) -> None:
        if training:
            # A private copy for the views: snapshots update its Linear layers.
            model = self.state.model
            self._shadow = None
            if model is not None:
                self._shadow = build_model(model.spec)
                self._shadow.load_state_dict(model.state_dict())
        else:
            self._shadow = None
        self.network.fast = False
        self._update_controls()
        self._schedule()

    @Slot(object)
    def on_snapshot(self, snapshot: Snapshot) -> None:
        shadow = self._shadow
        if shadow is None or not self.active:
            return
        linears = shadow.linears
        if len(linears) != len(snapshot.weights) or any(
            lin.weight.shape != w.shape for lin, w in zip(linears, snapshot.weights, strict=True)
        ):
            return
        with torch.no_grad():
            for lin, w, b in zip(linears, snapshot.weights, snapshot.biases, strict=True):
                lin.weight.copy_(torch.from_numpy(w))
                lin.bias.copy_(torch.from_numpy(b))
        self._snapshot_time = time.perf_counter()
        self.network.fast = True  # plain links while weights stream in (see refresh)
        self._schedule()
        if self.state.run_state == "paused":  # a Step: the last epoch's losses are stale
            self._show_losses_now(f"after step {snapshot.step:,}")

    @Slot(object)
    def on_epoch_end(self, event: EpochEnd) -> None:
        if not self.active:
            return
        if self._curves and event.epoch <= self._curves[-1][0]:
            self._curves = []  # a new run from scratch
        self._curves.append((event.epoch, event.train_loss, event.val.loss))
        self._epoch_label = f"Epoch {event.epoch:,} of {event.epochs:,}"
        self._schedule(grids=False)

    @Slot(object)
    def on_progress(self, event: BatchProgress) -> None:
        if not self.active:
            return
        self._epoch_label = f"Epoch {event.epoch:,} · step {event.step:,}"
        self._schedule(grids=False)

    def _on_weight_edited(self, layer: int, row: int, col: int, value: float) -> None:
        if self.state.training:
            self._show_message("Stop training to edit weights.")
            return
        model = self.state.ensure_model()
        with torch.no_grad():
            linear = model.linears[layer]
            if col < 0:
                linear.bias[row] = value
            else:
                linear.weight[row, col] = value
        self.state.set_model(model)  # every view re-reads the weights
        self.refresh()
        self._show_losses_now("weights edited by hand")

    # ---------------------------------------------------------------- drawing frames

    def _schedule(self, grids: bool = True) -> None:
        """Redraw soon: at once if the last frame is FRAME_MS old, else when it will be.

        grids=False: only the texts and curves changed (progress, epoch ends), not the weights.
        """
        self._grids_dirty |= grids
        since = (time.perf_counter() - self._frame_time) * 1000
        self._wake_in(FRAME_MS - since)

    def _wake_in(self, ms: float) -> None:
        """Run the next frame in `ms` at the latest (an earlier wake-up stays)."""
        ms = int(max(0.0, ms))
        if not self._timer.isActive() or self._timer.remainingTime() > ms:
            self._timer.start(ms)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._schedule()

    def display_model(self) -> MLP | None:
        """The model the views show: the live copy while training, else state.model (or the
        spec's freshly initialised network, which is what training would start from)."""
        pg_data = self.playground
        if pg_data is None or not self.active:
            return None
        spec = self.state.spec
        if spec.input_size != len(pg_data.feature_names) or spec.problems():
            return None
        if self.state.training:
            return self._shadow
        model = self.state.model
        if model is not None and model.spec.input_size == spec.input_size:
            return model
        if self._fresh is None or self._fresh[0] != spec:
            self._fresh = (spec, build_model(spec))
        return self._fresh[1]

    def _frame(self) -> None:
        if self.isVisible():  # a hidden panel draws when shown again (showEvent)
            self.refresh(self._grids_dirty)

    def refresh(self, grids: bool = True) -> None:
        """Redraw the curves and texts now, and (grids) recompute the boundary and neurons."""
        now = time.perf_counter()
        if self._curves_shown != self._curves and (
            not self.state.training or now - self._curves_time >= CURVES_MS / 1000
        ):
            self._curves_shown, self._curves_time = list(self._curves), now
            self.live.set_curves(np.array(self._curves).reshape(-1, 3), self._test_label())
        elif self._curves_shown != self._curves:  # catch up a little later
            self._wake_in(CURVES_MS - (now - self._curves_time) * 1000 + 1)
        if self.network.fast:  # antialiased links again once the weights stop changing
            quiet = (now - self._snapshot_time) * 1000
            if quiet >= SETTLE_MS:
                self.network.fast = False
                self.network.update()
            else:
                self._wake_in(SETTLE_MS - quiet + 1)
        self.live.caption.setText(self._caption())
        if not grids:
            return
        self._grids_dirty = False
        pg_data, model = self.playground, self.display_model()
        if pg_data is None or model is None or self._inputs is None:
            self.live.boundary.set_image(None)
            self._show_network(None)
            return
        task = pg_data.data.task
        loss = self.state.train_config.loss
        hover = self.network.hovered  # full-resolution neurons only while one is shown large
        decision, neurons = network_grids(
            model, self._inputs, loss, task, RESOLUTION, 1 if hover else NEURON_STEP
        )
        shown = self._hover_image(hover, decision, neurons) if hover else None
        if hover:
            neurons = [g[:, ::NEURON_STEP, ::NEURON_STEP] for g in neurons]
        if shown is None:
            shown = decision_rgb(decision, task, self._value_scale())
        self.live.boundary.set_image(shown)
        now = time.perf_counter()
        wait = NETWORK_MS / 1000 - (now - self._network_drawn)
        if not self.state.training or wait <= 0:
            self._network_drawn = now
            self._show_network(model, decision, neurons)
        else:  # the neurons catch up with this frame's weights a little later
            self._grids_dirty = True
            self._wake_in(wait * 1000 + 1)
        self.frames_drawn += 1
        self._frame_time = time.perf_counter()

    def _caption(self) -> str:
        if self.playground is None:
            return " "
        spec = self.state.spec
        parts = [self._epoch_label] if self._epoch_label else []
        parts.append(describe(spec))
        hover = self.network.hovered
        if hover is not None and self.network.columns:
            column, index = hover
            names = self.network.columns[column].names
            if index < len(names):
                parts.append(f"showing {names[index]}")
        return " · ".join(parts)

    def _on_node_hovered(self, _node) -> None:
        self._schedule()

    def _hover_image(
        self, hover: tuple[int, int], decision: np.ndarray, neurons: list[np.ndarray]
    ) -> np.ndarray | None:
        """The big view shows one node over the plane while the mouse rests on its tile."""
        column, index = hover
        pg_data = self.playground
        if column == 0:
            name = pg_data.feature_names[index]
            grid = feature_grids([name], pg_data.points.extent, RESOLUTION)[0]
            return diverging(grid, float(np.abs(grid).max()) or 1.0, pale=True)
        if column <= len(neurons):
            layer = neurons[column - 1]
            if index >= len(layer):
                return None
            scale = max(1.0, float(np.abs(layer[:MAX_SHOWN]).max()))
            return diverging(layer[index], scale, pale=True)
        if pg_data.data.task == "regression":
            return None  # the output is what the view shows anyway
        probs = np.stack([1 - decision, decision], -1) if decision.ndim == 2 else decision
        if index >= probs.shape[-1]:
            return None
        return tint(probs[..., index], class_color(index), pale=True)

    def _show_network(self, model: MLP | None, decision=None, neurons=None) -> None:
        pg_data = self.playground
        if model is None or pg_data is None:
            self.network.clear()
            return
        names = [FEATURE_LABELS[n] for n in pg_data.feature_names]
        columns = [
            Column(
                "Inputs",
                f"{len(names)} features",
                self._feature_tiles[:MAX_SHOWN],
                len(names),
                names[:MAX_SHOWN],
                names,
            )
        ]
        for k, (grid, layer) in enumerate(zip(neurons, model.spec.hidden, strict=True), start=1):
            shown = grid[:MAX_SHOWN]
            scale = max(1.0, float(np.abs(shown).max()) if shown.size else 1.0)
            columns.append(
                Column(
                    f"Layer {k}",
                    f"{layer.units} {layer.activation.name}",
                    diverging(shown, scale),
                    layer.units,
                    [],
                    [f"neuron {i + 1} of layer {k}" for i in range(len(shown))],
                )
            )
        columns.append(self._output_column(decision, pg_data))
        self.network.set_columns(columns)
        self.network.set_weights(
            [lin.weight.detach().cpu().numpy() for lin in model.linears],
            [lin.bias.detach().cpu().numpy() for lin in model.linears],
        )

    def _output_column(self, decision: np.ndarray, pg_data: PlaygroundData) -> Column:
        small = decision[::NEURON_STEP, ::NEURON_STEP]
        names = pg_data.data.class_names
        if pg_data.data.task == "regression":
            tiles = diverging(small, self._value_scale())[None]
            return Column("Output", "value", tiles, 1, [names[0]], [f"output {names[0]}"])
        probs = np.stack([1 - small, small], -1) if small.ndim == 2 else small
        shown = min(probs.shape[-1], MAX_SHOWN)
        tiles = np.stack([tint(probs[..., k], class_color(k)) for k in range(shown)])
        labels = [f"P({n})" for n in names[:shown]]
        return Column(
            "Output",
            "probability",
            tiles,
            probs.shape[-1],
            labels,
            [f"output for class {n}" for n in names[:shown]],
        )

    # ---------------------------------------------------------------- pinning

    def toggle_pin(self) -> None:
        if self.pinned.isVisible():
            self.pinned.setVisible(False)
            self.pin_button.setText("Pin this run")
            self.middle.setColumnStretch(1, 3)
            return
        self.pin()

    def pin(self) -> None:
        """Freeze the live boundary, points and curves in the second view."""
        self.refresh()  # the newest weights and texts, not the last frame's
        live, pinned = self.live.boundary, self.pinned.boundary
        pinned.set_extent(live.extent)
        pinned.set_image(live.image())
        pinned.set_points(*live.points, light_rims=live.light_rims)
        pinned.set_test_visible(self.show_test.isChecked())
        self.pinned.set_curves(self.live.curves, self.live.test_label)
        features = ", ".join(FEATURE_LABELS[n] for n in self.feature_names)
        stamp = time.strftime("%H:%M:%S")
        self.pinned.caption.setText(f"{self.live.caption.text()} · {features} · pinned {stamp}")
        self.pinned.setVisible(True)
        self.pin_button.setText("Unpin")
        self.middle.setColumnStretch(1, 2)  # two boundaries side by side need the room

    # ---------------------------------------------------------------- bits

    def _show_message(self, text: str, error: bool = True) -> None:
        self.message.show_message(text, Level.ERROR if error else Level.INFO)

    def _update_controls(self) -> None:
        generated = self.mode == "dataset"
        training = self.state.training
        for w in (
            self.noise_label,
            self.noise_slider,
            self.noise_value,
            self.points_label,
            self.points_spin,
            self.regenerate_button,
        ):
            w.setVisible(generated)
        show_classes = self.mode == "draw" or (generated and self.dataset == "spiral")
        self.classes_label.setVisible(show_classes)
        self.classes_spin.setVisible(show_classes)
        self.classes_label.setText("Classes" if self.mode == "draw" else "Arms")
        self.draw_bar.setVisible(self.mode == "draw")
        for w in (
            self.dataset_combo,
            self.classes_spin,
            self.noise_slider,
            self.points_spin,
            self.ratio_slider,
            self.regenerate_button,
            self.clear_button,
            *self.feature_boxes.values(),
        ):
            w.setEnabled(not training)
        for k, button in enumerate(self.class_buttons):
            button.setVisible(k < self.classes_spin.value())
        self.network.set_editable(not training)
        other = self.state.source != "playground"
        if other:
            self.banner.show_message(f"The studio trains on {SOURCES[self.state.source]}, not "
                                     "on these points.", Level.INFO)
        elif self.state.data is None and self.playground is not None:
            self.banner.show_message("The studio has no data yet: use these points?", Level.INFO)
        else:
            self.banner.clear()
        self.use_button.setEnabled(not training and self.playground is not None)
        if self.mode == "draw" and self.playground is None and not self.message.text():
            self._show_message(
                "Click on the plane to add points: training needs at least "
                "one training and one test point.",
                error=False,
            )
