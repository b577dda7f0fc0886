"""How a table's columns become a model's numeric inputs: kept with the model, so that the rows
of a new file are encoded exactly as the training rows were.

A `TableSchema` lists the feature columns in order, each numeric (one input, a missing cell
filled with the training data's median) or categorical (one input per category, one-hot, a
missing cell filled with the most frequent category), the target column and its classes.
`encode` turns a file's cells (core.table_reading.RawTable) into float32 [N, D] and names the
line and column of any cell it cannot encode. The plain-dict form goes into sessions and into
every exported model's description.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from mlp_studio.core.errors import DataFormatError, SpecError
from mlp_studio.core.table_reading import Cells, RawTable, shown

KINDS = ("numeric", "categorical")


@dataclass(frozen=True)
class TableColumn:
    name: str
    kind: str  # "numeric" | "categorical"
    fill: float | str  # what a missing cell becomes: the median, or the most frequent category
    categories: tuple[str, ...] = ()  # categorical: sorted; one input each, in this order

    @property
    def features(self) -> list[str]:
        """The names of this column's inputs: its own, or "name=category" per category."""
        if self.kind == "numeric":
            return [self.name]
        return [f"{self.name}={c}" for c in self.categories]


@dataclass(frozen=True)
class TableSchema:
    columns: tuple[TableColumn, ...]  # the feature columns, in the file's order
    target: str
    task: str  # "classification" | "regression"
    classes: tuple[str, ...] = ()  # the target's classes, sorted; () for regression
    ignored: tuple[str, ...] = ()  # the file's other columns, left out (identifiers, empty)

    @property
    def feature_names(self) -> list[str]:
        return [name for column in self.columns for name in column.features]

    @property
    def input_size(self) -> int:
        return len(self.feature_names)

    def describe(self) -> str:
        """The inputs in a sentence, for the description in an exported file."""
        parts = []
        for c in self.columns:
            if c.kind == "numeric":
                parts.append(f"{c.name} (number; missing -> {c.fill:g})")
            else:
                parts.append(f"{c.name} (one-hot over {', '.join(c.categories)}; missing -> "
                             f"{c.fill})")
        return "; ".join(parts)

    # ------------------------------------------------------------ encoding

    def encode(self, table: RawTable) -> np.ndarray:
        """float32 [N, input_size] of the table's rows (its columns found by name; the target
        and any other column are ignored). DataFormatError naming the line and column of a
        cell that does not fit: text in a number column, a non-finite number, a category the
        model never saw."""
        names = set(table.header)
        missing_columns = [c.name for c in self.columns if c.name not in names]
        if missing_columns:
            raise DataFormatError(
                f"{table.source} has no column {', '.join(map(repr, missing_columns))}: the "
                f"model takes the columns {', '.join(c.name for c in self.columns)} (in any "
                "order, with the same header names as the training file).")
        x = np.empty((table.rows, self.input_size), np.float32)
        at = 0
        for column in self.columns:
            cells = table.column(column.name)
            if column.kind == "numeric":
                x[:, at] = numbers(table, column.name, cells, column.fill)
                at += 1
            else:
                codes = _category_codes(table, column, cells)
                width = len(column.categories)
                x[:, at: at + width] = 0.0
                x[np.arange(table.rows), at + codes] = 1.0
                at += width
        return x

    # ------------------------------------------------------------ plain-dict form

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [{"name": c.name, "kind": c.kind, "fill": c.fill,
                         "categories": list(c.categories)} for c in self.columns],
            "target": self.target,
            "task": self.task,
            "classes": list(self.classes),
            "ignored": list(self.ignored),
        }

    @classmethod
    def from_dict(cls, doc: object) -> TableSchema:
        """The schema of `to_dict`; SpecError saying what is wrong with a damaged one."""
        if not isinstance(doc, dict):
            raise SpecError("its table description is not a mapping")
        raw_columns = doc.get("columns")
        if not isinstance(raw_columns, list) or not raw_columns:
            raise SpecError("its table description lists no columns")
        columns = [_column_from_dict(c, i) for i, c in enumerate(raw_columns)]
        target, task = doc.get("target"), doc.get("task")
        classes, ignored = doc.get("classes", []), doc.get("ignored", [])
        if not isinstance(target, str) or task not in ("classification", "regression"):
            raise SpecError("its table description has no target column name or task")
        if not _strings(classes) or not _strings(ignored):
            raise SpecError("its table description's classes or ignored columns are not text")
        if len({c.name for c in columns}) != len(columns):
            raise SpecError("its table description names a column twice")
        return cls(tuple(columns), target, task, tuple(classes), tuple(ignored))


def numbers(table: RawTable, name: str, cells: Cells, fill: float) -> np.ndarray:
    """float64 [N] of a number column, missing cells set to `fill`; DataFormatError naming
    the line of a cell that is text or not finite."""
    if cells.numbers is None:
        bad = cells.first_text()
        raise DataFormatError(
            f"{table.source}, line {table.line(bad)}: column '{shown(name)}' holds "
            f"'{shown(cells.cell(bad))}', not a number. Fix the cell, or leave it empty for a "
            "missing value.")
    bad_cells = ~np.isfinite(cells.numbers) & ~cells.missing
    if bad_cells.any():
        bad = int(np.argmax(bad_cells))
        # A column of numbers keeps no text: 1e400 or 400 digits read as inf, too.
        what = f"'{shown(cells.cell(bad))}'"
        if cells.text is None and np.isinf(cells.numbers[bad]):
            what += " (infinite, or a number too large to store, beyond 1.8e308)"
        raise DataFormatError(
            f"{table.source}, line {table.line(bad)}: column '{shown(name)}' holds "
            f"{what}, which is not a finite number. Replace it with a "
            "number, or leave the cell empty for a missing value (it is then filled in).")
    return np.where(cells.missing, fill, cells.numbers)


def _category_codes(table: RawTable, column: TableColumn, cells: Cells) -> np.ndarray:
    """Each row's category index; DataFormatError naming a category the model never saw."""
    if cells.text is None:  # a column of numbers only: its categories are its numbers' text
        text = np.array([cells.cell(i) for i in range(table.rows)], dtype=object)
    else:
        text = cells.text
    filled = np.where(cells.missing, column.fill, text).astype(object)
    categories = np.array(column.categories, dtype=object)
    codes = np.minimum(np.searchsorted(categories, filled), len(categories) - 1)
    unknown = categories[codes] != filled
    if unknown.any():
        bad = int(np.argmax(unknown))
        raise DataFormatError(
            f"{table.source}, line {table.line(bad)}: column '{shown(column.name)}' holds "
            f"'{shown(filled[bad])}', a category the model never saw in training (it knows "
            f"{_some(column.categories)}). Use one of those, or leave the cell empty (it is "
            f"then taken as '{shown(column.fill)}').")
    return codes


def _some(categories: tuple[str, ...], limit: int = 10) -> str:
    shown_ = ", ".join(f"'{shown(c)}'" for c in categories[:limit])
    more = len(categories) - limit
    return shown_ + (f" and {more} more" if more > 0 else "")


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _column_from_dict(doc: object, i: int) -> TableColumn:
    where = f"its table description's column {i + 1}"
    if not isinstance(doc, dict):
        raise SpecError(f"{where} is not a mapping")
    name, kind, fill = doc.get("name"), doc.get("kind"), doc.get("fill")
    categories = doc.get("categories", [])
    if not isinstance(name, str) or kind not in KINDS or not _strings(categories):
        raise SpecError(f"{where} needs a name, a kind ({' or '.join(KINDS)}) and categories")
    if kind == "numeric":
        if isinstance(fill, bool) or not isinstance(fill, (int, float)) or not math.isfinite(
                fill):
            raise SpecError(f"{where} ({name}) has no finite number to fill missing cells")
        return TableColumn(name, kind, float(fill))
    if not categories or categories != sorted(set(categories)) or fill not in categories:
        raise SpecError(f"{where} ({name}) needs sorted, distinct categories including its "
                        "fill value")
    return TableColumn(name, kind, fill, tuple(categories))
