"""Which lessons a student has opened and done, kept per user in the app's settings."""

from __future__ import annotations

from PySide6.QtCore import QSettings

KEY = "lessons/progress/"
STATES = ("", "opened", "done")  # in the order a student goes


class LessonProgress:
    def __init__(self, settings: QSettings | None = None):
        self.settings = settings if settings is not None else QSettings()

    def get(self, lesson_id: str) -> str:
        value = self.settings.value(KEY + lesson_id, "", str)
        return value if value in STATES else ""

    def set(self, lesson_id: str, value: str) -> None:
        if value not in STATES:
            raise ValueError(f"unknown progress {value!r}")
        self.settings.setValue(KEY + lesson_id, value)

    def opened(self, lesson_id: str) -> None:
        """Loaded once: "opened", unless it is done already."""
        if self.get(lesson_id) != "done":
            self.set(lesson_id, "opened")
