"""The main window: three docks (network, data, training), menus, toolbar, status bar.

Startup is in two steps so the window is on screen long before torch has loaded: the
constructor builds only the frame (menus, toolbar, status bar "Loading the engine…") and
imports nothing heavy; `load_engine()` then imports torch, the state, the controller and the
panels and builds the docks. `app.main` calls it right after the first paint.
"""

from __future__ import annotations

import importlib
import logging
import math
import threading
from pathlib import Path

from PySide6.QtCore import (
    QByteArray,
    QEvent,
    QObject,
    QPointF,
    QRect,
    QRectF,
    QSettings,
    QSize,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QIcon,
    QIconEngine,
    QKeySequence,
    QPainter,
    QPalette,
    QPen,
    QPixmap,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QSizePolicy,
    QStyle,
    QTabWidget,
    QToolBar,
    QToolButton,
    QWidget,
)

log = logging.getLogger(__name__)

APP_NAME = "MLP Studio"
LAYOUT_VERSION = 1  # bump when dock object names or the default arrangement change
MAX_RECENT = 8
RESOURCES = Path(__file__).resolve().parent.parent / "resources"

# (key, module, class, dock title); the order is the order of View menu entries.
PANELS = (
    ("dataset", "app.dataset_panel", "DatasetPanel", "Data"),
    ("designer", "app.designer", "DesignerPanel", "Network"),
    ("training", "app.training_view", "TrainingView", "Training"),
)

EXPORT_FILTERS = {
    "ONNX model (*.onnx)": ("export_onnx", ".onnx"),
    "TorchScript model (*.pt)": ("export_torchscript", ".pt"),
    "safetensors weights + JSON description (*.safetensors)": (
        "export_safetensors",
        ".safetensors",
    ),
}


def app_icon() -> QIcon:
    return QIcon(str(RESOURCES / "icons" / "mlp-studio.svg"))


class GlyphIconEngine(QIconEngine):
    """Toolbar glyphs drawn in the palette's button-text colour at any size and scale.

    The style's standard media icons are black bitmaps that vanish on dark themes; these
    follow the current palette (and its disabled colour) every time they are painted.
    """

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def clone(self) -> QIconEngine:
        return GlyphIconEngine(self.kind)

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        group = (
            QPalette.ColorGroup.Disabled
            if mode == QIcon.Mode.Disabled
            else QPalette.ColorGroup.Normal
        )
        colour = QApplication.palette().color(group, QPalette.ColorRole.ButtonText)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        side = min(rect.width(), rect.height())
        painter.translate(
            rect.x() + (rect.width() - side) / 2, rect.y() + (rect.height() - side) / 2
        )
        painter.scale(side / 24, side / 24)  # glyphs are drawn on a 24 x 24 grid
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        kind = self.kind
        if kind in ("play", "step"):
            right = 19 if kind == "play" else 15
            painter.drawPolygon(QPolygonF([QPointF(6, 4.5), QPointF(right, 12), QPointF(6, 19.5)]))
            if kind == "step":
                painter.drawRect(QRectF(16, 5, 3, 14))
        elif kind == "pause":
            painter.drawRect(QRectF(6, 5, 4, 14))
            painter.drawRect(QRectF(14, 5, 4, 14))
        elif kind == "stop":
            painter.drawRoundedRect(QRectF(6, 6, 12, 12), 1.5, 1.5)
        elif kind == "reset":
            pen = QPen(colour, 2.4)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawArc(QRectF(5, 5, 14, 14), 100 * 16, 280 * 16)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawPolygon(QPolygonF([QPointF(10, 1.5), QPointF(15.5, 5), QPointF(10, 9)]))
        painter.restore()

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return self.scaledPixmap(size, mode, state, 1.0)

    def scaledPixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float):
        pixmap = QPixmap(size * scale)
        pixmap.setDevicePixelRatio(scale)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        self.paint(painter, QRect(0, 0, size.width(), size.height()), mode, state)
        painter.end()
        return pixmap


def glyph_icon(kind: str) -> QIcon:
    return QIcon(GlyphIconEngine(kind))


def _format_rate(samples_per_second: float) -> str:
    if samples_per_second >= 10_000:
        return f"{samples_per_second / 1000:.0f}k samples/s"
    if samples_per_second >= 1000:
        return f"{samples_per_second / 1000:.1f}k samples/s"
    return f"{samples_per_second:.0f} samples/s"


def _format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s left"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s left"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min left"


class MessageBanner(QFrame):
    """A dismissible, non-modal message across the top of the window (errors, divergence)."""

    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("messageBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        self.icon = QLabel()
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        close = QToolButton()
        close.setAutoRaise(True)
        close.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_TitleBarCloseButton))
        close.setToolTip("Dismiss this message")
        close.clicked.connect(self.dismissed)
        layout.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self._level = ""
        self.hide()

    def show_message(self, text: str, level: str = "warning") -> None:
        pixmap = {
            "error": QStyle.StandardPixmap.SP_MessageBoxCritical,
            "warning": QStyle.StandardPixmap.SP_MessageBoxWarning,
            "info": QStyle.StandardPixmap.SP_MessageBoxInformation,
        }[level]
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        self.icon.setPixmap(self.style().standardIcon(pixmap).pixmap(size, size))
        self.label.setText(text)
        self._level = level
        self._tint(level)
        self.show()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.ApplicationPaletteChange and self._level:
            self._tint(self._level)  # the desktop switched between light and dark
        super().changeEvent(event)

    def _tint(self, level: str) -> None:
        # A hue mixed into the theme's own window colour, so text stays readable in light and
        # dark palettes (text keeps the palette's WindowText colour).
        palette = QApplication.palette()
        base = palette.color(QPalette.ColorRole.Window)
        hue = {"error": (220, 60, 50), "warning": (230, 160, 30), "info": (60, 130, 220)}[level]
        mix = 0.28 if base.lightness() < 128 else 0.22
        tinted = base.fromRgb(
            *(round(c * (1 - mix) + h * mix) for c, h in zip(base.getRgb()[:3], hue, strict=True))
        )
        own = QPalette(palette)
        own.setColor(QPalette.ColorRole.Window, tinted)
        self.setPalette(own)


class _FirstPaintWatcher(QObject):
    """Tells the window when its central widget has painted for the first time."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self._window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            # After this paint's backing-store flush, not during it.
            QTimer.singleShot(0, self._window._on_first_paint)
        return False


class MainWindow(QMainWindow):
    firstPainted = Signal()  # the frame is on screen
    engineLoaded = Signal()  # torch, the panels and the docks are ready

    def __init__(
        self,
        settings: QSettings | None = None,
        parent: QWidget | None = None,
        *,
        autoload_data: bool = True,
    ):
        super().__init__(parent)
        self.settings = settings if settings is not None else QSettings()
        self.autoload_data = autoload_data  # the Data panel loads MNIST from known places
        self.state = None  # app.state.StudioState, once the engine is loaded
        self.controller = None  # app.controller.TrainingController
        self.panels: dict[str, QWidget] = {}
        self.docks: dict[str, QDockWidget] = {}
        self._default_layout: QByteArray | None = None
        self._first_painted = False
        self._load_after_paint = False
        self._engine_loaded = False
        self._closing = False
        self._rate = 0.0  # smoothed samples per second, for the time-left estimate
        self._run_epochs: tuple[int, int] | None = None  # (first epoch, last epoch) of the run
        self._help_dialog = None
        self.session_path: Path | None = None  # the file File > Save session writes
        self._session_created = ""  # kept across saves of the same session
        self._session_source = ""  # where the opened session's MNIST came from

        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(app_icon())
        self.setDockNestingEnabled(True)
        # Tabbed docks show their tabs on top, where people look for them, not at the bottom.
        self.setTabPosition(Qt.DockWidgetArea.AllDockWidgetAreas, QTabWidget.TabPosition.North)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks
            | QMainWindow.DockOption.AllowNestedDocks
            | QMainWindow.DockOption.AllowTabbedDocks
        )
        self._build_actions()
        self._build_menus()
        self._build_toolbars()
        self._build_status_bar()
        self._loading = QLabel("Loading the engine…")
        self._loading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._loading.setEnabled(False)  # the palette's disabled text: a quiet placeholder
        self.setCentralWidget(self._loading)
        self._loading.installEventFilter(_FirstPaintWatcher(self))
        self._restore_geometry()
        self._update_actions("idle")

    # ------------------------------------------------------------------ the frame

    def _action(self, text: str, slot, shortcut=None, tip: str = "", icon=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        if icon is not None:
            action.setIcon(glyph_icon(icon))
        if tip:
            keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            action.setToolTip(f"{tip} ({keys})" if keys else tip)
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        key = QKeySequence.StandardKey
        self.new_session_action = self._action(
            "&New session",
            self.new_session,
            key.New,
            tip="Start over: default network and settings, untrained weights (data stays loaded)",
        )
        self.open_session_action = self._action(
            "&Open session…",
            self.open_session,
            key.Open,
            tip="Continue a saved experiment (.mlps): network, weights, settings and history",
        )
        self.save_session_action = self._action(
            "&Save session",
            self.save_session,
            key.Save,
            tip="Save the whole experiment to its session file",
        )
        self.save_session_as_action = self._action(
            "Save session &as…",
            self.save_session_as,
            key.SaveAs,
            tip="Save the whole experiment to a new session file (.mlps)",
        )
        self.session_actions = [
            self.new_session_action,
            self.open_session_action,
            self.save_session_action,
            self.save_session_as_action,
        ]
        self.import_action = self._action(
            "&Import model…",
            self.import_model,
            tip="Load a network and its weights from a .safetensors file exported by MLP Studio",
        )
        self.export_action = self._action(
            "&Export model…",
            self.export_model,
            "Ctrl+E",
            tip="Save the trained network as ONNX, TorchScript or safetensors",
        )
        self.quit_action = self._action("&Quit", self.close, key.Quit)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)

        self.train_action = self._action(
            "&Train",
            self.train,
            ["Ctrl+Return", "F5"],
            "Train the network on the loaded data",
            "play",
        )
        self.pause_action = self._action(
            "&Pause",
            self.toggle_pause,
            "F6",
            "Pause after the current batch, or resume",
            "pause",
        )
        self.step_action = self._action(
            "&Step",
            self.step,
            "F7",
            "Train on exactly one batch, then stay paused",
            "step",
        )
        self.stop_action = self._action(
            "St&op",
            self.stop,
            "F8",
            "Stop training; the model keeps its best weights so far",
            "stop",
        )
        self.reset_action = self._action(
            "&Reset weights",
            self.reset_weights,
            "Ctrl+Shift+R",
            "Start again from new random weights (the network seed goes up by one; "
            "Edit > Undo brings the previous seed back)",
            "reset",
        )
        self.training_actions = [
            self.train_action,
            self.pause_action,
            self.step_action,
            self.stop_action,
            self.reset_action,
        ]

        self.reset_layout_action = self._action(
            "Reset &layout", self.reset_layout, tip="Put the panels back where they started"
        )
        self.help_action = self._action(
            "&Concepts guide",
            self.show_help,
            key.HelpContents,
            tip="A short guide to every concept on screen",
        )
        self.about_action = self._action("&About MLP Studio", self.show_about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.file_menu = bar.addMenu("&File")
        self.file_menu.addAction(self.new_session_action)
        self.file_menu.addAction(self.open_session_action)
        self.recent_menu = self.file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.file_menu.addAction(self.save_session_action)
        self.file_menu.addAction(self.save_session_as_action)
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.import_action)
        self.file_menu.addAction(self.export_action)
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.quit_action)
        self.edit_menu = bar.addMenu("&Edit")  # filled once the undo stack exists
        self.edit_menu.menuAction().setVisible(False)
        self.train_menu = bar.addMenu("&Train")
        for action in self.training_actions:
            self.train_menu.addAction(action)
        self.view_menu = bar.addMenu("&View")
        self.help_menu = bar.addMenu("&Help")
        self.help_menu.addAction(self.help_action)
        self.help_menu.addSeparator()
        self.help_menu.addAction(self.about_action)

    def _build_toolbars(self) -> None:
        self.toolbar = QToolBar("Training controls", self)
        self.toolbar.setObjectName("trainingToolBar")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toolbar.setIconSize(QSize(18, 18))
        for action in self.training_actions:
            if action is self.reset_action:
                self.toolbar.addSeparator()
            self.toolbar.addAction(action)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)

        # Messages live in a fixed strip under the toolbar: visible, non-modal, dismissible.
        self.banner = MessageBanner(self)
        self.banner_bar = QToolBar("Messages", self)
        self.banner_bar.setObjectName("messageBar")
        self.banner_bar.setMovable(False)
        self.banner_bar.setFloatable(False)
        self.banner_bar.toggleViewAction().setVisible(False)
        self.banner_bar.addWidget(self.banner)
        self.banner_bar.hide()
        self.addToolBarBreak(Qt.ToolBarArea.TopToolBarArea)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.banner_bar)
        self.banner.dismissed.connect(self._hide_banner)

        self.view_menu.addAction(self.toolbar.toggleViewAction())

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_label = QLabel("Loading the engine…")
        self.progress_bar = QProgressBar()
        self.progress_bar.setFixedWidth(260)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFormat("Not trained yet")
        self.progress_bar.setValue(0)
        self.rate_label = QLabel()
        self.eta_label = QLabel()
        self.device_label = QLabel()
        self.device_label.setToolTip("Where training runs, and how many CPU threads it uses")
        bar.addWidget(self.status_label, 1)
        for widget in (self.progress_bar, self.rate_label, self.eta_label, self.device_label):
            bar.addPermanentWidget(widget)

    def _restore_geometry(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and self.restoreGeometry(geometry):
            return
        screen = QApplication.primaryScreen()
        if screen is not None:
            available = screen.availableGeometry()
            self.resize(
                min(1440, int(available.width() * 0.9)), min(900, int(available.height() * 0.9))
            )
        else:
            self.resize(1440, 900)

    # ------------------------------------------------------------------ loading the engine

    def load_engine_after_first_paint(self) -> None:
        """Load torch and the panels once the frame is on screen (the app's startup path)."""
        self._load_after_paint = True
        if self._first_painted:
            QTimer.singleShot(0, self.load_engine)
        else:
            # Minimised or never exposed: do not wait for a paint forever.
            QTimer.singleShot(1500, self.load_engine)

    @Slot()
    def _on_first_paint(self) -> None:
        if self._first_painted:
            return
        self._first_painted = True
        self.firstPainted.emit()
        if self._load_after_paint:
            QTimer.singleShot(0, self.load_engine)

    @Slot()
    def load_engine(self) -> None:
        """Import torch and the panels, build the docks; idempotent."""
        if self._engine_loaded or self._closing:
            return
        self._engine_loaded = True
        QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        try:
            _import_in_background("torch")  # keeps the frame repainting while torch loads
            if self._closing:  # closed while torch was loading
                return
            from app.controller import TrainingController
            from app.state import StudioState

            self.state = StudioState(self)
            self.controller = TrainingController(self.state, self)
            self._build_edit_menu()
            self._build_docks()
            self._wire()
        finally:
            QApplication.restoreOverrideCursor()
        self._update_device_label()
        self._update_actions("idle")
        self.status_label.setText(
            "Ready: load MNIST in the Data panel, design a network, then press Train."
            if self.state.data is None
            else "Ready"
        )
        self.engineLoaded.emit()

    def _build_edit_menu(self) -> None:
        stack = self.state.undo_stack
        self.undo_action = stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts(QKeySequence.StandardKey.Undo)
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts(QKeySequence.StandardKey.Redo)
        self.edit_menu.addAction(self.undo_action)
        self.edit_menu.addAction(self.redo_action)
        self.edit_menu.menuAction().setVisible(True)

    def _build_docks(self) -> None:
        for key, module_name, class_name, title in PANELS:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as err:
                if err.name != module_name:
                    raise
                log.warning("%s is missing: the %s panel is not shown", module_name, title)
                continue
            cls = getattr(module, class_name)
            if key == "dataset":
                panel = cls(self.state, autoload=self.autoload_data)
            else:
                panel = cls(self.state)
            dock = QDockWidget(title, self)
            dock.setObjectName(f"{key}Dock")
            dock.setWidget(panel)
            dock.setFeatures(
                QDockWidget.DockWidgetFeature.DockWidgetMovable
                | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                | QDockWidget.DockWidgetFeature.DockWidgetClosable
            )
            self.panels[key], self.docks[key] = panel, dock

        # Default arrangement: data and network share the left column as tabs (one is set up
        # before training, the other watched during it), the training view fills the right.
        self.takeCentralWidget().deleteLater()
        left = [self.docks[k] for k in ("dataset", "designer") if k in self.docks]
        right = self.docks.get("training")
        for dock in left:
            self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        if len(left) == 2:
            self.tabifyDockWidget(left[0], left[1])
            left[0].raise_()
        if right is not None:
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, right)
        if left and right is not None:
            width = self.width()
            self.resizeDocks(
                [left[0], right], [int(width * 0.42), int(width * 0.58)], Qt.Orientation.Horizontal
            )

        actions = self.view_menu.actions()
        first = actions[0] if actions else None
        for key, _, _, title in PANELS:
            if key in self.docks:
                toggle = self.docks[key].toggleViewAction()
                toggle.setText(f"{title} panel")
                self.view_menu.insertAction(first, toggle)
        self.view_menu.insertSeparator(first)
        self.view_menu.addSeparator()
        self.view_menu.addAction(self.reset_layout_action)

        for dock in self.docks.values():
            dock.show()  # children added to a visible window stay hidden until shown
        self._default_layout = self.saveState(LAYOUT_VERSION)
        saved = self.settings.value("window/state")
        if isinstance(saved, QByteArray):
            self.restoreState(saved, LAYOUT_VERSION)

    def _wire(self) -> None:
        c, state = self.controller, self.state
        c.stateChanged.connect(self._update_actions)
        c.stateChanged.connect(self._on_run_state)
        c.progress.connect(self._on_progress)
        c.epochEnded.connect(self._on_epoch_end)
        c.diverged.connect(self._on_diverged)
        c.failed.connect(self._on_failed)
        c.finished.connect(self._on_finished)
        state.dataChanged.connect(self._on_data_changed)
        state.modelChanged.connect(self._on_model_changed)
        state.trainConfigChanged.connect(lambda _config: self._update_device_label())

        training = self.panels.get("training")
        if training is not None:
            c.progress.connect(training.on_progress)
            c.layerStats.connect(training.on_layer_stats)
            c.snapshot.connect(training.on_snapshot)
            c.epochEnded.connect(training.on_epoch_end)
            c.finished.connect(training.on_finished)
            c.diverged.connect(training.on_diverged)
            training.probeChanged.connect(self._on_probe_changed)
        designer = self.panels.get("designer")
        if designer is not None:
            c.snapshot.connect(designer.show_snapshot)
        dataset = self.panels.get("dataset")
        if dataset is not None:
            dataset.statusMessage.connect(lambda text: self.statusBar().showMessage(text, 8000))
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._shutdown)

    # ------------------------------------------------------------------ training controls

    @Slot(object)
    def _on_probe_changed(self, x) -> None:
        """The training view's activations sample: into every snapshot, and the diagram."""
        self.controller.set_probe(x)
        training, designer = self.panels.get("training"), self.panels.get("designer")
        data = self.state.data
        if designer is None or data is None or data.raw_val is None:
            return
        index = training.activations.sample_index()
        if index is not None and index < len(data.raw_val):
            designer.set_probe_sample(data.raw_val[index], 0)

    def _prepare_probe(self) -> None:
        training = self.panels.get("training")
        if training is not None and training.probe() is not None:
            self._on_probe_changed(training.probe())

    @Slot()
    def train(self) -> None:
        if self.controller is None or self.controller.running:
            return
        self._hide_banner()
        self._prepare_probe()
        self.controller.start()

    @Slot()
    def toggle_pause(self) -> None:
        c = self.controller
        if c is None:
            return
        if c.run_state == "paused":
            c.resume()
        elif c.run_state == "running":
            if c.trainer is not None and c.trainer.paused:
                c.resume()  # a pause was asked for but has not landed yet: undo it
            else:
                c.pause()

    @Slot()
    def step(self) -> None:
        if self.controller is not None:
            if not self.controller.running:
                self._hide_banner()
                self._prepare_probe()
            self.controller.step()

    @Slot()
    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()

    @Slot()
    def reset_weights(self) -> None:
        """New random weights: bump the network seed (undoable, visible in the designer)."""
        if self.state is None or self.state.training:
            return
        spec = self.state.spec
        problems = spec.problems()
        if problems:
            self._show_message("Cannot reset the weights: " + " ".join(problems), "warning")
            return
        spec.seed = spec.seed + 1
        self.state.edit_spec(spec, f"Reset weights (seed {spec.seed})")
        self.state.ensure_model()
        self.statusBar().showMessage(f"New random weights from seed {spec.seed}.", 5000)

    @Slot(str)
    def _update_actions(self, run_state: str) -> None:
        loaded = self.controller is not None
        idle = run_state == "idle"
        active = run_state in ("running", "paused")
        self.train_action.setEnabled(loaded and idle)
        self.pause_action.setEnabled(loaded and active)
        self.step_action.setEnabled(loaded and (idle or active))
        self.stop_action.setEnabled(loaded and active)
        self.reset_action.setEnabled(loaded and idle)
        paused = run_state == "paused"
        self.pause_action.setText("Resume" if paused else "Pause")
        self.pause_action.setIcon(glyph_icon("play" if paused else "pause"))
        # Anything that replaces the network or reads its weights waits for the run to end.
        self.import_action.setEnabled(loaded and idle)
        self.export_action.setEnabled(loaded and idle)
        for action in self.session_actions:
            action.setEnabled(loaded and idle)
        self.recent_menu.setEnabled(loaded and idle and bool(self.recent_sessions()))
        if loaded:
            stack = self.state.undo_stack
            self.undo_action.setEnabled(idle and stack.canUndo())
            self.redo_action.setEnabled(idle and stack.canRedo())

    @Slot(str)
    def _on_run_state(self, run_state: str) -> None:
        text = {
            "running": "Training…",
            "paused": "Paused: Resume (F6) or Step (F7)",
            "stopping": "Stopping…",
            "idle": "Ready",
        }[run_state]
        if run_state == "running" and self._run_epochs is None:
            trainer = self.controller.trainer
            first = trainer.start_epoch + 1
            self._run_epochs = (first, trainer.start_epoch + trainer.config.epochs)
            self._rate = 0.0
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat(f"Epoch {first}/{self._run_epochs[1]}")
            self.eta_label.clear()
            self.rate_label.clear()
            if trainer.start_epoch == 0 and "training" in self.panels:
                self.panels["training"].reset()  # new weights: the old curves are history
        if run_state == "idle":
            self._run_epochs = None
            self.eta_label.clear()
        self.status_label.setText(text)  # `finished` replaces "Ready" by the run's summary

    @Slot(object)
    def _on_progress(self, event) -> None:
        if self._run_epochs is None:
            return
        first, last = self._run_epochs
        epochs = last - first + 1
        done = (event.epoch - first) * event.batches_per_epoch + event.batch
        total = epochs * event.batches_per_epoch
        self.progress_bar.setValue(int(1000 * done / max(total, 1)))
        self.progress_bar.setFormat(
            f"Epoch {event.epoch}/{last} · batch {event.batch}/{event.batches_per_epoch}"
        )
        rate = event.samples_per_second
        if math.isfinite(rate) and rate > 0:
            self._rate = rate if self._rate == 0 else 0.8 * self._rate + 0.2 * rate
            self.rate_label.setText(_format_rate(self._rate))
            batch_size = max(1, self.controller.trainer.config.batch_size)
            n = len(self.state.data.x_train) if self.state.data is not None else 0
            samples_per_batch = min(batch_size, max(n, 1))
            left = (total - done) * samples_per_batch / self._rate
            self.eta_label.setText(_format_duration(left))

    @Slot(object)
    def _on_epoch_end(self, event) -> None:
        self.statusBar().showMessage(
            f"Epoch {event.epoch}/{event.epochs}: training loss {event.train_loss:.4f}, "
            f"validation accuracy {event.val.accuracy:.2%}",
            4000,
        )

    @Slot(object)
    def _on_diverged(self, event) -> None:
        self._show_message(event.message, "error")

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._show_message(message, "error")

    @Slot(object)
    def _on_finished(self, result) -> None:
        if result.diverged is not None:
            summary = "Diverged"
        elif result.test is not None:
            summary = (
                f"{'Stopped' if result.stopped else 'Finished'}: test accuracy "
                f"{result.test.accuracy:.2%}, loss {result.test.loss:.4f}"
            )
            if result.best_epoch is not None:
                summary += f" (weights of epoch {result.best_epoch}, the best on validation)"
        else:
            summary = "Stopped before the first epoch ended"
        self.status_label.setText(summary)
        if result.diverged is None:
            self.progress_bar.setValue(
                self.progress_bar.maximum() if not result.stopped else self.progress_bar.value()
            )

    @Slot(object)
    def _on_data_changed(self, data) -> None:
        if data is not None and not self.state.training:
            self.status_label.setText(
                f"Data ready: {len(data.x_train):,} training, "
                f"{len(data.x_val):,} validation, {len(data.x_test):,} "
                "test samples. Press Train (F5)."
            )
        self._update_device_label()

    @Slot(object)
    def _on_model_changed(self, model) -> None:
        if self.state.training or self.controller is None:
            return
        if not self.controller.lineage_of(model).epochs_done:
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat("Not trained yet")
            self.rate_label.clear()
            self.eta_label.clear()

    def _update_device_label(self) -> None:
        if self.state is None:
            return
        device = self.state.train_config.device
        if device == "cpu" or device == "auto":
            from core.training import pick_device

            try:
                device = pick_device(device).type
            except Exception:  # noqa: BLE001 - a label must never break the window
                device = "cpu"
        text = device.upper()
        if text == "CPU":
            threads = self.controller.threads
            text += f" · {threads} thread{'s' if threads != 1 else ''}"
        self.device_label.setText(text)

    # ------------------------------------------------------------------ messages

    def _show_message(self, text: str, level: str = "warning") -> None:
        self.banner.show_message(text, level)
        self.banner_bar.show()
        self.statusBar().showMessage(text.split(". ")[0].rstrip(".") + ".", 10_000)

    def _hide_banner(self) -> None:
        self.banner.hide()
        self.banner_bar.hide()

    def message_text(self) -> str:
        """The message the banner shows, or "" (tests and screenshots read it)."""
        return self.banner.label.text() if self.banner_bar.isVisible() else ""

    # ------------------------------------------------------------------ models

    @Slot()
    def export_model(self) -> None:
        if not self._can_export():
            return
        folder = self.settings.value("files/lastModelFolder", str(Path.home()))
        path, chosen = QFileDialog.getSaveFileName(
            self,
            "Export model",
            str(Path(folder) / "mlp-studio-model.onnx"),
            ";;".join(EXPORT_FILTERS),
        )
        if path:
            self.export_model_to(path, chosen)

    def _can_export(self) -> bool:
        if self.state is None or self.state.training:
            return False
        if self.state.data is None:
            self._show_message(
                "Nothing to export yet: load data and train a model first (the "
                "export includes the data's normalization).",
                "info",
            )
            return False
        return True

    def export_model_to(self, path: str, name_filter: str = "") -> Path | None:
        """Export state.model to `path` in the format of `name_filter` (else of its suffix)."""
        if not self._can_export():
            return None
        from core import export
        from core.errors import StudioError

        function, suffix = EXPORT_FILTERS.get(name_filter, (None, None))
        target = Path(path)
        if function is None:
            by_suffix = {s: f for f, s in EXPORT_FILTERS.values()}
            function = by_suffix.get(target.suffix.lower())
            if function is None:
                self._show_message(
                    f"Cannot export to {target.name}: name the file *.onnx, *.pt or *.safetensors.",
                    "warning",
                )
                return None
        elif target.suffix.lower() != suffix:
            target = target.with_name(target.name + suffix)
        data, model = self.state.data, self.state.ensure_model()
        bundle = export.ModelBundle(
            spec=model.spec,
            normalization=data.normalization,
            loss=self.state.train_config.loss,
            class_names=list(data.class_names),
            state_dict={k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        )
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            written = getattr(export, function)(bundle, target)
        except StudioError as err:
            self._show_message(str(err), "error")
            return None
        finally:
            QApplication.restoreOverrideCursor()
        self.settings.setValue("files/lastModelFolder", str(Path(written).parent))
        self.statusBar().showMessage(f"Exported the model to {written}.", 8000)
        return Path(written)

    @Slot()
    def import_model(self) -> None:
        if self.state is None or self.state.training:
            return
        folder = self.settings.value("files/lastModelFolder", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(
            self, "Import model", str(folder), "MLP Studio weights (*.safetensors)"
        )
        if path:
            self.import_model_from(path)

    def import_model_from(self, path: str) -> bool:
        """Replace the network and its weights by those of a .safetensors export."""
        if self.state is None or self.state.training:
            return False
        from core.errors import StudioError
        from core.export import load_bundle
        from core.model import build_model

        try:
            bundle = load_bundle(path)
            model = build_model(bundle.spec)
            model.load_state_dict(bundle.state_dict)
        except StudioError as err:
            self._show_message(str(err), "error")
            return False
        except RuntimeError as err:  # weights that do not fit the described network
            self._show_message(
                f"Cannot import {Path(path).name}: its weights do not match "
                f"its network description ({err}).",
                "error",
            )
            return False
        state = self.state
        state.replace_spec(bundle.spec)
        config = state.train_config
        config.loss = bundle.loss
        state.set_train_config(config)
        data_config = state.data_config
        if data_config.normalization != bundle.normalization.kind:
            data_config.normalization = bundle.normalization.kind
            state.set_data_config(data_config)
        state.set_model(model)
        self.settings.setValue("files/lastModelFolder", str(Path(path).parent))
        note = ""
        data = state.data
        if data is not None and data.num_classes != bundle.spec.output_size:
            note = (
                f" It has {bundle.spec.output_size} outputs but the loaded data has "
                f"{data.num_classes} classes: change the task in the Data panel to train it."
            )
        self.statusBar().showMessage(f"Imported {Path(path).name}.{note}", 10_000)
        if note:
            self._show_message(note.strip(), "info")
        return True

    # ------------------------------------------------------------------ sessions

    def recent_sessions(self) -> list[str]:
        value = self.settings.value("session/recent", [])
        if isinstance(value, str):  # QSettings gives a bare string for a one-item list
            value = [value]
        return [str(v) for v in value or []]

    def _remember_session(self, path: Path) -> None:
        recent = [str(path), *(p for p in self.recent_sessions() if p != str(path))]
        self.settings.setValue("session/recent", recent[:MAX_RECENT])
        self.settings.setValue("session/last", str(path))
        self._update_actions(self.controller.run_state if self.controller else "idle")

    @Slot()
    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for number, path in enumerate(self.recent_sessions(), start=1):
            action = self.recent_menu.addAction(f"&{number} {Path(path).name}")
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _checked=False, p=path: self.open_session_from(p))
        self.recent_menu.addSeparator()
        clear = self.recent_menu.addAction("Clear the list")
        clear.triggered.connect(lambda: self.settings.remove("session/recent"))

    def _session_folder(self) -> str:
        last = self.settings.value("session/last", "")
        return str(Path(last).parent) if last else str(Path.home())

    def _set_session_path(self, path: Path | None) -> None:
        self.session_path = path
        self.setWindowTitle(f"{path.name} – {APP_NAME}" if path else APP_NAME)

    @Slot()
    def new_session(self) -> None:
        """Default network and settings with fresh weights; loaded MNIST stays loaded."""
        if self.state is None or self.state.training:
            return
        from core.data import DataConfig
        from core.model import NetworkSpec
        from core.training import TrainConfig

        state = self.state
        spec = NetworkSpec()
        if state.data is not None:  # keep the network fitting the loaded data
            spec.input_size = int(state.data.x_train.shape[1])
            spec.output_size = state.data.num_classes
        state.set_train_config(TrainConfig())
        state.set_data_config(DataConfig())  # the Data panel prepares the data again
        state.replace_spec(spec)
        state.set_model(None)
        self._set_session_path(None)
        self._session_created = self._session_source = ""
        if "training" in self.panels:
            self.panels["training"].reset()
        self._hide_banner()
        self.status_label.setText("New session.")

    @Slot()
    def open_session(self) -> None:
        if self.state is None or self.state.training:
            return
        path, _ = QFileDialog.getOpenFileName(
            self, "Open session", self._session_folder(), "MLP Studio sessions (*.mlps)"
        )
        if path:
            self.open_session_from(path)

    def open_session_from(self, path: str | Path) -> bool:
        """Load a .mlps session: network, weights, settings, history; its data if needed."""
        if self.state is None or self.state.training:
            return False
        from app.controller import Lineage
        from core.errors import StudioError
        from core.model import build_model
        from core.session import load_session

        path = Path(path)
        try:
            session = load_session(path)
            model = build_model(session.spec)
            model.load_state_dict(session.weights)
        except StudioError as err:
            self._show_message(str(err), "error")
            if not path.exists():  # forget files that are gone
                recent = [p for p in self.recent_sessions() if p != str(path)]
                self.settings.setValue("session/recent", recent)
            return False
        state = self.state
        state.set_train_config(session.train_config)
        state.set_data_config(session.data_config)
        state.replace_spec(session.spec)
        state.set_model(model)
        self.controller.adopt(
            model,
            Lineage(session.history, session.epochs_done, session.best_weights, session.best_epoch),
        )
        state.set_model(model)  # again, now that its lineage is known: views keep its progress
        if "training" in self.panels:
            self.panels["training"].reset()
        self._set_session_path(path)
        self._session_created, self._session_source = session.created, session.data_source
        self._remember_session(path)
        self._hide_banner()
        done = session.epochs_done
        text = f"Opened {path.name}: {done} epoch{'s' if done != 1 else ''} trained."
        dataset = self.panels.get("dataset")
        source = Path(session.data_source) if session.data_source else None
        if state.data is None and dataset is not None:
            if source is not None and source.exists():
                dataset.load_folder(source, remember=False)
                text += f" Loading its data from {source}…"
            else:
                text += " Load MNIST in the Data panel to train it further."
        self.status_label.setText(text)
        return True

    @Slot()
    def save_session(self) -> None:
        if self.session_path is None:
            self.save_session_as()
        else:
            self.save_session_to(self.session_path)

    @Slot()
    def save_session_as(self) -> None:
        if self.state is None or self.state.training:
            return
        start = self.session_path or Path(self._session_folder()) / "experiment.mlps"
        path, _ = QFileDialog.getSaveFileName(
            self, "Save session", str(start), "MLP Studio sessions (*.mlps)"
        )
        if path:
            self.save_session_to(path)

    def save_session_to(self, path: str | Path) -> Path | None:
        """Write the experiment to `path` (".mlps" appended if missing)."""
        if self.state is None or self.state.training:
            return None
        from core.errors import StudioError
        from core.session import SUFFIX, Session, save_session

        path = Path(path)
        if path.suffix.lower() != SUFFIX:
            path = path.with_name(path.name + SUFFIX)
        state = self.state
        problems = state.spec.problems()
        if problems:
            self._show_message("Cannot save the session: " + " ".join(problems), "warning")
            return None
        model = state.ensure_model()
        lineage = self.controller.lineage_of(model)
        data = state.data
        session = Session(
            spec=state.spec,
            weights={k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            data_config=state.data_config,
            train_config=state.train_config,
            normalization=data.normalization if data is not None else None,
            class_names=list(data.class_names)
            if data is not None
            else [str(d) for d in range(state.spec.output_size)],
            history=lineage.history,
            best_weights=lineage.best_state,
            best_epoch=lineage.best_epoch,
            epochs_done=lineage.epochs_done,
            data_source=self._data_source(),
            created=self._session_created if path == self.session_path else "",
        )
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            save_session(session, path)
        except StudioError as err:
            self._show_message(str(err), "error")
            return None
        finally:
            QApplication.restoreOverrideCursor()
        self._set_session_path(path)
        self._session_created = session.created
        self._remember_session(path)
        self.statusBar().showMessage(f"Saved the session to {path}.", 8000)
        return path

    def _data_source(self) -> str:
        """Where the loaded MNIST came from (the Data panel knows), else the session's."""
        mnist = getattr(self.panels.get("dataset"), "_mnist", None)
        return str(getattr(mnist, "source", "") or self._session_source)

    # ------------------------------------------------------------------ layout, help, closing

    @Slot()
    def reset_layout(self) -> None:
        if self._default_layout is not None:
            self.restoreState(self._default_layout, LAYOUT_VERSION)
        for dock in self.docks.values():
            dock.setFloating(False)
            dock.show()
        self.toolbar.show()

    @Slot()
    def show_help(self, topic: str | None = None) -> None:
        from app.help_dialog import HelpDialog

        if self._help_dialog is None:
            self._help_dialog = HelpDialog(self)
        if topic:
            self._help_dialog.show_topic(topic)
        self._help_dialog.show()
        self._help_dialog.raise_()
        self._help_dialog.activateWindow()

    @Slot()
    def show_about(self) -> None:
        from importlib import metadata

        try:
            version = metadata.version("mlp-studio")
        except metadata.PackageNotFoundError:
            version = "development version"
        QMessageBox.about(
            self,
            "About MLP Studio",
            f"<h3>MLP Studio {version}</h3>"
            "<p>Build, train and watch multi-layer perceptrons on MNIST: design a network, "
            "prepare the data, and see the loss, weights, activations and mistakes change "
            "while it learns.</p><p>Help &gt; Concepts guide explains every idea on screen. "
            "The <code>mlp-studio train</code> and <code>mlp-studio predict</code> commands "
            "run the same engine without a window.</p>"
            "<p>Built with PyTorch, Qt for Python (PySide6) and pyqtgraph. MIT licence.</p>",
        )

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        if self._default_layout is not None:  # only a complete layout is worth restoring
            self.settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
        self.settings.sync()

    @Slot()
    def _shutdown(self) -> None:
        if self.controller is not None:
            self.controller.shutdown()
        dataset = self.panels.get("dataset")
        if dataset is not None:
            dataset.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._closing = True
        self._shutdown()
        self.save_settings()
        if self._help_dialog is not None:
            self._help_dialog.close()
        super().closeEvent(event)


def _import_in_background(name: str) -> None:
    """Import a slow module on a helper thread while the event loop keeps painting.

    The window stays responsive (it can be moved, resized and repainted) during the ~2-3 s
    that `import torch` takes. Imports that need the GUI thread (Qt widgets) come after.
    """
    import sys

    if name in sys.modules:
        return
    failure: list[BaseException] = []

    def work() -> None:
        try:
            importlib.import_module(name)
        except BaseException as err:  # re-raised in the GUI thread below
            failure.append(err)

    thread = threading.Thread(target=work, name=f"import {name}", daemon=True)
    thread.start()
    app = QApplication.instance()
    while thread.is_alive():
        thread.join(0.02)
        if app is not None:
            app.processEvents()
    if failure:
        raise failure[0]
