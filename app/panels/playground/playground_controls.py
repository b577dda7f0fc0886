"""The Playground dock's widgets (data and feature controls, the neuron grid, the runs), built
once."""

from __future__ import annotations

import numpy as np
from mlp_studio.app.panels.playground.neuron_grid_view import NeuronGridView, _qimage
from mlp_studio.app.panels.playground.playground_colors import class_color, diverging
from mlp_studio.app.panels.playground.run_view import RunView, swatch_icon
from mlp_studio.app.widgets.banner import Banner
from mlp_studio.app.widgets.suggestion_bar import SuggestionBar
from mlp_studio.core.playground import (
    CLASS_NAMES,
    DATASET_LABELS,
    DATASETS,
    EXTENT,
    FEATURE_LABELS,
    FEATURES,
)
from mlp_studio.core.playground_grids import feature_grids
from mlp_studio.core.playground_settings import DRAW_CLASSES, RANGES
from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon, QPalette, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
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

SLIDER_WIDTH = 60  # px: noise and training share; the row must fit a 1280-pixel-wide window


class PlaygroundControls:
    """PlaygroundPanel's widgets and their layout; the panel connects and fills them."""

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
        self.noise_slider.setFixedWidth(SLIDER_WIDTH)
        self.noise_slider.setToolTip("Noise, as in TensorFlow Playground (0-50 %)")
        self.noise_value = QLabel("50")
        self.noise_value.setMinimumWidth(self.noise_value.sizeHint().width())  # a steady row
        self.noise_value.setText("0")
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
        self.ratio_slider.setFixedWidth(SLIDER_WIDTH)
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
        self.classes_label.setMinimumWidth(self.classes_label.sizeHint().width())  # or "Arms"
        # The room for the spiral's arms is kept when they are hidden: the window's columns
        # are split once, for the panel's width, and a wider row would need a scroll bar.
        for w in (self.classes_label, self.classes_spin):
            policy = w.sizePolicy()
            policy.setRetainSizeWhenHidden(True)
            w.setSizePolicy(policy)
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
            button.setIcon(swatch_icon(class_color(k)))
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
