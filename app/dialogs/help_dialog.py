"""Help > Concepts guide: a list of topics and the text of the chosen one.

Each topic is a Markdown file in resources/help/ ("NN-name.md", shown in name order); its first
"# " line is its title. Adding a topic is adding a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

HELP_DIR = Path(__file__).resolve().parents[2] / "resources" / "help"


@dataclass(frozen=True)
class HelpTopic:
    key: str  # file stem without its number, e.g. "loss"
    title: str
    markdown: str


def load_topics(folder: Path = HELP_DIR) -> list[HelpTopic]:
    topics = []
    for path in sorted(folder.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        first = text.lstrip().splitlines()[0] if text.strip() else ""
        title = first[2:].strip() if first.startswith("# ") else path.stem
        key = path.stem.split("-", 1)[1] if path.stem[:2].isdigit() else path.stem
        topics.append(HelpTopic(key, title, text))
    return topics


class HelpDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, folder: Path = HELP_DIR):
        super().__init__(parent)
        self.setWindowTitle("MLP Studio – Concepts guide")
        self.topics = load_topics(folder)
        self.list = QListWidget()
        self.list.setObjectName("helpTopics")
        self.list.setSpacing(3)  # a list of topics to click, not a dense table
        for topic in self.topics:
            item = QListWidgetItem(topic.title)
            item.setData(Qt.ItemDataRole.UserRole, topic.key)
            self.list.addItem(item)
        self.browser = QTextBrowser()
        self.browser.setObjectName("helpText")
        self.browser.setOpenExternalLinks(True)
        # Markdown gets the document's default font; a little air between paragraphs and
        # table cells keeps long explanations readable.
        self.browser.document().setDocumentMargin(16)
        self.browser.document().setDefaultStyleSheet(
            "p, li { line-height: 135%; } td, th { padding: 3px 10px; } pre { margin: 8px 12px; }"
        )
        font = self.browser.font()
        font.setPointSizeF(font.pointSizeF() * 1.1)
        self.browser.setFont(font)

        splitter = QSplitter()
        splitter.addWidget(self.list)
        splitter.addWidget(self.browser)
        splitter.setStretchFactor(1, 1)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        list_width = self.list.sizeHintForColumn(0) + 2 * self.list.frameWidth() + 16
        self.list.setMinimumWidth(list_width)
        splitter.setSizes([list_width, 900 - list_width])
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(buttons)
        self.list.currentRowChanged.connect(self._show_row)
        self.resize(940, 640)
        if self.topics:
            self.list.setCurrentRow(0)

    def _show_row(self, row: int) -> None:
        if 0 <= row < len(self.topics):
            self.browser.setMarkdown(self.topics[row].markdown)

    def show_topic(self, key: str) -> bool:
        """Select a topic by its key ("loss", "splits", ...); False if there is none."""
        for row, topic in enumerate(self.topics):
            if topic.key == key:
                self.list.setCurrentRow(row)
                return True
        return False

    def current_title(self) -> str:
        row = self.list.currentRow()
        return self.topics[row].title if 0 <= row < len(self.topics) else ""
