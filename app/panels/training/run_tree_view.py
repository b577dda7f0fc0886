"""The Runs tab: the run tree of the current weights. Each run with where it branched from, the
settings it changed, its epochs and last validation figure; going to a run makes it the
current one (its weights, history, settings), whose checkpoints the scrubber then shows."""

from __future__ import annotations

import dataclasses

from mlp_studio.app.model.experiment import Experiment
from mlp_studio.core.run_tree import final_metric
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

COLUMNS = ("Run", "Branched from", "Settings changed", "Epochs", "Result")


class RunTreeView(QWidget):
    # A tab of the training view: drawn when the tree changes, and (dirty, set by the panel
    # at each epoch's end) when the current run's epochs and result move on.
    dirty = False

    def __init__(self, state: Experiment, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.timeline = state.timeline
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setRootIsDecorated(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.go_button = QPushButton("Go to run")
        self.go_button.setToolTip("Make the selected run the current one: its latest weights, "
                                  "curves and settings; the scrubber shows its checkpoints")
        self.hint = QLabel("Branch from any checkpoint with the scrubber below the plots; "
                           "runs appear here as a tree. Double-click a run to go to it.")
        self.hint.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.hint, 1)
        row.addWidget(self.go_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree, 1)
        layout.addLayout(row)
        self.tree.itemDoubleClicked.connect(lambda item, _col: self._go(item))
        self.tree.currentItemChanged.connect(lambda *_: self._update_button())
        self.go_button.clicked.connect(lambda: self._go(self.tree.currentItem()))
        self.timeline.treeChanged.connect(self.redraw)
        state.trainingChanged.connect(lambda _active: self._update_button())
        self.redraw()

    def redraw(self) -> None:
        self.dirty = False
        runs = self.timeline.tree.runs
        current = self.timeline.tree.current
        self.tree.clear()
        items: dict[int, QTreeWidgetItem] = {}
        for run in sorted(runs.values(), key=lambda r: r.id):
            lineage = self.timeline.run_lineage(run.id)
            if run.id == current and lineage is not None:  # the run in progress counts too
                lineage = dataclasses.replace(lineage, history=self.state.history,
                                              epochs_done=self.state.epochs_done)
            fork = "" if run.fork is None else f"{runs[run.parent].name}, epoch {run.fork[0]}" + (
                f" + {run.fork[1]} batches" if run.fork[1] else "")
            epochs = "" if lineage is None else str(lineage.epochs_done)
            result = "" if lineage is None else final_metric(lineage)
            changes = ", ".join(run.changes()) or ("" if run.parent is None else "none yet")
            name = run.name + (" (current)" if run.id == current else "")
            item = QTreeWidgetItem([name, fork, changes, epochs, result])
            item.setData(0, Qt.ItemDataRole.UserRole, run.id)
            item.setToolTip(2, changes)
            if run.id == current:
                font = QFont(item.font(0))
                font.setBold(True)
                for column in range(len(COLUMNS)):
                    item.setFont(column, font)
            parent = items.get(run.parent) if run.parent is not None else None
            if parent is None:
                self.tree.addTopLevelItem(item)
            else:
                parent.addChild(item)
            items[run.id] = item
        self.tree.expandAll()
        for column in range(len(COLUMNS)):
            self.tree.resizeColumnToContents(column)
        self._update_button()

    def _update_button(self) -> None:
        item = self.tree.currentItem()
        self.go_button.setEnabled(item is not None and not self.state.training)

    def _go(self, item: QTreeWidgetItem | None) -> None:
        if item is not None and not self.state.training:
            self.timeline.go_to(item.data(0, Qt.ItemDataRole.UserRole))

    def export_targets(self) -> list:
        return []  # a table of runs: nothing to export as a plot
