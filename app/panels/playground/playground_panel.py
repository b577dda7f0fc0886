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

import numpy as np
import torch
from mlp_studio.app.model.experiment import SOURCES, Experiment
from mlp_studio.app.panels.playground.playground_controls import PlaygroundControls
from mlp_studio.app.panels.playground.playground_display import FRAME_MS
from mlp_studio.app.panels.playground.playground_points import PlaygroundPoints
from mlp_studio.app.panels.playground.playground_views import PlaygroundViews
from mlp_studio.app.widgets.banner import Level
from mlp_studio.app.widgets.on_screen import WhenOnScreen
from mlp_studio.core.model import MLP, NetworkSpec, build_model
from mlp_studio.core.playground import PlaygroundData, Points
from mlp_studio.core.playground_settings import PlaygroundSettings
from mlp_studio.core.training import BatchProgress, EpochEnd, Snapshot, losses_now
from PySide6.QtCore import QSignalBlocker, QTimer, Signal, Slot
from PySide6.QtWidgets import QWidget

# Settings that suit 2-D problems (Playground trains with batches of 10), applied once when the
# studio switches from other data (MNIST) to the playground.


class PlaygroundPanel(PlaygroundControls, PlaygroundPoints, PlaygroundViews, QWidget):
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
        self._snapshot_step = 0  # the step of the last snapshot in the shadow (0: none yet)
        self._losses_now: tuple[float, float, str] | None = None  # shown until the next epoch
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
        # Behind another dock's tab (Training in front while the playground trains) no frame
        # is drawn; the latest one is when the tab comes to the front.
        self._draw_seen = WhenOnScreen(self, self._draw_frame)

        state.dataChanged.connect(self._on_data_changed)
        state.specChanged.connect(lambda _spec: self._schedule())
        state.modelChanged.connect(lambda _model: self._on_model_changed())
        state.historyReplaced.connect(self._on_history_replaced)
        state.sourceChanged.connect(self._on_source_changed)
        state.playgroundSettingsApplied.connect(self.apply_settings)
        state.trainingChanged.connect(self._on_training_changed)
        state.runStateChanged.connect(self._on_run_state_changed)
        state.trainConfigChanged.connect(lambda _config: self._schedule())
        self._rebuild_points()
        self._update_controls()
        state.set_playground_settings(self.settings())  # what a session would store

    # ---------------------------------------------------------------- widgets

    # ---------------------------------------------------------------- data

    @property
    def train_fraction(self) -> float:
        return self.ratio_slider.value() / 100.0

    def _test_label(self) -> str:
        if self.playground is not None and not self.playground.val_is_test:
            return "Validation"
        return "Test"

    def _value_scale(self) -> float:
        """Colour scale of a regression: the largest |target| (Playground's targets are +-1)."""
        if self.points is None or self.points.task != "regression" or not len(self.points):
            return 1.0
        return max(float(np.abs(self.points.labels).max()), 1e-6)

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
        self._on_history_replaced(self.state.history)
        self._update_controls()

    # ---------------------------------------------------------------- control slots

    def _on_show_test(self, visible: bool) -> None:
        self.live.boundary.set_test_visible(visible)
        self.pinned.boundary.set_test_visible(visible)

    # ---- drawing ----

    # ---------------------------------------------------------------- state and controller

    @Slot(object)
    def _on_data_changed(self, data) -> None:
        self.active = self.playground is not None and data is self.playground.data
        self._update_controls()
        self._schedule()

    def _on_model_changed(self) -> None:
        if not self.state.run_owns_model:  # between runs, or a checkpoint shown while paused
            self._schedule()

    @Slot(object)
    def _on_history_replaced(self, history) -> None:
        """Other weights: their own loss curves (none for fresh weights), no stale epoch;
        nothing while other data trains (those curves are not about these points)."""
        self._losses_now = None
        epochs = history.epochs if self.state.source == "playground" else []
        self._curves = [(r.epoch, r.train_loss, r.val_loss) for r in epochs]
        self._curves_shown = None  # redraw even when equal (the losses label follows)
        n = len(epochs)
        self._epoch_label = f"{n:,} epoch{'s' if n != 1 else ''} trained" if epochs else ""
        self._schedule()

    def _show_losses_now(self, why: str) -> None:
        """After a hand edit or a step: the loss of the weights as they are."""
        pg_data, model = self.playground, self.display_model()
        if pg_data is None or model is None or not self.active:
            return
        train, test = losses_now(model, pg_data.data, self.state.train_config.loss)
        self._losses_now = (train, test, why)
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
        self._snapshot_step = 0
        self._losses_now = None
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
        self._snapshot_step = snapshot.step
        if self.state.run_state == "paused":  # a Step: the last epoch's losses are stale
            self._show_losses_now(f"after step {snapshot.step:,}")

    def _on_run_state_changed(self, run_state: str) -> None:
        # A Step's snapshot arrives before the run says it is paused again.
        if run_state == "paused" and self._shadow is not None and self._snapshot_step:
            self._show_losses_now(f"after step {self._snapshot_step:,}")

    @Slot(object)
    def on_epoch_end(self, event: EpochEnd) -> None:
        if not self.active:
            return
        if self._curves and event.epoch <= self._curves[-1][0]:
            self._curves = []  # a new run from scratch
        self._curves.append((event.epoch, event.train_loss, event.val.loss))
        self._losses_now = None  # this epoch's losses describe the weights again
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
        if self.state.training and self.state.timeline.viewed is None:
            return self._shadow
        model = self.state.model
        if model is not None and model.spec.input_size == spec.input_size:
            return model
        if self._fresh is None or self._fresh[0] != spec:
            self._fresh = (spec, build_model(spec))
        return self._fresh[1]

    def _frame(self) -> None:
        if self.isVisible():  # a hidden panel draws when shown again (showEvent)
            self._draw_seen()

    def _draw_frame(self) -> None:
        self.refresh(self._grids_dirty)

    # ---------------------------------------------------------------- pinning

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
