"""What the network does with one validation sample: input, each hidden layer, output.

The input image on the left; on the right each hidden layer's activations as a heatmap strip
(one cell per unit) and the class probabilities as bars. While training, the values come from
Snapshot.activations of the probe sample (the shell forwards `probeChanged` to the controller's
set_probe); otherwise the view runs the current model on the sample itself.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import torch
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.panels.training.live_plots import SERIES_COLORS, PlotPanel
from mlp_studio.app.panels.training.plot_export import ExportTarget, export_svg, route_scene_export
from mlp_studio.app.widgets.sign_colors import signed_colormap
from mlp_studio.core.losses import probabilities
from mlp_studio.core.model import activations_of
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

SEQUENTIAL = "viridis"  # non-negative activations (ReLU, sigmoid, ...)
CORRECT_COLOR = QColor(SERIES_COLORS[2])
WRONG_COLOR = QColor(SERIES_COLORS[3])
OTHER_COLOR = QColor(SERIES_COLORS[0])


class ActivationsView(PlotPanel):

    def __init__(self, state: Experiment, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self._rng = np.random.default_rng()
        self._acts: list[np.ndarray] | None = None  # hidden [units] ..., then outputs [C]
        self._stale = False  # _acts are not of the model's weights yet (see refresh)
        self._layer_plots: list[pg.PlotItem] = []
        self._layer_images: list[pg.ImageItem] = []

        self.index = QSpinBox()
        self.index.setKeyboardTracking(False)
        self.index.setToolTip("Index of the sample in the validation set")
        self.random_button = QPushButton("Random")
        self.random_button.setToolTip("Pick a random validation sample")
        self.verdict = QLabel("")
        self.verdict.setTextFormat(Qt.TextFormat.RichText)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Validation sample"))
        controls.addWidget(self.index)
        controls.addWidget(self.random_button)
        controls.addSpacing(12)
        controls.addWidget(self.verdict, 1)

        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.ci.setSpacing(6)
        self.input_plot = pg.PlotItem(title="input")
        self.input_plot.hideAxis("left")
        self.input_plot.hideAxis("bottom")
        self.input_plot.setMenuEnabled(False)
        self.input_plot.setMouseEnabled(False, False)
        self.input_plot.hideButtons()
        self.input_plot.getViewBox().setAspectLocked(True)
        self.input_plot.getViewBox().invertY(True)
        self.input_image = pg.ImageItem(axisOrder="row-major")
        self.input_plot.addItem(self.input_image)
        self.input_plot.setMaximumWidth(200)
        self.output_plot = pg.PlotItem(title="output probabilities")
        self.output_plot.setMenuEnabled(False)
        self.output_plot.setMouseEnabled(False, False)
        self.output_plot.hideButtons()
        self.output_plot.setYRange(0, 1, padding=0.02)
        self.output_plot.setLabel("left", "p")
        self.output_bars = pg.BarGraphItem(x=[], height=[], width=0.7)
        self.output_plot.addItem(self.output_bars)
        self.plots = []  # not PlotWidgets: exported through the canvas below
        route_scene_export(self.canvas, self.export_targets()[0])

        self.hint = QLabel("")
        self.hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.hint)
        layout.addWidget(self.footer(
            "Each strip is one hidden layer, one cell per unit, coloured by its output for this "
            "sample. Most ReLU units stay dark (0): the network uses a sparse code. While "
            "training, watch the strips and the probabilities settle."
        ))  # fmt: skip

        self.index.valueChanged.connect(self._on_index)
        self.random_button.clicked.connect(self.pick_random)
        state.dataChanged.connect(self._on_data)
        state.modelChanged.connect(lambda _model: self.refresh())
        state.specChanged.connect(lambda _spec: self.refresh())
        state.trainingChanged.connect(lambda active: None if active else self.refresh())
        self._on_data(state.data)
        self.apply_theme()

    # ---- export: the whole canvas ----

    def export_targets(self) -> list[ExportTarget]:
        return [ExportTarget("Activations", ("png", "svg"), self.export_image)]

    def export_image(self, path) -> object:
        if str(path).lower().endswith(".svg"):
            return export_svg(self.canvas, path)
        if not self.canvas.grab().save(str(path)):
            raise OSError("the image could not be written")
        return path

    # ---- the sample ----

    def sample_index(self) -> int | None:
        data = self.state.data
        if data is None or len(data.x_val) == 0:
            return None
        return self.index.value()

    def probe(self) -> np.ndarray | None:
        """The chosen sample, normalized, [1, D] (a copy), or None without data."""
        return self.state.probe()

    def set_index(self, index: int) -> None:
        self.index.setValue(index)

    def pick_random(self) -> None:
        data = self.state.data
        if data is None or len(data.x_val) < 2:
            return
        # Another sample than the one shown: a repeat looked like a button that did nothing.
        pick = int(self._rng.integers(len(data.x_val) - 1))
        self.index.setValue(pick + 1 if pick >= self.index.value() else pick)

    def _on_data(self, data) -> None:
        has = data is not None and len(data.x_val) > 0
        self.index.blockSignals(True)
        self.index.setRange(0, len(data.x_val) - 1 if has else 0)
        self.index.blockSignals(False)
        self.index.setEnabled(has)
        self.random_button.setEnabled(has)
        self._on_index()

    def _on_index(self, *_args) -> None:
        self.state.set_probe_index(self.sample_index())  # the controller and diagram follow
        self.refresh()

    # ---- activations in ----

    def show_activations(self, activations: list[np.ndarray] | None) -> None:
        """From Snapshot.activations: per hidden layer [P, units], then outputs [P, C]."""
        if activations:
            self._acts = [np.array(a[0], dtype=np.float32) for a in activations]
            self._stale, self.dirty = False, True

    def refresh(self) -> None:
        """Run the current model on the sample (not while a run trains: the worker owns it and
        snapshots bring its activations; paused, the model holds what the views show). Out of
        sight (another tab in front), that waits until the Training panel redraws this tab."""
        if self.state.run_owns_model:
            return
        if not self.isVisible() and self.parentWidget() is not None:
            self._stale = self.dirty = True
            return
        self._compute()
        self.redraw()

    def _compute(self) -> None:
        self._stale = False
        model, x = self.state.model, self.probe()
        if model is None or x is None or model.spec.input_size != x.shape[1]:
            self._acts = None
        else:
            out, acts = activations_of(model, torch.from_numpy(x))
            self._acts = [a[0].cpu().numpy().copy() for a in [*acts, out]]

    # ---- drawing ----

    def _build_rows(self, sizes: list[int]) -> None:
        """(Re)create one heatmap strip per hidden layer; only when the layer sizes change."""
        self.canvas.clear()
        self._layer_plots, self._layer_images = [], []
        hidden = len(sizes)
        self.canvas.addItem(self.input_plot, row=0, col=0, rowspan=hidden + 1)
        for i in range(hidden):
            plot = pg.PlotItem()
            plot.hideAxis("left")
            plot.setMenuEnabled(False)
            plot.setMouseEnabled(False, False)
            plot.hideButtons()
            plot.setMaximumHeight(90)
            image = pg.ImageItem(axisOrder="row-major")
            plot.addItem(image)
            self.canvas.addItem(plot, row=i, col=1)
            self._layer_plots.append(plot)
            self._layer_images.append(image)
        self.canvas.addItem(self.output_plot, row=hidden, col=1)
        self._sizes = sizes
        self.apply_theme()

    def redraw(self) -> None:
        if self._stale and not self.state.run_owns_model:
            self._compute()
        self.dirty = False
        data, i = self.state.data, self.sample_index()
        acts = self._acts
        sizes = [] if acts is None else [len(a) for a in acts[:-1]]
        if getattr(self, "_sizes", None) != sizes:
            self._build_rows(sizes)
        self._draw_input(data, i)
        if acts is None:
            self.output_bars.setOpts(x=[], height=[])
            self.verdict.setText("")
            self.hint.setText(self._why_empty())
            self.hint.setVisible(True)
            return
        self.hint.setVisible(False)
        names = [h.activation.name for h in self.state.spec.hidden]
        for k, (plot, image, a) in enumerate(
            zip(self._layer_plots, self._layer_images, acts[:-1], strict=True)
        ):
            finite = a[np.isfinite(a)]
            low = float(finite.min()) if finite.size else 0.0
            high = float(finite.max()) if finite.size else 1.0
            if low < 0:
                m = max(abs(low), abs(high), 1e-6)
                image.setColorMap(signed_colormap())
                image.setImage(a[None, :], levels=(-m, m))
            else:
                image.setColorMap(pg.colormap.get(SEQUENTIAL))
                image.setImage(a[None, :], levels=(0, max(high, 1e-6)))
            act = f" · {names[k]}" if len(names) == len(acts) - 1 else ""
            if low < 0:
                spread = f"from {low:.3g} to {high:.3g}"
            else:
                spread = f"{int((a > 0).sum())} above 0 · max {high:.3g}"
            plot.setTitle(
                f"hidden {k + 1}{act} · {len(a)} units · {spread}",
                size="9pt", color=self.palette().color(QPalette.ColorRole.Text),
            )  # fmt: skip
            plot.setXRange(0, len(a), padding=0)
        loss = self.state.train_config.loss
        if data is not None and data.task == "regression":  # a value, not class probabilities
            self._show_value(acts[-1], data, i)
            return
        probs = probabilities(loss, torch.from_numpy(acts[-1][None, :]))[0].numpy()
        c = len(probs)
        predicted = int(probs.argmax())
        true = None
        if data is not None and i is not None and c == data.num_classes:
            true = int(data.y_val[i])
        brushes = [
            CORRECT_COLOR if k == true else WRONG_COLOR if k == predicted else OTHER_COLOR
            for k in range(c)
        ]
        self.output_bars.setOpts(
            x=np.arange(c), height=probs, width=0.7, brushes=brushes, pen=pg.mkPen(None)
        )
        names_c = (data.class_names if data is not None and len(data.class_names) == c
                   else [str(k) for k in range(c)])  # fmt: skip
        self.output_plot.getAxis("bottom").setTicks([list(enumerate(names_c))])
        self.output_plot.setXRange(-0.6, c - 0.4, padding=0)
        verdict = f"predicted <b>{names_c[predicted]}</b> ({probs[predicted]:.1%})"
        if true is not None:
            ok = "✓" if true == predicted else "✗"
            verdict = f"true <b>{names_c[true]}</b> · {verdict} {ok}"
        self.verdict.setText(verdict)

    def _show_value(self, outputs: np.ndarray, data, i) -> None:
        """A regression's output: the predicted value beside the true one."""
        value = float(outputs[0])
        self.output_bars.setOpts(x=[0], height=[value], width=0.7, brushes=[OTHER_COLOR],
                                 pen=pg.mkPen(None))  # fmt: skip
        self.output_plot.getAxis("bottom").setTicks([[(0, data.class_names[0])]])
        self.output_plot.setXRange(-0.6, 0.6, padding=0)
        verdict = f"predicted <b>{value:.4g}</b>"
        if i is not None:
            verdict = f"true <b>{float(data.y_val[i]):.4g}</b> · {verdict}"
        self.verdict.setText(verdict)

    def _draw_input(self, data, i) -> None:
        if data is None or i is None:
            self.input_image.clear()
            return
        if data.raw_val is not None:
            self.input_image.setLookupTable(None)  # plain grey: MNIST as it is
            self.input_image.setImage(data.raw_val[i], levels=(0, 255))
        else:
            x = data.x_val[i : i + 1].numpy()
            m = max(float(np.abs(x).max()), 1e-6)
            self.input_image.setColorMap(signed_colormap())
            self.input_image.setImage(x, levels=(-m, m))

    def _why_empty(self) -> str:
        if self.state.data is None:
            return "Load and prepare a dataset to pick a sample."
        if self.state.training:
            return "Activations appear with the next snapshot from the trainer."
        if self.state.model is None:
            return "Build or train a model to see what each layer does with this sample."
        return "The model does not fit this data (input size differs): rebuild it."

    def apply_theme(self) -> None:
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.Text)
        self.canvas.setBackground(pal.color(QPalette.ColorRole.Base))
        for plot in [self.input_plot, self.output_plot, *self._layer_plots]:
            for name in ("left", "bottom"):
                axis = plot.getAxis(name)
                axis.setPen(pg.mkPen(text))
                axis.setTextPen(pg.mkPen(text))
            if plot.titleLabel.text:
                plot.titleLabel.setText(plot.titleLabel.text, color=text)
