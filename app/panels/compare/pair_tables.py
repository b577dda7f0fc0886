"""The compare view's tables: final metrics of A and B side by side with B − A, and the seeds
table with mean ± spread and the seed-noise verdict (core.seed_summary)."""

from __future__ import annotations

import math

from mlp_studio.core.paired import PairResult, RunOutcome
from mlp_studio.core.seed_summary import SeedSummary
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


def _cell(value: float | None, digits: int = 4, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _table(columns: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.verticalHeader().setVisible(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 6)
    table.setMinimumHeight(120)
    return table


def _fill(table: QTableWidget, rows: list[tuple[str, ...]]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            item = QTableWidgetItem(text)
            if c:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, c, item)


def _macro_f1(run: RunOutcome) -> float | None:
    return None if run.test is None or not len(run.test.f1) else run.test.macro["f1"]


class MetricsTable(QWidget):
    """Final metrics of both runs of one pair."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.table = _table(["", "A", "B", "B − A"])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)

    def show_result(self, result: PairResult | None) -> None:
        if result is None:
            _fill(self.table, [])
            return
        a, b = result.a, result.b
        rows = []

        def row(name, va, vb, digits=4):
            diff = None if va is None or vb is None else vb - va
            rows.append((name, _cell(va, digits), _cell(vb, digits), _cell(diff, digits, True)))

        accuracy = a.metric("accuracy"), b.metric("accuracy")
        if any(math.isfinite(v) for v in accuracy):
            row("test accuracy", *accuracy)
        rmse = a.metric("rmse"), b.metric("rmse")
        if any(math.isfinite(v) for v in rmse):  # a regression's, in the target's units
            row("test RMSE", *rmse)
        row("test loss", a.metric("loss"), b.metric("loss"))
        if _macro_f1(a) is not None:
            row("macro F1", _macro_f1(a), _macro_f1(b))
        last = [run.history.epochs[-1] if run.history.epochs else None for run in (a, b)]
        row("last val loss", *(None if e is None else e.val_loss for e in last))
        row("epochs trained", *(float(len(run.history.epochs)) for run in (a, b)), digits=0)
        rows.append(("best epoch", str(a.best_epoch or "–"), str(b.best_epoch or "–"), ""))
        row("seconds", *(sum(e.seconds for e in run.history.epochs) for run in (a, b)),
            digits=1)
        _fill(self.table, rows)


class SeedsTable(QWidget):
    """Each seed's test metric for A and B, the mean ± std, and whether B − A is beyond noise."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.table = _table(["seed", "A", "B", "B − A"])
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addWidget(self.verdict)

    def show_summary(self, summary: SeedSummary | None) -> None:
        if summary is None:
            _fill(self.table, [])
            self.verdict.setText("")
            return
        self.table.setHorizontalHeaderLabels(
            ["seed", f"A: test {summary.metric}", f"B: {summary.metric}", "B − A"])
        rows = [(str(seed), _cell(va), _cell(vb), _cell(d, signed=True))
                for seed, va, vb, d in zip(summary.seeds, summary.a, summary.b,
                                           summary.differences, strict=True)]  # fmt: skip
        if summary.n > 1:
            spread = [f"{_cell(m, 3)} ± {_cell(s, 3)}" for m, s in
                      (summary.mean_std_a, summary.mean_std_b, summary.mean_std_difference)]
            rows.append(("mean ± std", *spread))
        _fill(self.table, rows)
        self.verdict.setText(summary.verdict())
