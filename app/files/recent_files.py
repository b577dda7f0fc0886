"""File > Open Recent: the list of sessions opened or saved lately, kept in the settings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Slot

RECENT_KEY = "session/recent"
MAX_RECENT = 8


class RecentFiles:
    """FileActions' recent sessions and their menu."""

    def recent_files(self) -> list[str]:
        value = self.settings.value(RECENT_KEY, [])
        files = [value] if isinstance(value, str) else list(value or [])
        kept = [f for f in files if f and Path(f).is_file()][:MAX_RECENT]
        if kept != files:
            self.settings.setValue(RECENT_KEY, kept)
        return kept

    def _remember_recent(self, path: Path, remove: bool = False) -> None:
        path_text = str(Path(path).resolve())
        files = [f for f in self.recent_files() if f != path_text]
        if not remove:
            files.insert(0, path_text)
        self.settings.setValue(RECENT_KEY, files[:MAX_RECENT])
        self._update_actions()

    @Slot()
    def _fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        files = self.recent_files()
        for number, file in enumerate(files, start=1):
            action = menu.addAction(f"&{number} {Path(file).name}")
            action.setToolTip(file)
            action.setStatusTip(file)
            action.triggered.connect(lambda _checked=False, f=file: self.open_file(f))
        if files:
            menu.addSeparator()
            menu.addAction("Clear the list", self._clear_recent)
        menu.setEnabled(bool(files) and not self.state.training)

    def _clear_recent(self) -> None:
        self.settings.setValue(RECENT_KEY, [])
        self._fill_recent_menu()
