"""The diagram's columns: which neurons of a layer are drawn, and where."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QRectF

MAX_ROWS = 16  # neurons drawn per column, the "⋮" slot included
THUMB_ROWS = 11  # fewer, larger neurons in the first hidden layer: they show 28x28 weights


@dataclass
class Column:
    kind: str  # "input" | "hidden" | "output"
    layer: int  # hidden layer index; -1 for the input and output columns
    size: int  # neurons (or patches for an image input) in the layer
    shown: list[int]  # indices of the nodes drawn, top to bottom
    title: str
    subtitle: str
    detail: str = ""  # extras such as "BN · dropout 0.5"
    area: QRectF = field(default_factory=QRectF)  # highlight and click area
    cells: list[QRectF] = field(default_factory=list)  # one per shown node
    gap: QRectF | None = None  # the "⋮" slot between the first and the last neuron
    image: QRectF | None = None  # the big 28x28 input block


def shown_indices(size: int, rows: int = MAX_ROWS) -> list[int]:
    """Which neurons a column draws: all of a small layer, else the first ones and the last
    (`rows` counts the "⋮" slot between them)."""
    size = max(size, 0)
    if size <= rows:
        return list(range(size))
    return [*range(rows - 2), size - 1]
