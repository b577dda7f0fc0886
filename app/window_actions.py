"""The main window's actions, menus, toolbars and status bar, help and about, and its saved
layout: built once, wired to its commands."""

from __future__ import annotations

from mlp_studio.app.widgets.banner import Banner
from mlp_studio.app.widgets.glyph_icons import glyph_icon
from PySide6.QtCore import QByteArray, QSize, Qt, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMessageBox,
    QProgressBar,
    QTabWidget,
    QToolBar,
    QToolButton,
)

LAYOUT_VERSION = 5  # bump when dock object names or the default arrangement change


class WindowActions:
    """MainWindow's actions and the bars that show them."""

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
        self.pair_action = self._action(
            "&Duplicate with One Change…",
            self.duplicate_with_one_change,
            tip="Train the current network twice, once with one setting changed, from the same "
            "seed, initial weights and batch order, and compare both runs (Compare panel)",
        )
        self.sweep_action = self._action(
            "S&weep…",
            self.open_sweep,
            tip="Train many short variations of this run and see which settings mattered",
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

    @Slot()
    def open_sweep(self) -> None:
        """Train > Sweep…: one dialog, kept while its sweep runs in the background."""
        if self.state is None:
            return
        if self._sweep_dialog is None:
            from mlp_studio.app.dialogs.sweep_dialog import SweepDialog

            self._sweep_dialog = SweepDialog(self.state, self)
        self._sweep_dialog.show()
        self._sweep_dialog.raise_()
        self._sweep_dialog.activateWindow()

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
        self.train_menu.addAction(self.pair_action)
        self.train_menu.addAction(self.sweep_action)
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

    def raise_view(self, view: str) -> None:
        """Bring a view to the front: a dock ("training") or a tab of one, by its title in lower
        case ("training/gradients"), as lessons name them (core.lessons.VIEWS)."""
        key, _, tab = view.partition("/")
        dock = self.docks.get(key)
        if dock is None:
            return
        dock.show()
        dock.raise_()
        for tabs in self.panels[key].findChildren(QTabWidget) if tab else ():
            for index in range(tabs.count()):
                if tabs.tabText(index).replace("&", "").lower() == tab:
                    tabs.setCurrentIndex(index)
                    return

    def _wire_lessons(self, panel) -> None:
        """The Lessons dock asks; the window saves or keeps aside the work, then loads."""
        from mlp_studio.app.files.lesson_actions import LessonActions

        compare = self.panels.get("compare")
        self.lesson_actions = LessonActions(self, self.state, self.file_actions, self.raise_view,
                                            compare.start_pair if compare is not None else None)
        panel.loadRequested.connect(self.lesson_actions.load)
        panel.pairRequested.connect(self.lesson_actions.compare)
        panel.set_pairs_available(compare is not None)
        self.lesson_actions.loaded.connect(panel.on_loaded)
        panel.helpRequested.connect(self.show_help)

    @Slot()
    def duplicate_with_one_change(self) -> None:
        compare = self.panels.get("compare")
        if compare is not None:
            self.docks["compare"].raise_()
            compare.duplicate_with_one_change()

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

    @Slot()
    def reset_layout(self) -> None:
        if self._default_layout is not None:
            self.restoreState(self._default_layout, LAYOUT_VERSION)
        for dock in self.docks.values():
            dock.setFloating(False)
            dock.show()
        self.toolbar.show()

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        if self._default_layout is not None:  # only a complete layout is worth restoring
            self.settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
        self.settings.sync()
