"""The File menu's actions (New, Open, Save, Import, Export, ...) and their enabled states."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu


class FileMenu:
    """FileActions' QActions and where they go in a menu."""

    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self.window)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.setToolTip(tip or text.replace("&", "").rstrip("…"))
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _build_actions(self) -> None:
        Key = QKeySequence.StandardKey
        self.new_action = self._action(
            "&New session", self.new_session, Key.New, "Start over: default network and settings"
        )
        self.open_action = self._action(
            "&Open session…", self.open_session, Key.Open, "Continue a saved experiment (.mlps)"
        )
        self.save_action = self._action(
            "&Save session", self.save, Key.Save, "Save the network, weights, settings and history"
        )
        self.save_as_action = self._action(
            "Save session &as…", self.save_as, Key.SaveAs, "Save the session to a new file"
        )
        self.import_action = self._action(
            "&Import model…",
            self.import_model,
            None,
            "Load a network and its weights: an MLP Studio export or session, or a Keras "
            "(.keras, .h5) or ONNX file",
        )
        self.export_action = self._action(
            "&Export model…",
            self.export_model,
            "Ctrl+Shift+E",  # Ctrl+E is Evaluate: a shared shortcut fires neither
            "Write the model as ONNX, TorchScript or safetensors, verified against the model",
        )
        self.recent_menu = QMenu("Recent sessions", self.window)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._fill_recent_menu()

    def actions(self) -> list[QAction]:
        return [self.new_action, self.open_action, self.save_action, self.save_as_action,
                self.import_action, self.export_action]  # fmt: skip

    def add_to_menu(self, menu: QMenu, before: QAction | None = None) -> None:
        """New, Open, Recent | Save, Save as | Import, Export: inserted before `before`."""
        items = [self.new_action, self.open_action, self.recent_menu.menuAction(), None,
                 self.save_action, self.save_as_action, None, self.import_action,
                 self.export_action, None]  # fmt: skip
        for item in items:
            if item is None:
                menu.insertSeparator(before)
            else:
                menu.insertAction(before, item)

    def _update_actions(self) -> None:
        idle = not self.state.training
        for action in (self.new_action, self.open_action, self.import_action):
            action.setEnabled(idle)
        self.recent_menu.setEnabled(idle and bool(self.recent_files()))
        self.save_action.setEnabled(idle)
        self.save_as_action.setEnabled(idle)
        self.export_action.setEnabled(idle and self.can_export())
