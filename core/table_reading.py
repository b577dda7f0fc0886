"""Reading a CSV table that anybody could have written: bounded, checked, column by column.

`read_table` returns the header and each column's cells (numbers when they all are, the text
otherwise, and which are missing), with the file line of every data row for messages. Every
problem is a DataFormatError that names the file (and the line) and says what to do: not a
regular file, too large, not UTF-8, empty, one column only, no header row, duplicate column
names, ragged rows.

Speed: a table of numbers only goes through numpy's C parser (np.loadtxt); any other through
the csv module (C), then a float() per cell in one pass per column (map, no Python loop body).
"""

from __future__ import annotations

import csv
import io
import stat
from dataclasses import dataclass
from functools import cached_property
from itertools import islice
from pathlib import Path

import numpy as np
from mlp_studio.core.errors import DataFormatError
from mlp_studio.core.limits import MAX_TABLE_BYTES
from mlp_studio.core.reading import read_regular
from mlp_studio.core.text import terminal_safe

DELIMITERS = (",", ";", "\t")
TABLE_SUFFIXES = (".csv", ".tsv")  # what core.dataset.load_data reads as a table
# Cells that mean "no value". Not "nan" or "inf": in a number column those are non-finite
# numbers, refused with a message (brief: bad input, not silently missing).
MISSING = frozenset(("", "NA", "N/A", "n/a", "na", "#N/A", "NULL", "null", "?", "<NA>"))
SNIFF_LINES = 50


@dataclass(frozen=True, eq=False)
class Cells:
    """One column's cells: which are missing, their numbers if every other cell is one, and
    the text as written (stripped)."""

    missing: np.ndarray  # bool [N]
    numbers: np.ndarray | None  # float64 [N] (NaN where missing); None when a cell is text
    text: np.ndarray | None  # object [N] of str; None when read straight as numbers

    def take(self, keep: np.ndarray) -> Cells:
        return Cells(self.missing[keep], None if self.numbers is None else self.numbers[keep],
                     None if self.text is None else self.text[keep])

    def cell(self, row: int) -> str:
        if self.text is not None:
            return str(self.text[row])
        return "" if self.missing[row] else f"{self.numbers[row]:g}"

    def first_text(self) -> int:
        """Row of the first cell (with a value) that is not a number; -1 when there is none."""
        if self.text is None:
            return -1
        for row in np.flatnonzero(~self.missing):
            if not _is_number(str(self.text[row])):
                return int(row)
        return -1


@dataclass(frozen=True, eq=False)
class RawTable:
    """A CSV file's cells: the header names and one Cells per column."""

    source: str  # the path, for messages
    header: list[str]
    columns: list[Cells]
    lines: np.ndarray  # int64 [N]: the file line each data row ends on
    delimiter: str
    head: list[list[str]]  # the first data rows as written (for a preview)

    @property
    def rows(self) -> int:
        return len(self.lines)

    def column(self, name: str) -> Cells:
        return self.columns[self._index[name]]

    @cached_property
    def _index(self) -> dict[str, int]:
        # header.index() per column made a 20,000-column table take minutes (quadratic).
        return {name: i for i, name in reversed(list(enumerate(self.header)))}

    def line(self, row: int) -> int:
        return int(self.lines[row])

    def take(self, keep: np.ndarray) -> RawTable:
        """The rows where `keep`."""
        return RawTable(self.source, self.header, [c.take(keep) for c in self.columns],
                        self.lines[keep], self.delimiter, self.head)


def rows_with_target(table: RawTable, target: str, if_empty: str
                     ) -> tuple[RawTable, list[str]]:
    """The rows with a value in the `target` column, and a note on those left out;
    DataFormatError ending in `if_empty` (what to do) when no row has one."""
    keep = ~table.column(target).missing
    if not keep.any():
        raise DataFormatError(f"{table.source}: the target column '{shown(target)}' is "
                              f"empty{if_empty}")
    if keep.all():
        return table, []
    dropped = int((~keep).sum())
    return table.take(keep), [
        f"{dropped:,} row{'s' if dropped > 1 else ''} without a value in the target column "
        f"'{target}' {'were' if dropped > 1 else 'was'} left out."]


def shown(cell: object, limit: int = 40) -> str:
    """A cell or name quoted in a message: escaped (it is the file's text) and shortened."""
    text = str(cell)
    return terminal_safe(text[:limit]) + ("..." if len(text) > limit else "")


def read_text(path: str | Path, kind: str = "CSV file") -> str:
    """The file's text: a regular UTF-8 file of at most MAX_TABLE_BYTES."""
    path = Path(path)
    try:
        info = path.stat()
        if stat.S_ISREG(info.st_mode) and info.st_size > MAX_TABLE_BYTES:
            raise DataFormatError(
                f"{path} is {info.st_size / 1e6:,.0f} MB: MLP Studio reads tables of up to "
                f"{MAX_TABLE_BYTES / 1e6:,.0f} MB (about two million rows of ten columns). Use "
                "a sample of its rows, or fewer columns.")
        data = read_regular(path, MAX_TABLE_BYTES, kind)  # refuses FIFOs and devices
    except IsADirectoryError:
        raise DataFormatError(f"{path} is a folder, not a {kind}: choose the .csv file "
                              "itself.") from None
    except FileNotFoundError:
        raise DataFormatError(f"{path} does not exist: check the name and folder.") from None
    except OSError as err:
        raise DataFormatError(f"Cannot read {path}: {err.strerror or err}.") from None
    if not data.strip():
        raise DataFormatError(f"{path} is empty: a table needs a header row naming its "
                              "columns and at least one row of values.")
    try:
        return data.decode("utf-8-sig")  # -sig: Excel's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise DataFormatError(
            f"{path} is not UTF-8 text (line {line} holds the byte 0x{data[err.start]:02X}): "
            "save it as UTF-8 (Excel: 'CSV UTF-8'; LibreOffice: character set 'Unicode "
            "(UTF-8)') and load it again.") from None


def sniff_delimiter(text: str) -> str:
    """The delimiter (comma, semicolon or tab) that splits the first lines into the most
    columns, the same number on each; a comma when none splits them."""
    sample = "\n".join(text.splitlines()[:SNIFF_LINES])
    best, best_width = ",", 1
    for delimiter in DELIMITERS:
        try:
            rows = [len(row) for row in csv.reader(io.StringIO(sample), delimiter=delimiter)
                    if row]
        except csv.Error:
            continue
        widths = set(rows)
        # The last sampled line may be cut inside a quoted cell: allow one odd width. The
        # header must be as wide as the rows: 'a;b;label' over '0,5;1,2;x' (decimal commas)
        # is one column by commas.
        width = max(widths, default=1)
        if len(widths) <= 2 and width > best_width and rows[0] == width:
            best, best_width = delimiter, width
    return best


def read_table(path: str | Path, head: int = 20) -> RawTable:
    """The header and the cells of a CSV file with a header row (see module doc); `head`
    first rows are kept as written for a preview."""
    text = read_text(path)
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        first = next((row for row in reader if row), None)
        header_lines = reader.line_num
        preview = list(islice(filter(None, reader), max(head, 1)))
    except csv.Error as err:
        raise _csv_error(path, reader.line_num, err) from None
    if first is None:
        raise DataFormatError(f"{path} is empty: a table needs a header row naming its "
                              "columns and at least one row of values.")
    header = [cell.strip() for cell in first]
    _check_header(path, header, delimiter)
    if not preview:
        raise DataFormatError(f"{path} has a header row but no rows of values below it.")
    table = _numbers_only(path, text, header, header_lines, delimiter)
    if table is None:
        table = _any_cells(path, text, header, delimiter)
    return RawTable(str(path), header, table[0], table[1], delimiter,
                    [[cell.strip() for cell in row] for row in preview])


def _numbers_only(path, text: str, header: list[str], header_lines: int,
                  delimiter: str) -> tuple[list[Cells], np.ndarray] | None:
    """The fast path for a table of numbers only, every cell filled and finite: numpy's C
    parser, three times as fast as the csv module plus a float() per cell. None when the
    table is anything else (the general path then finds and names any problem)."""
    try:
        values = np.loadtxt(io.StringIO(text, newline=""), delimiter=delimiter,
                            skiprows=header_lines, comments=None, quotechar='"', ndmin=2,
                            dtype=np.float64)
    except ValueError:
        return None
    if values.shape[1] != len(header) or not np.isfinite(values).all():
        return None
    # loadtxt skips blank lines: number the rows by the lines that hold something.
    lines = 1 + np.flatnonzero([bool(line.strip()) for line in text.splitlines()])
    lines = lines[lines > header_lines]
    if len(lines) != len(values):
        return None  # line breaks csv and splitlines count differently: take the general path
    none = np.zeros(len(values), bool)
    return [Cells(none, np.ascontiguousarray(v), None) for v in values.T], lines


def _any_cells(path, text: str, header: list[str],
               delimiter: str) -> tuple[list[Cells], np.ndarray]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for row in reader:
            if row:  # blank lines are skipped
                rows.append(row)
                lines.append(reader.line_num)
    except csv.Error as err:
        raise _csv_error(path, reader.line_num, err) from None
    width = len(header)
    for row, line in zip(rows[1:], lines[1:], strict=True):
        if len(row) != width:
            raise DataFormatError(
                f"{path}, line {line}: {len(row)} values, but the header names {width} "
                f"columns. Every row needs one value per column (leave a cell empty for a "
                f"missing value, and quote cells that contain '{_name(delimiter)}').")
    columns = [_cells(cells, delimiter) for cells in zip(*rows[1:], strict=True)]
    return columns, np.asarray(lines[1:], np.int64)


def _csv_error(path, line: int, err: csv.Error) -> DataFormatError:
    if "field limit" in str(err):
        return DataFormatError(
            f"{path}, line {line}: a cell is longer than {csv.field_size_limit():,} characters. "
            "A quote that is never closed makes the rest of the file one cell: close it; a cell "
            "that long (a document, an image in text) is nothing a network can learn from: "
            "remove that column, then load the file again.")
    return DataFormatError(f"{path}, line {line}: {err}. Fix that line (a quote that is never "
                           "closed, or a NUL byte) and load it again.")


def _cells(cells: tuple[str, ...], delimiter: str) -> Cells:
    """One column parsed: numbers in one pass when every cell is one (the common case)."""
    n = len(cells)
    try:
        return Cells(np.zeros(n, bool), np.fromiter(map(float, cells), np.float64, n), None)
    except ValueError:
        pass
    text = np.array([c.strip() for c in cells], dtype=object)
    missing = np.fromiter((c in MISSING for c in text), bool, n)
    present = text[~missing]
    numbers = _floats(present, delimiter)
    if numbers is None:
        return Cells(missing, None, text)
    values = np.full(n, np.nan)
    values[~missing] = numbers
    return Cells(missing, values, text)


def _floats(cells: np.ndarray, delimiter: str) -> np.ndarray | None:
    """float64 of cells that all hold numbers, else None. With ';' between cells a decimal
    comma ("3,5") is read too: that is how spreadsheets in much of Europe write CSV."""
    try:
        return np.fromiter(map(float, cells), np.float64, len(cells))
    except ValueError:
        pass
    if delimiter == ";":
        try:
            return np.fromiter((float(c.replace(",", ".")) for c in cells), np.float64,
                               len(cells))
        except ValueError:
            pass
    return None


def _name(delimiter: str) -> str:
    return {"\t": "tab"}.get(delimiter, delimiter)


def _check_header(path, header: list[str], delimiter: str) -> None:
    if len(header) < 2:
        raise DataFormatError(
            f"{path} has a single column: a table needs at least one feature column and a "
            "target column, separated by commas, semicolons or tabs.")
    if all(_is_number(cell) for cell in header):
        raise DataFormatError(
            f"{path} has no header row: its first row is all numbers ({shown(', '.join(header))})."
            f" Add a first line naming the columns, e.g. "
            f"'{_name(delimiter).join(f'x{i + 1}' for i in range(len(header) - 1))}"
            f"{_name(delimiter)}target'.")
    for i, name in enumerate(header):
        if not name:
            header[i] = f"column {i + 1}"
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise DataFormatError(f"{path}: the header names the column '{shown(name)}' "
                                  "twice. Give every column its own name.")
        seen.add(name)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
