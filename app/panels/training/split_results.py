"""What the Confusion and Predictions tabs share: the results of the validation and test
splits, and the box that picks which of them shows."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox


class SplitResults:
    """A mixin for a view with `_show()` that draws `current()`; `_init_split_results()` in
    its __init__ makes the store and the `source` box."""

    SOURCES = ("validation", "test")

    def _init_split_results(self) -> None:
        self._results: dict[str, object] = {}
        self.dirty = False
        self.source = QComboBox()
        self.source.addItem("Validation set (latest epoch)", "validation")
        self.source.addItem("Test set (after training)", "test")
        self.source.currentIndexChanged.connect(self._show)

    def show_split(self, split: str) -> None:
        self.source.setCurrentIndex(self.SOURCES.index(split))

    def current(self):
        return self._results.get(self.source.currentData())

    def redraw(self) -> None:
        self.dirty = False
        self._show()

    def clear(self) -> None:
        self._results.clear()
        self.redraw()

    def _show(self) -> None:
        raise NotImplementedError
