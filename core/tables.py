"""Tables (CSV files with a header row) as datasets: infer, impute, encode.

`load_table(path, target=..., task=...)` reads the file (core.table_reading), decides what each
column is, fits a `TableSchema` (core.table_schema) and encodes every row with it:

- the target is the named column, or the last; rows without a target value are left out;
- the task is classification for a text target or one of few distinct whole numbers (at most
  limits.INFER_CLASSES_UP_TO), regression otherwise; the caller may say which instead;
- a feature column is numeric when every cell that has a value is a number, else categorical
  (one-hot); text columns with very many distinct values (identifiers, free text) and empty
  columns are left out, and said so;
- missing cells are filled with the column's median (numeric) or most frequent category. The
  fill values are computed over all rows of the file, before the split into training,
  validation and test: simple, and it leaks only a column's median into the held-out rows.
  Each filled column is reported in the dataset's notes.

`preview(path)` is what the Data panel shows before loading: the first rows, each column's
inferred kind and missing count, the target and the inferred task (or what is wrong with it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from mlp_studio.core.errors import DataFormatError, SpecError, StudioError
from mlp_studio.core.limits import INFER_CLASSES_UP_TO, MAX_CATEGORIES, MAX_TABLE_CLASSES
from mlp_studio.core.table_reading import Cells, RawTable, read_table, rows_with_target, shown
from mlp_studio.core.table_schema import TableColumn, TableSchema, numbers

TASKS = ("classification", "regression")


@dataclass(frozen=True, eq=False)
class TableData:
    """A table encoded for a network: inputs, targets, the schema that made them, notes."""

    x: np.ndarray  # float32 [N, D]
    y: np.ndarray  # int64 class indices [N], or float32 targets [N]
    schema: TableSchema
    notes: tuple[str, ...]
    source: str

    @property
    def class_names(self) -> list[str]:
        """The classes, or the target's name for a regression (its one output)."""
        return list(self.schema.classes) or [self.schema.target]


@dataclass(frozen=True)
class ColumnSummary:
    name: str
    kind: str  # "numeric" | "categorical" | "left out" (identifier, free text, empty)
    missing: int  # cells without a value
    distinct: int  # distinct values among the others (0 where not counted)
    why: str = ""  # why a column is left out


@dataclass(frozen=True)
class TablePreview:
    source: str
    header: list[str]
    rows: list[list[str]]  # the first rows, as written (stripped)
    total_rows: int
    delimiter: str
    columns: list[ColumnSummary]
    target: str
    task: str | None  # inferred (or as asked); None when the target cannot be used
    problem: str  # what is wrong with the target, "" when it is fine


# ---------------------------------------------------------------- public


def load_table(path: str | Path, *, target: str | None = None,
               task: str | None = None):
    """The table at `path` as a core.dataset.Dataset (kind "table", no official test split:
    preparation carves one out). See the module doc."""
    from mlp_studio.core.dataset import Dataset

    data = table_data(path, target=target, task=task)
    return Dataset(
        name=Path(path).name, kind="table", task=data.schema.task, x_train=data.x,
        y_train=data.y, x_test=None, y_test=None, class_names=data.class_names,
        source=str(path), feature_names=data.schema.feature_names, table=data.schema,
        notes=data.notes,
    )


def table_data(path: str | Path, *, target: str | None = None,
               task: str | None = None) -> TableData:
    """The table at `path` read, its schema fitted and every row encoded (module doc)."""
    if task is not None and task not in TASKS:
        raise SpecError(f"Unknown task '{task}': choose 'classification' or 'regression'.")
    table = read_table(path)
    target = _target_name(table, target)
    table, notes = rows_with_target(table, target, ". Choose the column to predict with "
                                    "--target (or in the Data panel), or fill it in.")
    y, task, classes = _target(table, target, task)
    columns, ignored, column_notes = _fit_columns(table, target)
    notes += column_notes
    if not columns:
        raise DataFormatError(f"{table.source}: no column besides the target '{shown(target)}' "
                              "can be used as an input (they are empty, or identifiers).")
    schema = TableSchema(tuple(columns), target, task, tuple(classes), tuple(ignored))
    return TableData(schema.encode(table), y, schema, tuple(notes), table.source)


def preview(path: str | Path, rows: int = 20, target: str | None = None,
            task: str | None = None) -> TablePreview:
    """What the Data panel shows of a table before it is loaded (module doc). A problem with
    the file itself raises DataFormatError; one with the target is in `problem`."""
    table = read_table(path, head=rows)
    target = _target_name(table, target)
    summaries = [_summary(name, table.column(name), True) for name in table.header]
    inferred, problem = None, ""
    try:
        keep = ~table.column(target).missing
        if not keep.any():
            raise DataFormatError(f"the target column '{shown(target)}' is empty: choose "
                                  "another column")
        _, inferred, _ = _target(table.take(keep), target, task)
    except StudioError as err:
        problem = str(err)
    return TablePreview(table.source, list(table.header), table.head[:rows], table.rows,
                        table.delimiter, summaries, target, inferred, problem)


# ---------------------------------------------------------------- the target


def _target_name(table: RawTable, target: str | None) -> str:
    if target is None:
        return table.header[-1]
    if target not in table.header:
        stripped = target.strip()
        if stripped in table.header:
            return stripped
        raise SpecError(f"{table.source} has no column '{shown(target)}'. Its columns: "
                        f"{', '.join(shown(n) for n in table.header)}.")
    return target


def _target(table: RawTable, name: str, task: str | None) -> tuple[np.ndarray, str, list[str]]:
    """y, the task and the class names of the target column (all its cells have a value)."""
    cells = table.column(name)
    values = None if cells.numbers is None else numbers(table, name, cells, 0.0)
    distinct = np.unique(cells.text if values is None else values)
    if len(distinct) < 2:
        raise DataFormatError(
            f"{table.source}: the target column '{shown(name)}' holds one value only "
            f"('{shown(distinct[0] if values is None else number_class_name(distinct[0]))}'): "
            "there is nothing to learn. Choose another column as the target.")
    if task is None:
        whole = values is not None and bool((distinct == np.round(distinct)).all())
        few = whole and len(distinct) <= INFER_CLASSES_UP_TO
        task = "classification" if values is None or few else "regression"
    if task == "regression":
        if values is None:
            bad = cells.first_text()
            raise SpecError(
                f"{table.source}, line {table.line(bad)}: the target '{shown(name)}' holds "
                f"'{shown(cells.cell(bad))}', not a number: regression predicts numbers. Choose "
                "classification, or another target column.")
        return values.astype(np.float32), task, []
    if len(distinct) > MAX_TABLE_CLASSES:
        raise SpecError(
            f"{table.source}: the target column '{shown(name)}' has {len(distinct):,} distinct "
            f"values: too many classes (at most {MAX_TABLE_CLASSES:,}). If it is a quantity, "
            "choose regression; otherwise choose another target column.")
    codes = np.searchsorted(distinct, cells.text if values is None else values)
    names = ([str(v) for v in distinct] if values is None
             else [number_class_name(v) for v in distinct])
    return codes.astype(np.int64), task, names


def number_class_name(value: float) -> str:
    """A class named by a number: "3", not "3.0"; "0.5" stays."""
    return str(int(value)) if float(value).is_integer() else f"{value:.10g}"


# ---------------------------------------------------------------- feature columns


def _fit_columns(table: RawTable, target: str) -> tuple[list[TableColumn], list[str], list[str]]:
    columns, ignored, notes = [], [], []
    rows = table.rows
    for name in table.header:
        if name == target:
            continue
        cells = table.column(name)
        summary = _summary(name, cells)
        if summary.kind == "left out":
            ignored.append(name)
            notes.append(f"Column '{name}' was left out: {summary.why}.")
            continue
        if summary.kind == "numeric":
            values = numbers(table, name, cells, 0.0)[~cells.missing]
            fill: float | str = float(np.median(values))
            columns.append(TableColumn(name, "numeric", fill))
            filled = f"the median {fill:g}"
        else:
            categories, counts = np.unique(cells.text[~cells.missing], return_counts=True)
            fill = str(categories[int(np.argmax(counts))])
            columns.append(TableColumn(name, "categorical", fill,
                                       tuple(str(c) for c in categories)))
            filled = f"the most frequent value '{fill}'"
        count = summary.missing
        if count:
            notes.append(f"Column '{name}': {count:,} of {rows:,} values missing, filled with "
                         f"{filled} (of all rows).")
    return columns, ignored, notes


def _summary(name: str, cells: Cells, count_numbers: bool = False) -> ColumnSummary:
    """The inferred kind of a column (numeric, categorical or left out) and its counts (the
    distinct numbers only when `count_numbers`: sorting them is the slowest step of a load)."""
    count = int(cells.missing.sum())
    rows = len(cells.missing)
    if count == rows:
        return ColumnSummary(name, "left out", count, 0, "it is empty")
    if cells.numbers is not None:
        distinct = len(np.unique(cells.numbers[~cells.missing])) if count_numbers else 0
        return ColumnSummary(name, "numeric", count, distinct)
    present = rows - count
    distinct = len(np.unique(cells.text[~cells.missing]))
    if (distinct > MAX_CATEGORIES or (distinct > INFER_CLASSES_UP_TO and distinct > present / 2)
            or distinct == present >= 4):  # every row its own value: an identifier
        return ColumnSummary(name, "left out", count, distinct,
                             f"{distinct:,} distinct text values in {rows:,} rows (an "
                             "identifier or free text, not categories)")
    return ColumnSummary(name, "categorical", count, distinct)


