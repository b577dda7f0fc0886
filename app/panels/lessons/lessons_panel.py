"""The Lessons dock: the lecture's lessons in order with the student's progress; the chosen
one's text and question, buttons that load its experiment (and its variants) in one click, its
answer on request.

Lessons are files (core.lessons); the panel never breaks on a bad one: it lists the valid ones
and says which files are not valid and why. Loading goes through `loadRequested`: the window
saves or keeps aside the user's work first (app.files.lesson_actions) and calls `on_loaded`.

Run alone: python -m mlp_studio.app.preview lessons
"""

from __future__ import annotations

from pathlib import Path

from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.panels.lessons.lesson_progress import LessonProgress
from mlp_studio.app.widgets.wrapped_label import WrappedLabel
from mlp_studio.core.lessons import Lesson, load_lessons
from PySide6.QtCore import QSettings, QSize, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

MARKS = {"": "", "opened": "○", "done": "✓"}
STATE_WORDS = {"": "not opened yet", "opened": "opened", "done": "done"}


class LessonsPanel(QWidget):
    loadRequested = Signal(object, int)  # Lesson, variant index (-1: the lesson's experiment)
    pairRequested = Signal(object)  # Lesson: its experiment against its pair's change
    helpRequested = Signal(str)  # a Help topic's key

    def __init__(self, state: Experiment, parent: QWidget | None = None, *,
                 folder: Path | None = None, settings: QSettings | None = None):
        super().__init__(parent)
        self.state = state
        self.progress = LessonProgress(settings)
        self.lessons, self.problems = load_lessons(folder)
        self.variant_buttons: list[QPushButton] = []
        self._build()
        if self.problems:
            self.problems_label.setText(
                "⚠ Some lesson files are not valid and are left out:\n" + "\n".join(self.problems))
            self.problems_label.show()
        self._fill_list()
        state.trainingChanged.connect(self._on_training)
        if self.lessons:
            self.list.setCurrentRow(0)
        else:
            self._show(None)

    def sizeHint(self) -> QSize:
        return QSize(460, 640)

    # ---------------------------------------------------------------- widgets

    def _build(self) -> None:
        # Plain wrapped labels, not the window's Banner: in a narrow dock a Banner sizes its
        # height for the window's width and cut the text off.
        self.problems_label = _note_label()
        self.summary = QLabel()
        self.list = QListWidget()
        self.list.setMinimumHeight(120)
        self.list.currentRowChanged.connect(self._on_row)

        self.text = QTextBrowser()
        self.text.setOpenLinks(False)  # a lesson's text is read here, not followed
        self.text.setMinimumHeight(140)
        self.load_button = QPushButton("Load this experiment")
        self.load_button.setDefault(True)
        self.load_button.clicked.connect(lambda: self._request(-1))
        self.pair_button = QPushButton()
        self.pair_button.setToolTip("Train the experiment twice, once with the one change, from "
                                    "the same seed, initial weights and batches (Compare dock)")
        self.pair_button.clicked.connect(self._request_pair)
        self.pair_button.hide()
        self.pairs_available = False  # the window has a Compare dock to train pairs
        self.variants = QVBoxLayout()
        self.variants.setContentsMargins(0, 0, 0, 0)
        self.note = _note_label()

        self.answer_button = QPushButton("Show the answer")
        self.answer_button.setCheckable(True)
        self.answer_button.toggled.connect(self._on_answer)
        self.done_box = QCheckBox("Done: I have answered the question")
        self.done_box.toggled.connect(self._on_done)
        self.help_button = QPushButton("More in Help")
        self.help_button.clicked.connect(self._on_help)

        buttons = QHBoxLayout()
        buttons.addWidget(self.answer_button)
        buttons.addWidget(self.help_button)
        buttons.addStretch(1)

        detail = QWidget()
        lay = QVBoxLayout(detail)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.text, 1)
        lay.addWidget(self.load_button)
        lay.addLayout(self.variants)
        lay.addWidget(self.pair_button)
        lay.addWidget(self.note)
        lay.addLayout(buttons)
        lay.addWidget(self.done_box)

        top = QWidget()
        top_lay = QVBoxLayout(top)
        top_lay.setContentsMargins(0, 0, 0, 0)
        top_lay.addWidget(self.summary)
        top_lay.addWidget(self.list, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(detail)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([200, 10_000])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.problems_label)
        layout.addWidget(splitter, 1)

    # ---------------------------------------------------------------- the list

    def _fill_list(self) -> None:
        self.list.clear()
        for lesson in self.lessons:
            item = QListWidgetItem()
            self.list.addItem(item)
            self._label(item, lesson)
        self._update_summary()

    def _label(self, item: QListWidgetItem, lesson: Lesson) -> None:
        progress = self.progress.get(lesson.id)
        mark = MARKS[progress]
        item.setText(f"{mark or ' '}  {lesson.order}. {lesson.title}")
        item.setToolTip(f"Lesson {lesson.order}: {STATE_WORDS[progress]}")

    def _update_summary(self) -> None:
        done = sum(self.progress.get(lesson.id) == "done" for lesson in self.lessons)
        self.summary.setText(f"<b>Lessons</b> · {done} of {len(self.lessons)} done "
                             "(✓ done, ○ opened)")

    @property
    def current(self) -> Lesson | None:
        row = self.list.currentRow()
        return self.lessons[row] if 0 <= row < len(self.lessons) else None

    def select(self, lesson_id: str) -> bool:
        for row, lesson in enumerate(self.lessons):
            if lesson.id == lesson_id:
                self.list.setCurrentRow(row)
                return True
        return False

    @Slot(int)
    def _on_row(self, _row: int) -> None:
        self._show(self.current)

    # ---------------------------------------------------------------- the lesson

    def _show(self, lesson: Lesson | None) -> None:
        self.note.hide()
        for button in self.variant_buttons:
            self.variants.removeWidget(button)
            button.deleteLater()
        self.variant_buttons = []
        has = lesson is not None
        for widget in (self.load_button, self.answer_button, self.done_box, self.help_button):
            widget.setVisible(has)
        self.answer_button.setChecked(False)
        if lesson is None:
            self.pair_button.hide()
            self.text.setMarkdown("No lessons to show." if not self.problems else
                                  "No valid lesson files: see the message above.")
            return
        self._show_text(lesson)
        for index, variant in enumerate(lesson.variants):
            button = QPushButton(f"Load: {variant.label}")
            button.setToolTip("The same lesson's experiment with this change")
            button.clicked.connect(lambda _checked=False, i=index: self._request(i))
            self.variants.addWidget(button)
            self.variant_buttons.append(button)
        pair = lesson.pair if self.pairs_available else None
        self.pair_button.setVisible(pair is not None)
        if pair is not None:
            self.pair_button.setText(f"Compare side by side: {pair.label}")
        self.answer_button.setVisible(bool(lesson.check))
        self.help_button.setVisible(bool(lesson.help))
        self.done_box.blockSignals(True)
        self.done_box.setChecked(self.progress.get(lesson.id) == "done")
        self.done_box.blockSignals(False)
        self._on_training(self.state.training)

    def _show_text(self, lesson: Lesson) -> None:
        text = (f"### {lesson.order}. {lesson.title}\n\n{lesson.text}\n\n"
                f"**Question:** {lesson.question}")
        if self.answer_button.isChecked() and lesson.check:
            text += f"\n\n---\n\n**Answer:** {lesson.check}"
        self.text.setMarkdown(text)

    def _request(self, variant: int) -> None:
        lesson = self.current
        if lesson is not None and not self.state.training:
            self.loadRequested.emit(lesson, variant)

    def set_pairs_available(self, available: bool) -> None:
        self.pairs_available = available
        self._show(self.current)

    def _request_pair(self) -> None:
        lesson = self.current
        if lesson is not None and lesson.pair is not None and not self.state.training:
            self.pairRequested.emit(lesson)

    def on_loaded(self, lesson: Lesson, message: str) -> None:
        """The window loaded it: mark it opened and say what to do next (`message`)."""
        self.progress.opened(lesson.id)
        row = self.lessons.index(lesson) if lesson in self.lessons else -1
        if row >= 0:
            self._label(self.list.item(row), lesson)
            if row != self.list.currentRow():
                self.list.setCurrentRow(row)
        self._update_summary()
        self.note.setText(message)
        self.note.show()

    @Slot(bool)
    def _on_training(self, training: bool) -> None:
        for button in (self.load_button, self.pair_button, *self.variant_buttons):
            button.setEnabled(not training)
            button.setToolTip("Stop training to load another experiment" if training else "")

    @Slot(bool)
    def _on_answer(self, shown: bool) -> None:
        lesson = self.current
        if lesson is not None:
            self._show_text(lesson)
            if shown:  # the answer is below the question, in the same scrolled text
                bar = self.text.verticalScrollBar()
                bar.setValue(bar.maximum())
        self.answer_button.setText("Hide the answer" if shown else "Show the answer")

    @Slot(bool)
    def _on_done(self, done: bool) -> None:
        lesson = self.current
        if lesson is None:
            return
        self.progress.set(lesson.id, "done" if done else "opened")
        self._label(self.list.currentItem(), lesson)
        self._update_summary()

    @Slot()
    def _on_help(self) -> None:
        lesson = self.current
        if lesson is not None and lesson.help:
            self.helpRequested.emit(lesson.help)


def _note_label() -> QLabel:
    label = WrappedLabel()  # never squeezed under the buttons above it in a short dock
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setFrameShape(QLabel.Shape.StyledPanel)
    label.setMargin(6)
    label.hide()
    return label
