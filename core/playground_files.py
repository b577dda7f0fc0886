"""Playground points from a list (drawn by hand) or a CSV file."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from mlp_studio.core.errors import DataFormatError, DataNotFoundError, SpecError
from mlp_studio.core.playground import (
    CLASS_NAMES,
    EXTENT,
    MAX_CLASSES,
    MAX_POINTS,
    REGRESSION_NAME,
    Points,
)
from mlp_studio.core.reading import read_regular
from mlp_studio.core.text import terminal_safe

MAX_CSV_BYTES = 200 * MAX_POINTS  # generous for MAX_POINTS lines of three numbers
MAX_CSV_VALUE = 1e6  # x1^2 and its variance stay far inside float32


def _shown(cell: str) -> str:
    """A cell quoted in a message: escaped (it is the file's text) and at most 40 characters."""
    return terminal_safe(cell[:40]) + ("..." if len(cell) > 40 else "")


def points_from_list(
    points: Sequence[tuple[float, float, float]],
    task: str = "classification",
    classes: int | None = None,
    extent: tuple[float, float, float, float] = EXTENT,
) -> Points:
    """A dataset from user points (x1, x2, label): class indices 0..C-1 or real targets.

    `classes` fixes the number of classes (a drawing may not use every class yet).
    """
    if task not in ("classification", "regression"):
        raise SpecError(f"Unknown task '{task}': choose 'classification' or 'regression'.")
    rows = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if not np.isfinite(rows).all():
        raise SpecError("Every point needs finite coordinates and label (no NaN or infinity).")
    xy = rows[:, :2].astype(np.float32)
    if task == "regression":
        return Points(xy, rows[:, 2].astype(np.float32), task, (REGRESSION_NAME,), extent, "drawn")
    labels = rows[:, 2]
    if (labels != np.round(labels)).any() or (labels < 0).any():
        raise SpecError("Class labels of points must be whole numbers 0, 1, 2, ...")
    count = max(int(labels.max()) + 1 if len(labels) else 0, classes or 0, 2)
    if count > MAX_CLASSES:
        raise SpecError(f"{count} classes is too many: the playground shows at most {MAX_CLASSES}.")
    return Points(xy, labels.astype(np.int64), task, CLASS_NAMES[:count], extent, "drawn")


def load_points_csv(path: str | Path, task: str = "classification") -> Points:
    """Read `x1,x2,label` lines (an optional header line first; blank lines are skipped).

    Classification labels must be whole numbers; at most MAX_CLASSES distinct ones, mapped in
    increasing order to classes 0..C-1 and named as written (e.g. "-1", "1").
    DataFormatError names the file and the line of the first problem.
    """
    path = Path(path)
    name = path.name
    if task not in ("classification", "regression"):
        raise SpecError(f"Unknown task '{task}': choose 'classification' or 'regression'.")
    try:
        # A FIFO would block (the GUI thread) and /dev/zero never ends: regular files only.
        data = read_regular(path, MAX_CSV_BYTES, "CSV file")
        text = data.decode("utf-8-sig")  # -sig: Excel writes a byte-order mark
    except FileNotFoundError:
        raise DataNotFoundError(f"{path} does not exist: choose another file.") from None
    except IsADirectoryError:
        raise DataFormatError(f"{path} is a folder: choose a .csv file.") from None
    except UnicodeDecodeError:
        raise DataFormatError(
            f"{name} is not a text file: expected lines x1,x2,label such as 0.5,-1.2,1."
        ) from None
    except OSError as err:
        raise DataFormatError(f"{name} cannot be read: {err.strerror or err}.") from None

    rows: list[tuple[float, float, float]] = []
    first = True
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(",")]
        is_first, first = first, False
        if is_first and len(cells) == 3 and not all(_is_number(c) for c in cells):
            continue  # a header line such as "x1,x2,label"
        if len(cells) != 3:
            raise DataFormatError(
                f"{name} line {number}: expected 3 comma-separated values x1,x2,label, "
                f"got {len(cells)}"
            )
        values = []
        for cell, column in zip(cells, ("x1", "x2", "label"), strict=True):
            try:
                value = float(cell)
            except ValueError:
                raise DataFormatError(
                    f"{name} line {number}: {column} '{_shown(cell)}' is not a number"
                ) from None
            if not math.isfinite(value):
                raise DataFormatError(
                    f"{name} line {number}: {column} '{_shown(cell)}' is not a finite "
                    "number"
                )
            if abs(value) > MAX_CSV_VALUE:  # 1e39 is inf in float32; squares overflow sooner
                raise DataFormatError(
                    f"{name} line {number}: {column} '{_shown(cell)}' is too large: "
                    f"values must lie between -{MAX_CSV_VALUE:,.0f} and {MAX_CSV_VALUE:,.0f} "
                    "(rescale the column)"
                )
            values.append(value)
        if task == "classification" and values[2] != round(values[2]):
            raise DataFormatError(
                f"{name} line {number}: label '{_shown(cells[2])}' is not a whole number; "
                "class labels must be whole numbers such as 0, 1, 2 (import the file as real "
                "values for regression)"
            )
        rows.append((values[0], values[1], values[2]))
        if len(rows) > MAX_POINTS:
            raise DataFormatError(
                f"{name} has more than {MAX_POINTS:,} points: use a smaller file."
            )
    if not rows:
        raise DataFormatError(
            f"{name} has no points: expected one point per line as x1,x2,label, e.g. 0.5,-1.2,1"
        )
    data = np.asarray(rows, dtype=np.float64)
    xy = data[:, :2].astype(np.float32)
    extent = fit_extent(xy)
    if task == "regression":
        return Points(
            xy, data[:, 2].astype(np.float32), task, (REGRESSION_NAME,), extent, str(path)
        )
    values, labels = np.unique(data[:, 2], return_inverse=True)
    if len(values) > MAX_CLASSES:
        raise DataFormatError(
            f"{name} has {len(values)} different labels: the playground supports at most "
            f"{MAX_CLASSES} classes (import the file as real values for regression)"
        )
    names = tuple(str(int(v)) for v in values)
    return Points(xy, labels.astype(np.int64), task, names, extent, str(path))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def fit_extent(xy: np.ndarray, margin: float = 0.1) -> tuple[float, float, float, float]:
    """A square around the points, `margin` of its size to spare on each side.

    Points inside Playground's square keep it, so imported Playground-like data looks the same.
    """
    if len(xy) == 0:
        return EXTENT
    lo, hi = xy.min(0).astype(np.float64), xy.max(0).astype(np.float64)
    if (lo >= EXTENT[0]).all() and (hi <= EXTENT[1]).all():
        return EXTENT
    centre = (lo + hi) / 2
    half = max(float((hi - lo).max()) / 2 * (1 + 2 * margin), 1e-3)
    return (centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half)
