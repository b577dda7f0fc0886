"""Loading a lesson's experiment without losing the user's work.

Unsaved work is first saved (Save / Save as…), or kept aside: written to a session file of its
own in the user's data folder and added to File > Open Recent, so it can be reopened any time.
Then the lesson's experiment becomes a new untitled session: the network, training and data
settings as one undoable edit (Edit > Undo gives the previous ones back), then the Playground's
data and the data source, in the order opening a session uses (core.lessons has the settings).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import platformdirs
from mlp_studio.app.files.session_actions import FileActions
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.widgets.suggestion_bar import SuggestionBar
from mlp_studio.core.data_source import DataSource
from mlp_studio.core.lessons import Lesson, Setup
from mlp_studio.core.paired import PairPlan
from mlp_studio.core.session import SUFFIX
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

MNIST_DIGITS = DataSource()  # what the lessons' "mnist" experiments train on


def kept_aside_folder() -> Path:
    return Path(platformdirs.user_data_dir("mlp-studio")) / "kept aside"


def ask_unsaved(parent: QWidget) -> str:
    """"save", "keep" (aside) or "cancel": what to do with unsaved work before a lesson."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Load the lesson")
    box.setText("The current session has unsaved changes. The lesson replaces it: save your "
                "work first, or keep it aside?")
    box.setInformativeText("Kept aside, it is saved to a file of its own that File > Open "
                           "Recent opens again.")
    save = box.addButton(QMessageBox.StandardButton.Save)
    keep = box.addButton("Keep aside", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(keep)
    box.exec()
    clicked = box.clickedButton()
    return "save" if clicked is save else "keep" if clicked is keep else "cancel"


class LessonActions(QObject):
    """Loads lessons' experiments into the window's experiment."""

    loaded = Signal(object, str)  # Lesson, what was loaded and what the user should know

    def __init__(self, parent: QWidget, state: Experiment, files: FileActions,
                 raise_view: Callable[[str], None],
                 start_pair: Callable[[PairPlan], bool] | None = None,
                 folder: Path | None = None):
        super().__init__(parent)
        self.window, self.state, self.files = parent, state, files
        self.raise_view = raise_view  # "dock" or "dock/tab"
        self.start_pair = start_pair  # the Compare dock's, if the window has one
        self.folder = folder if folder is not None else kept_aside_folder()

    def load(self, lesson: Lesson, variant: int = -1) -> bool:
        """Load the lesson's experiment (or one of its variants); False if the user cancelled
        or their work could not be saved."""
        if self.state.training:  # the panel's buttons are disabled then
            return False
        kept = self._put_work_away()
        if kept is None:
            return False
        chosen = lesson.variants[variant] if variant >= 0 else None
        setup = chosen.setup if chosen is not None else lesson.setup
        name = f"Lesson {lesson.order}: {lesson.title}"
        text = f"{name} ({chosen.label})" if chosen is not None else name
        self.files.start_untitled(lambda: self._apply(setup, text), f"Loaded {text}")
        views = chosen.views if chosen is not None and chosen.views is not None else lesson.views
        notes = [f"Your work is kept aside in {kept} (File > Open Recent opens it)."
                 ] if kept else []
        if setup.source == "mnist" and not self.state.data_location:
            views = (*views, "dataset")
            notes.append("This experiment trains on MNIST: load it in the Data panel (Load "
                         "folder or Download); the lesson's settings are already set.")
        for view in reversed(views):  # the first one named ends in front
            self.raise_view(view)
        for bar in self.window.findChildren(SuggestionBar):
            bar.dismiss()  # the lesson's settings are chosen: no offer to replace them
        what = "its experiment" if chosen is None else f"“{chosen.label}”"
        self.loaded.emit(lesson, " ".join([f"Loaded {what}: press Train, then look and answer "
                                           "the question.", *notes]))
        return True

    def compare(self, lesson: Lesson) -> bool:
        """Load the lesson's experiment, then train it against its pair's change side by side
        (the Compare dock: same seed, same initial weights, same batches)."""
        if lesson.pair is None or self.start_pair is None or not self.load(lesson):
            return False
        started = self.start_pair(lesson.pair.plan)
        self.raise_view("compare")
        text = (f"Training {lesson.pair.label} side by side: {lesson.pair.plan.label_a} and "
                f"{lesson.pair.plan.label_b}, from the same initial weights and batches. The "
                "Compare dock shows both runs." if started else
                "The comparison could not start: the Compare dock says why.")
        self.loaded.emit(lesson, text)
        return started

    def _put_work_away(self) -> str | None:
        """None if the user cancelled (or saving failed), else where the work was kept aside
        ("" if it was saved, or clean)."""
        files = self.files
        if not files.dirty:
            return ""
        answer = ask_unsaved(self.window)
        if answer == "cancel":
            return None
        if answer == "save":
            if not files.save():
                return None
            files.wait_for_saves()
            return None if files.dirty else ""
        return self.keep_aside()

    def keep_aside(self) -> str | None:
        """Save the current work to a file of its own in the kept-aside folder: its path, or
        None if it could not be written (the user was told why)."""
        stem = Path(self.files.path).stem if self.files.path else "Untitled"
        stamp = datetime.now().strftime("%Y-%m-%d %H-%M-%S")
        path = self.folder / f"{stem} {stamp}{SUFFIX}"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            QMessageBox.warning(self.window, "Cannot keep the work aside",
                                f"Cannot create the folder {self.folder} ({err.strerror}): "
                                "save the session with File > Save as… instead.")
            return None
        if not self.files.save_to(path, wait=True) or self.files.dirty:
            return None
        return str(path)

    def _apply(self, setup: Setup, text: str) -> None:
        state = self.state
        state.apply_settings(setup.spec, setup.train_config, setup.data_config, text)
        state.set_model(None)  # the lesson's seed: fresh weights even if the network is equal
        if setup.playground is not None:
            state.set_playground_settings(setup.playground, apply=True)  # publishes if shown
        loaded = state.data_source
        if setup.table is not None:
            state.set_data_source(setup.table)  # the Data panel reads and prepares the CSV
        elif setup.source == "mnist" and loaded is not None and (
                loaded.kind, loaded.dataset) != ("mnist", "mnist"):
            state.set_data_source(MNIST_DIGITS)  # not another family or a table: the Data panel
            # loads the digits ($MLP_STUDIO_DATA or the download cache)
        # A table is the Data panel's data, as MNIST is; its points are the Playground's.
        state.set_source("playground" if setup.source == "playground" else "mnist")
