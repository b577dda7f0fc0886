"""The sweep's trials as a sortable table, filtered to the trials a brush selects."""

from __future__ import annotations

import math

from mlp_studio.core.sweep_data import higher_is_better
from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
STATES = {"COMPLETE": "done", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running",
          "WAITING": "queued"}


def _item(text: str, sort_value, tip: str = "") -> QStandardItem:
    item = QStandardItem(text)
    item.setData(sort_value, SORT_ROLE)
    item.setEditable(False)
    if tip:
        item.setToolTip(tip)
    if isinstance(sort_value, int | float):
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def _number(value) -> tuple[str, float]:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "", -math.inf
    return (f"{value:.4g}" if isinstance(value, float) else str(value)), float(value)


class _Filter(QSortFilterProxyModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.allowed: set[int] | None = None
        self.setSortRole(SORT_ROLE)

    def filterAcceptsRow(self, row: int, parent: QModelIndex) -> bool:  # noqa: N802 (Qt's)
        if self.allowed is None:
            return True
        number = self.sourceModel().index(row, 0, parent).data(SORT_ROLE)
        return number in self.allowed


class TrialTable(QTableView):
    trialChosen = Signal(int)  # the trial of the current row (-1: none)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.source = QStandardItemModel(self)
        self.proxy = _Filter(self)
        self.proxy.setSourceModel(self.source)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAlternatingRowColors(True)
        self.verticalHeader().hide()
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.selectionModel().currentRowChanged.connect(lambda *_: self._emit_current())
        self._param_names: list[str] = []
        self._shown: tuple = ()

    def set_columns(self, param_names: list[str], metric: str) -> None:
        self._param_names = list(param_names)
        self._shown = ()
        self.source.clear()
        self.source.setHorizontalHeaderLabels(
            ["trial", "state", metric.replace("-", " "), *param_names, "epochs", "seconds"])
        self.sortByColumn(2, Qt.SortOrder.DescendingOrder if higher_is_better(metric)
                          else Qt.SortOrder.AscendingOrder)  # the best first

    def set_trials(self, trials: list) -> None:
        key = tuple((t.number, t.state, t.value, t.epochs) for t in trials)
        if key == self._shown:
            return  # nothing new: keep the selection and scroll position as they are
        self._shown = key
        current = self.current_trial()
        self.setSortingEnabled(False)
        self.source.removeRows(0, self.source.rowCount())
        for t in trials:
            value_text, value_sort = _number(t.value)
            row = [_item(str(t.number), t.number),
                   _item(STATES.get(t.state, t.state.lower()), t.state, t.error),
                   _item(value_text, value_sort)]
            for name in self._param_names:
                text, sort = _number(t.params.get(name)) if not isinstance(
                    t.params.get(name), str) else (t.params[name], t.params[name])
                if isinstance(t.params.get(name), bool):
                    text, sort = ("on" if t.params[name] else "off"), int(t.params[name])
                row.append(_item(text.replace("/", ",") if isinstance(text, str) else text,
                                 sort))
            row.append(_item(str(t.epochs), t.epochs))
            seconds_text, seconds_sort = _number(t.seconds)
            row.append(_item(f"{t.seconds:.1f}" if t.seconds is not None else "", seconds_sort))
            self.source.appendRow(row)
        self.setSortingEnabled(True)
        self.resizeColumnsToContents()
        if current is not None:
            self.select_trial(current)

    def set_allowed(self, allowed: set[int] | None) -> None:
        proxy = self.proxy
        if hasattr(proxy, "beginFilterChange"):  # Qt 6.9+; invalidateFilter is deprecated
            proxy.beginFilterChange()
            proxy.allowed = None if allowed is None else set(allowed)
            proxy.endFilterChange()
        else:
            proxy.allowed = None if allowed is None else set(allowed)
            proxy.invalidateFilter()

    def visible_trials(self) -> list[int]:
        return [self.proxy.index(r, 0).data(SORT_ROLE) for r in range(self.proxy.rowCount())]

    def current_trial(self) -> int | None:
        index = self.currentIndex()
        if not index.isValid():
            return None
        return self.proxy.index(index.row(), 0).data(SORT_ROLE)

    def select_trial(self, number: int) -> None:
        for r in range(self.proxy.rowCount()):
            if self.proxy.index(r, 0).data(SORT_ROLE) == number:
                self.selectRow(r)
                return

    def _emit_current(self) -> None:
        number = self.current_trial()
        self.trialChosen.emit(-1 if number is None else number)
