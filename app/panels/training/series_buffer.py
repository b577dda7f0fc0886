"""Growing columns of numbers for long live curves: amortised appends, decimated when too long."""

from __future__ import annotations

import numpy as np
from mlp_studio.core.training import BatchProgress

MAX_BATCH_POINTS = 200_000


class SeriesBuffer:
    """Rows of float64 columns (x, y1, y2, ...) that grow by doubling.

    Past `max_points` rows it keeps every other row and from then on accepts only every
    `stride`-th offered row, so memory stays bounded while the history still spans the whole run.
    """

    def __init__(self, columns: int, max_points: int = MAX_BATCH_POINTS, capacity: int = 256):
        self._data = np.empty((columns, capacity))
        self._n = 0
        self.max_points = max_points
        self.stride = 1  # keep one offered row in `stride`
        self._offered = 0  # rows offered so far (kept or not)

    def __len__(self) -> int:
        return self._n

    @property
    def columns(self) -> int:
        return self._data.shape[0]

    def column(self, index: int) -> np.ndarray:
        """A view of the kept values of one column (valid until the next append)."""
        return self._data[index, : self._n]

    def append(self, rows: np.ndarray) -> None:
        """Append rows given as an array [columns, k]."""
        rows = np.asarray(rows, dtype=np.float64).reshape(self.columns, -1)
        k = rows.shape[1]
        if self.stride > 1:
            offered = self._offered + np.arange(k)
            rows = rows[:, offered % self.stride == 0]
        self._offered += k
        m = rows.shape[1]
        if self._n + m > self._data.shape[1]:
            capacity = max(2 * self._data.shape[1], self._n + m)
            grown = np.empty((self.columns, capacity))
            grown[:, : self._n] = self._data[:, : self._n]
            self._data = grown
        self._data[:, self._n : self._n + m] = rows
        self._n += m
        while self._n > self.max_points:
            self._decimate()

    def _decimate(self) -> None:
        # A new array, not an in-place shuffle: pyqtgraph may still hold views of the old one.
        kept = self._data[:, : self._n : 2]
        self._data = np.empty((self.columns, max(self._data.shape[1], 256)))
        self._n = kept.shape[1]
        self._data[:, : self._n] = kept
        self.stride *= 2

    def clear(self) -> None:
        self._n = 0
        self.stride = 1
        self._offered = 0


def batch_positions(event: BatchProgress) -> np.ndarray:
    """x of each loss in a BatchProgress, in epochs (batch b of epoch e is e - 1 + b / batches).

    The trainer flushes its pending losses at every epoch end, so one event never spans epochs.
    """
    k = len(event.losses)
    batches = np.arange(event.batch - k + 1, event.batch + 1, dtype=np.float64)
    return (event.epoch - 1) + batches / event.batches_per_epoch
