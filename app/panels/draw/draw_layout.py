"""The Draw dock's widgets (canvas, tools, steps, bars, layer maps), built once."""

from __future__ import annotations

from mlp_studio.app.panels.draw.digit_views import ActivationMap, ImageTile, ProbabilityBars
from mlp_studio.app.panels.draw.drawing_canvas import MAX_BRUSH, MIN_BRUSH, DrawingCanvas
from mlp_studio.app.widgets.background import Background
from mlp_studio.app.widgets.banner import Banner
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QStackedLayout,
    QVBoxLayout,
    QWidget,
)


def heading(text: str) -> QLabel:
    label = QLabel(text)
    font = QFont(label.font())
    font.setBold(True)
    label.setFont(font)
    label.setContentsMargins(0, 6, 0, 0)
    return label


def arrow() -> QLabel:
    label = QLabel("→")
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
    # Centred on the tiles' images, not on their images plus two caption lines.
    label.setContentsMargins(0, 0, 0, 2 * label.fontMetrics().height())
    return label


class DrawLayout:
    """DrawPanel's widgets and their layout; the panel connects and fills them."""

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
                steps.addWidget(arrow())
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
        right.addWidget(heading("From drawing to network input"))
        right.addLayout(steps)
        right.addWidget(heading("Inside the network"))
        right.addLayout(self._network_row)

        self.draw_page = QWidget()
        layout = QHBoxLayout(self.draw_page)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(16)
        layout.addLayout(left, 5)
        layout.addLayout(right, 6)
        # Shown instead of the canvas when the network does not take a grayscale picture.
        self.not_drawable = QLabel()
        self.not_drawable.setWordWrap(True)
        self.not_drawable.setTextFormat(Qt.TextFormat.RichText)
        self.not_drawable.setMaximumWidth(620)
        self.not_drawable_page = QWidget()
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.not_drawable, 4)
        row.addStretch(1)
        page = QVBoxLayout(self.not_drawable_page)
        page.addStretch(1)
        page.addLayout(row)
        page.addStretch(2)
        self.pages = QStackedLayout(self)
        self.pages.addWidget(self.draw_page)
        self.pages.addWidget(self.not_drawable_page)
