"""Combo boxes that never cut their choices short."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox


def fit_to_items(box: QComboBox) -> None:
    """Never narrower than its longest item: a combo box's minimum ignores its texts, so a
    splitter or a narrow side panel squeezed "Sparse categorical cross-entropy" to
    "Sparse categorical c…". Call it again after the items change."""
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    box.setMinimumWidth(box.sizeHint().width())
