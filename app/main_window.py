"""The main window: three docks (network, data, training), menus, toolbar, status bar.

Startup is in two steps so the window is on screen long before torch has loaded: the
constructor builds only the frame (menus, toolbar, status bar "Loading the engine…") and
imports nothing heavy; `load_engine()` then imports torch, the state, the controller and the
panels and builds the docks. `app.main` calls it right after the first paint.
"""

from __future__ import annotations

import importlib
import math
import threading
from pathlib import Path

from mlp_studio.app.widgets.banner import Banner
from mlp_studio.app.widgets.formatting import format_rate
from mlp_studio.app.widgets.wheel_guard import WheelGuard
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
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QTabWidget,
    QToolBar,
    QToolButton,
    QWidget,
)

APP_NAME = "MLP Studio"
LAYOUT_VERSION = 2  # bump when dock object names or the default arrangement change
RESOURCES = Path(__file__).resolve().parent.parent / "resources"

# (key, module, class, dock title); the order is the order of View menu entries.
PANELS = (
    ("dataset", "mlp_studio.app.panels.data.data_panel", "DataPanel", "Data"),
    ("designer", "mlp_studio.app.panels.network.network_panel", "NetworkPanel", "Network"),
    ("training", "mlp_studio.app.panels.training.training_panel", "TrainingPanel", "Training"),
    ("playground", "mlp_studio.app.panels.playground.playground_panel", "PlaygroundPanel",
     "Playground"),
    ("canvas", "mlp_studio.app.panels.draw.draw_panel", "DrawPanel", "Draw"),
)


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


def _format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s left"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s left"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min left"


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
        recovery_path: str | Path | None = None,
        session: str | Path | None = None,
    ):
        super().__init__(parent)
        self.session_to_open = session  # opened once the engine is loaded
        self.settings = settings if settings is not None else QSettings()
        self.autoload_data = autoload_data  # the Data panel loads MNIST from known places
        self.recovery_path = recovery_path  # the autosave file (None: FileActions' default)
        self.state = None  # app.state.Experiment, once the engine is loaded
        self.controller = None  # app.controller.TrainingController
        self.panels: dict[str, QWidget] = {}
        self.docks: dict[str, QDockWidget] = {}
        self._default_layout: QByteArray | None = None
        self._first_painted = False
        self._load_after_paint = False
        self._engine_loaded = False
        self._closing = False
        self._run_epochs: tuple[int, int] | None = None  # (first epoch, last epoch) of the run
        self._help_dialog = None
        self.file_actions = None  # app.file_actions.FileActions: sessions, import, export

        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(app_icon())
        # Sliders, spin boxes and combo boxes take the wheel only with focus (app-wide: panels
        # create rows later); removed with the window.
        QApplication.instance().installEventFilter(WheelGuard(self))
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
        self.evaluate_action = self._action(
            "&Evaluate on the test set",
            self.evaluate,
            "Ctrl+E",
            "Measure the current (trained or imported) model on the test split: accuracy, "
            "confusion matrix, per-class scores",
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
        # Sessions, import and export join once the engine is loaded (FileActions).
        self.file_menu.addAction(self.quit_action)
        self.edit_menu = bar.addMenu("&Edit")  # filled once the undo stack exists
        self.edit_menu.menuAction().setVisible(False)
        self.train_menu = bar.addMenu("&Train")
        for action in self.training_actions:
            self.train_menu.addAction(action)
        self.train_menu.addSeparator()
        self.train_menu.addAction(self.evaluate_action)
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
        # A toolbar shows its widgets through their actions (the banner's show/hide alone
        # would leave an empty strip): the strip is shown exactly while the banner has text.
        self.banner = Banner(self)
        self.banner_bar = QToolBar("Messages", self)
        self.banner_bar.setObjectName("messageBar")
        self.banner_bar.setMovable(False)
        self.banner_bar.setFloatable(False)
        self.banner_bar.toggleViewAction().setVisible(False)
        self.banner_bar.addWidget(self.banner).setVisible(True)
        self.banner_bar.hide()
        self.addToolBarBreak(Qt.ToolBarArea.TopToolBarArea)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.banner_bar)
        self.banner.textChanged.connect(lambda text: self.banner_bar.setVisible(bool(text)))
        self.banner_action = QToolButton()  # the message's own action, when it has one
        self.banner_action.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.banner_action.hide()
        self.banner.add_widget(self.banner_action)

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
            from mlp_studio.app.model.experiment import Experiment
            from mlp_studio.app.model.training_controller import TrainingController

            self.state = Experiment(self)
            self.controller = TrainingController(self.state, self)
            self._build_file_actions()
            self._build_edit_menu()
            self._build_docks()
            self._wire()
            self._open_playground_without_mnist()
            self.file_actions.mark_clean()  # the panels' own setup is not an edit
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
        # If the last run did not close cleanly, offer its autosave (once the window is up);
        # then the session named on the command line, unless the autosave was restored.
        QTimer.singleShot(0, self._open_first)

    @Slot()
    def _open_first(self) -> None:
        restored = self.file_actions.offer_recovery()
        if self.session_to_open and not restored:
            self.file_actions.open_file(self.session_to_open, ask=False)

    def _open_playground_without_mnist(self) -> None:
        """A first launch with no MNIST at hand opens on a playground problem, not on an empty
        screen: the playground needs no download."""
        from mlp_studio.core.mnist import resolve_data_dir

        if not self.autoload_data or "playground" not in self.docks:
            return
        if resolve_data_dir() is None and not self.settings.value("data/last_folder", ""):
            self.state.set_source("playground")  # the Data panel says so; it can go back

    def _raise_dock(self, key: str) -> None:
        if key in self.docks:
            self.docks[key].raise_()

    def _build_file_actions(self) -> None:
        from mlp_studio.app.files.session_actions import FileActions

        actions = FileActions(self, self.state, self.controller, self.settings, self.recovery_path)
        actions.add_to_menu(self.file_menu, before=self.quit_action)
        actions.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        actions.sessionChanged.connect(self._on_session_changed)
        actions.dirtyChanged.connect(self.setWindowModified)
        self.file_actions = actions
        self._on_session_changed("")

    @Slot(str)
    def _on_session_changed(self, path: str) -> None:
        name = Path(path).name if path else "Untitled"
        self.setWindowTitle(f"{name}[*] – {APP_NAME}")  # [*]: Qt marks unsaved changes there
        self.setWindowModified(self.file_actions.dirty)
        if path and self.state.source == "playground":
            self._raise_dock("playground")  # an opened session on 2-D points: show them

    @Slot(object)
    def _on_history_replaced(self, _history) -> None:
        """Other weights (new, reset, opened, restored, imported): the last run's message and
        readouts no longer apply; the views redraw the new weights' own history."""
        self._hide_banner()
        self._show_trained_state()
        self._update_go_back()

    def _build_edit_menu(self) -> None:
        stack = self.state.undo_stack
        self.undo_action = stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts(QKeySequence.StandardKey.Undo)
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts(QKeySequence.StandardKey.Redo)
        self.edit_menu.addAction(self.undo_action)
        self.edit_menu.addAction(self.redo_action)
        self.edit_menu.addSeparator()
        self.go_back_action = QAction("&Go Back to the Earlier Weights", self)
        self.go_back_action.setToolTip("The last run left the model worse than it found it "
                                       "(higher validation loss): take the weights it started "
                                       "from again (Edit > Undo returns to the run's)")
        self.go_back_action.triggered.connect(self.state.go_back)
        self.go_back_action.setEnabled(False)
        self.edit_menu.addAction(self.go_back_action)
        self.edit_menu.menuAction().setVisible(True)

    def _build_docks(self) -> None:
        for key, module_name, class_name, title in PANELS:
            # Imported here, not at the top: they bring torch and pyqtgraph (see module doc).
            cls = getattr(importlib.import_module(module_name), class_name)
            if key == "dataset":
                panel = cls(self.state, autoload=self.autoload_data)
            else:
                panel = cls(self.state)
            dock = QDockWidget(title, self)
            dock.setObjectName(f"{key}Dock")
            # The left column (data, network) is set up before training; the right one is
            # watched during it and gets most of a small screen.
            dock.setWidget(_scrolled(panel, 380 if key in ("dataset", "designer") else 850))
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
            # The playground and the canvas are other ways to look at training: tabs beside it.
            for key in ("playground", "canvas"):
                if key in self.docks:
                    self.tabifyDockWidget(right, self.docks[key])
            right.raise_()
        if left and right is not None:
            # After this turn's layout, when the window has its size and the docks theirs.
            QTimer.singleShot(0, lambda: self.resizeDocks(
                [left[0], right], self._column_widths(), Qt.Orientation.Horizontal))

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

    def _column_widths(self) -> list[int]:
        """Left and right dock columns: 42% / 58%, but on a small screen the right column
        (Training, Playground, Draw) gets the width its panels need, the left the rest."""
        width = self.width()
        needed = max((self.panels[k].minimumSizeHint().width() for k in
                      ("training", "playground", "canvas") if k in self.panels), default=0)
        right = min(max(int(width * 0.58), needed + 16), width - 420)  # 16: frame, scroll bar
        return [width - right, right]

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
        state.historyReplaced.connect(self._on_history_replaced)
        state.trainConfigChanged.connect(lambda _config: self._update_device_label())

        training = self.panels.get("training")
        if training is not None:
            c.progress.connect(training.on_progress)
            c.layerStats.connect(training.on_layer_stats)
            c.snapshot.connect(training.on_snapshot)
            c.epochEnded.connect(training.on_epoch_end)
            c.finished.connect(training.on_finished)
            c.diverged.connect(training.on_diverged)
        designer = self.panels.get("designer")
        if designer is not None:
            c.snapshot.connect(designer.show_snapshot)
        playground = self.panels.get("playground")
        if playground is not None:
            c.progress.connect(playground.on_progress)
            c.snapshot.connect(playground.on_snapshot)
            c.epochEnded.connect(playground.on_epoch_end)
        # What trains is the experiment's source (chosen in the Data panel), never the tab in
        # front; choosing the playground shows it.
        state.sourceChanged.connect(
            lambda source: source == "playground" and self._raise_dock("playground"))
        state.notice.connect(lambda text: self._show_message(text, "info"))
        dataset = self.panels.get("dataset")
        if dataset is not None:
            dataset.statusMessage.connect(lambda text: self.statusBar().showMessage(text, 8000))
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._shutdown)

    # ------------------------------------------------------------------ training controls

    @Slot()
    def train(self) -> None:
        if self.controller is None or self.controller.running:
            return
        self._hide_banner()
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

    @Slot()
    def evaluate(self) -> None:
        """The current model on the test split, shown in the Confusion tab."""
        from mlp_studio.core.errors import StudioError
        from mlp_studio.core.training import evaluate_test

        state = self.state
        if state is None or state.training:
            return
        if state.model is None or state.data is None:
            self._show_message("Evaluate needs a model and data: train or import a model, and "
                               "load data in the Data or Playground panel.")
            return
        try:
            metrics = evaluate_test(state.model, state.data, state.train_config.loss,
                                    state.model_normalization)
        except StudioError as err:
            self._show_message(str(err))
            return
        state.show_evaluation(metrics, "current model")
        self._raise_dock("training")

    def _update_go_back(self) -> None:
        state = self.state
        self.go_back_action.setEnabled(not state.training and state.lineage.earlier is not None)

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
        self.evaluate_action.setEnabled(loaded and idle)
        paused = run_state == "paused"
        self.pause_action.setText("Resume" if paused else "Pause")
        self.pause_action.setIcon(glyph_icon("play" if paused else "pause"))
        if loaded:
            stack = self.state.undo_stack
            self.undo_action.setEnabled(idle and stack.canUndo())
            self.redo_action.setEnabled(idle and stack.canRedo())
            self.go_back_action.setEnabled(idle and self.state.lineage.earlier is not None)

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
        elif run_state == "paused":
            self.eta_label.setText("paused")
            self.rate_label.clear()  # nothing is trained while paused: no speed to show
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
        rate = self.state.rate
        self.rate_label.setText(format_rate(rate))
        if rate > 0:
            batch_size = max(1, self.controller.trainer.config.batch_size)
            n = len(self.state.data.x_train) if self.state.data is not None else 0
            samples_per_batch = min(batch_size, max(n, 1))
            left = (total - done) * samples_per_batch / rate
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
        self.status_label.setText(self._summary(result))
        earlier = self.state.lineage.earlier
        self._update_go_back()
        if earlier is not None:  # never replace a better model silently: offer it back
            text = f"{earlier.describe()} You can go back to the weights it started from."
            if result.diverged is not None:
                self._show_message(f"{result.diverged.message} {text}", "error",
                                   self.go_back_action)
            else:
                self._show_message(text, "warning", self.go_back_action)
        if result.diverged is None:
            self.progress_bar.setValue(
                self.progress_bar.maximum() if not result.stopped else self.progress_bar.value()
            )

    def _summary(self, result) -> str:
        """One line on how the current weights' last run ended (or how far they trained)."""
        if result is None:
            return f"Trained for {self.state.epochs_done} epochs"
        if result.diverged is not None:
            return "Diverged"
        if result.test is None:
            return "Stopped before the first epoch ended"
        ended = "Stopped" if result.stopped else "Finished"
        if math.isnan(result.test.accuracy):  # regression: no accuracy
            summary = f"{ended}: test loss {result.test.loss:.4g}"
        else:
            summary = (f"{ended}: test accuracy {result.test.accuracy:.2%}, "
                       f"loss {result.test.loss:.4f}")
        from mlp_studio.core.best_epoch import kept_weights  # torch is loaded by now

        epochs = result.history.epochs
        kept = kept_weights(self.state.train_config, result.best_epoch,
                            epochs[-1].epoch if epochs else None,
                            regression=math.isnan(result.test.accuracy))
        return f"{summary}, with {kept}"

    @Slot(object)
    def _on_data_changed(self, data) -> None:
        if data is not None and not self.state.training:
            self.status_label.setText(
                f"Data ready: {len(data.x_train):,} training, "
                f"{len(data.x_val):,} validation, {len(data.x_test):,} "
                "test samples. Press Train (F5)."
            )
        self._update_device_label()

    def _show_trained_state(self) -> None:
        """Outside a run: how far the current weights have trained."""
        if self.state.training:
            return
        done = self.state.epochs_done
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(1000 if done else 0)
        self.progress_bar.setFormat(f"{done} epoch{'s' if done != 1 else ''} trained"
                                    if done else "Not trained yet")
        self.rate_label.clear()
        self.eta_label.clear()
        self.status_label.setText(self._summary(self.state.result) if done else "Ready")

    def _update_device_label(self) -> None:
        if self.state is None:
            return
        device = self.state.train_config.device
        if device == "cpu" or device == "auto":
            from mlp_studio.core.training import pick_device

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

    def _show_message(self, text: str, level: str = "warning",
                      action: QAction | None = None) -> None:
        """`action` (e.g. going back to the earlier weights) gets a button in the banner."""
        if action is not None:
            self.banner_action.setDefaultAction(action)
        self.banner_action.setVisible(action is not None)
        self.banner.show_message(text, level)
        self.statusBar().showMessage(text.split(". ")[0].rstrip(".") + ".", 10_000)

    def report_error(self, error: BaseException) -> None:
        """A bug reached the event loop: say so, and leave every control usable."""
        first = (str(error).strip().splitlines() or [""])[0][:200]
        self._show_message(
            f"Something went wrong ({type(error).__name__}{': ' + first if first else ''}). "
            "MLP Studio is still usable and your work is not lost: File > Save session keeps "
            "it. The details are in the log; please report them.", "error")
        if self.state is not None and self.state.training and not self.controller.running:
            self.state.set_training(False)  # a run that ended half-way: not "running" forever
        if self.controller is not None:
            self._update_actions(self.controller.run_state)

    def _hide_banner(self) -> None:
        self.banner.clear()

    def message_text(self) -> str:
        """The message the banner shows, or "" (tests and screenshots read it)."""
        return self.banner.text() if self.banner_bar.isVisible() else ""

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
        from mlp_studio.app.dialogs.help_dialog import HelpDialog

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
        """Stop every background job; safe to call again (closeEvent, then aboutToQuit)."""
        if self.controller is not None:
            self.controller.shutdown()
        dataset = self.panels.get("dataset")
        if dataset is not None:
            dataset.shutdown()
        if self.file_actions is not None:
            self.file_actions.shutdown()  # a clean exit: the recovery autosave goes

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.controller is not None:
            self.controller.shutdown()  # a run cannot be saved while it changes the weights
        if self.file_actions is not None and not self.file_actions.maybe_save():
            event.ignore()  # the user wants to keep working (the run stays stopped)
            return
        self._closing = True
        self._shutdown()
        self.save_settings()
        if self._help_dialog is not None:
            self._help_dialog.close()
        super().closeEvent(event)


def _scrolled(panel: QWidget, widest: int) -> QScrollArea:
    """A panel as a dock holds it: scrolled where the dock is smaller than the panel needs, so
    no panel makes the window bigger than a 1280x720 screen. The dock still asks for the
    panel's minimum width up to `widest` (and height up to 440), so the window's columns split
    where the panels need the room."""
    area = QScrollArea()
    area.setWidget(panel)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    needed = panel.minimumSizeHint()
    area.setMinimumSize(min(needed.width(), widest), min(needed.height(), 440))
    return area


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
