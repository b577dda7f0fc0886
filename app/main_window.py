"""The main window: three docks (network, data, training), menus, toolbar, status bar.

Startup is in two steps so the window is on screen long before torch has loaded: the
constructor builds only the frame (menus, toolbar, status bar "Loading the engine…") and
imports nothing heavy; `load_engine()` then imports torch, the state, the controller and the
panels and builds the docks. `app.main` calls it right after the first paint.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path

from mlp_studio.app.run_controls import RunControls
from mlp_studio.app.run_status import RunStatus
from mlp_studio.app.widgets.wheel_guard import WheelGuard
from mlp_studio.app.window_actions import LAYOUT_VERSION, WindowActions
from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QIcon
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFrame,
    QLabel,
    QMainWindow,
    QScrollArea,
    QTabWidget,
    QWidget,
)

APP_NAME = "MLP Studio"
RESOURCES = Path(__file__).resolve().parent.parent / "resources"

# (key, module, class, dock title); the order is the order of View menu entries.
PANELS = (
    ("dataset", "mlp_studio.app.panels.data.data_panel", "DataPanel", "Data"),
    ("designer", "mlp_studio.app.panels.network.network_panel", "NetworkPanel", "Network"),
    ("training", "mlp_studio.app.panels.training.training_panel", "TrainingPanel", "Training"),
    ("playground", "mlp_studio.app.panels.playground.playground_panel", "PlaygroundPanel",
     "Playground"),
    ("canvas", "mlp_studio.app.panels.draw.draw_panel", "DrawPanel", "Draw"),
    ("compare", "mlp_studio.app.panels.compare.compare_panel", "ComparePanel", "Compare"),
    ("backprop", "mlp_studio.app.panels.backprop.backprop_panel", "BackpropPanel", "Backprop"),
    ("lessons", "mlp_studio.app.panels.lessons.lessons_panel", "LessonsPanel", "Lessons"),
)
# The left column's docks, tabbed (set up before training, or read beside the views).
LEFT = ("dataset", "designer", "lessons")


def app_icon() -> QIcon:
    return QIcon(str(RESOURCES / "icons" / "mlp-studio.svg"))


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


class MainWindow(WindowActions, RunStatus, RunControls, QMainWindow):
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
        self._sweep_dialog = None  # app.dialogs.sweep_dialog.SweepDialog, once opened
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

    def _build_docks(self) -> None:
        for key, module_name, class_name, title in PANELS:
            # Imported here, not at the top: they bring torch and pyqtgraph (see module doc).
            cls = getattr(importlib.import_module(module_name), class_name)
            if key == "dataset":
                panel = cls(self.state, autoload=self.autoload_data)
            elif key in ("lessons", "training"):  # progress, checkpoint budget: user settings
                panel = cls(self.state, settings=self.settings)
            else:
                panel = cls(self.state)
            dock = QDockWidget(title, self)
            dock.setObjectName(f"{key}Dock")
            # The left column (data, network) is set up before training; the right one is
            # watched during it and gets most of a small screen.
            dock.setWidget(_scrolled(panel, 380 if key in LEFT else 850))
            dock.setFeatures(
                QDockWidget.DockWidgetFeature.DockWidgetMovable
                | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                | QDockWidget.DockWidgetFeature.DockWidgetClosable
            )
            self.panels[key], self.docks[key] = panel, dock

        # Default arrangement: data and network share the left column as tabs (one is set up
        # before training, the other watched during it), the training view fills the right.
        self.takeCentralWidget().deleteLater()
        left = [self.docks[k] for k in LEFT if k in self.docks]
        right = self.docks.get("training")
        for dock in left:
            self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        for dock in left[1:]:
            self.tabifyDockWidget(left[0], dock)
        if left:
            left[0].raise_()
        if right is not None:
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, right)
            # The playground and the canvas are other ways to look at training: tabs beside it.
            for key in ("playground", "canvas", "compare", "backprop"):
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
        state.dataConfigChanged.connect(self._on_data_config_changed)
        state.historyReplaced.connect(self._on_history_replaced)
        state.timeline.viewChanged.connect(self._on_checkpoint_viewed)
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
        if "lessons" in self.panels:
            self._wire_lessons(self.panels["lessons"])
        dataset = self.panels.get("dataset")
        if dataset is not None:
            dataset.statusMessage.connect(lambda text: self.statusBar().showMessage(text, 8000))
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._shutdown)

    # ------------------------------------------------------------------ training controls

    # ------------------------------------------------------------------ messages

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

    # ------------------------------------------------------------------ layout, help, closing

    @Slot()
    def _shutdown(self) -> None:
        """Stop every background job; safe to call again (closeEvent, then aboutToQuit)."""
        if self._sweep_dialog is not None:
            self._sweep_dialog.shutdown()
        if self.controller is not None:
            self.controller.shutdown()
        for key in ("dataset", "compare"):  # paired runs train in children of their own
            if key in self.panels:
                self.panels[key].shutdown()
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
