"""The Data dock's sections (source, samples, task, split, class balance, normalization and a
regression's target scaling): their widgets, built once."""

from __future__ import annotations

from mlp_studio.app.panels.data.balance_chart import BalanceChart, KeepFractionSliders
from mlp_studio.app.panels.data.gallery import SampleGallery
from mlp_studio.app.panels.data.histogram_plot import HistogramPlot
from mlp_studio.app.panels.data.source_chooser import SourceChooser
from mlp_studio.app.panels.data.table_preview import TablePreviewView
from mlp_studio.app.panels.data.target_scaling_box import TargetScalingBox
from mlp_studio.app.widgets.range_note import explain_dropped_keys
from mlp_studio.core.data import NORMALIZATIONS, REMEDIES, long_tail_fractions
from mlp_studio.core.mnist import default_cache_dir
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

NORMALIZATION_LABELS = {
    "none": "None: raw 0–255",
    "unit": "Scale to 0…1 (÷ 255)",
    "symmetric": "Scale to −1…1",
    "standardize": "Standardize (one mean, one std)",
    "per_pixel": "Standardize each pixel",
}
REMEDY_LABELS = {
    "none": "No remedy",
    "oversample": "Oversample rare classes",
    "undersample": "Undersample common classes",
    "class_weights": "Weight the loss per class",
}
REMEDY_TIPS = {
    "none": "Train on the imbalanced data as it is",
    "oversample": "Repeat random images of the rarer classes until every class is as large "
    "as the largest",
    "undersample": "Drop random images of the larger classes until every class is as small "
    "as the smallest",
    "class_weights": "Keep the data; weight each class's loss by N / (C · count) so rare "
    "classes count as much in total",
}


class Section(QWidget):
    """A header button (arrow + bold title) that shows or hides its content."""

    def __init__(self, title: str, content: QWidget, expanded: bool = True):
        super().__init__()
        self.header = QToolButton()
        self.header.setText(title)
        self.header.setCheckable(True)
        self.header.setChecked(expanded)
        self.header.setAutoRaise(True)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        font = QFont(self.header.font())
        font.setBold(True)
        self.header.setFont(font)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        self.content = content
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.header)
        layout.addWidget(line)
        layout.addWidget(content)
        content.layout().setContentsMargins(6, 4, 2, 8)
        self.header.toggled.connect(self._set_expanded)
        self._set_expanded(expanded)

    def _set_expanded(self, expanded: bool) -> None:
        self.header.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow)
        self.content.setVisible(expanded)


def form_row(*widgets: QWidget | str, stretch_last: bool = False) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(6)
    for w in widgets:
        row.addWidget(QLabel(w) if isinstance(w, str) else w)
    if not stretch_last:
        row.addStretch(1)
    return row


class DataSections:
    """DataPanel's section widgets; the panel connects and fills them."""

    def _build_source(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setSpacing(6)
        self.chooser = SourceChooser()
        self.source_label = QLabel()
        self.source_label.setWordWrap(True)
        self.source_label.setTextFormat(Qt.TextFormat.RichText)
        self.open_button = QPushButton("Open folder…")
        self.open_button.setToolTip(
            "A folder with the dataset's four IDX files (raw or .gz) or Keras' .npz"
        )
        self.download_button = QPushButton("Download")
        self.download_button.setToolTip(
            f"Download the dataset's four files (about 11 MB for MNIST, 30 MB for the others) "
            f"into the cache ({default_cache_dir()} for MNIST), check their MD5 and use them"
        )
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.progress_row = QWidget()
        progress = QHBoxLayout(self.progress_row)
        progress.setContentsMargins(0, 0, 0, 0)
        progress.addWidget(self.progress_bar, 1)
        progress.addWidget(self.cancel_button)
        self.progress_row.hide()
        self.family_buttons = QWidget()  # MNIST-format families only
        buttons = QHBoxLayout(self.family_buttons)
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.download_button)
        buttons.addStretch(1)
        self.table_preview = TablePreviewView()
        self.table_preview.hide()
        self.table_caption = QLabel()
        self.table_caption.setWordWrap(True)
        self.table_caption.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.table_caption.hide()
        v.addWidget(self.chooser)
        v.addWidget(self.source_label)
        v.addWidget(self.family_buttons)
        v.addWidget(self.progress_row)
        v.addWidget(self.table_preview)
        v.addWidget(self.table_caption)
        # What the reader did or skipped (imputed values, unreadable files): in the section,
        # where it wraps at the panel's width, not in a one-line banner.
        self.notes_label = QLabel()
        self.notes_label.setWordWrap(True)
        self.notes_label.setTextFormat(Qt.TextFormat.PlainText)
        self.notes_label.hide()
        v.addWidget(self.notes_label)
        self.open_button.clicked.connect(self.choose_folder)
        self.download_button.clicked.connect(self.download)
        self.cancel_button.clicked.connect(self.cancel_download)
        self.chooser.sourceRequested.connect(self.load_source)
        self.chooser.kindChanged.connect(self._on_kind_chosen)
        self._set_source_text(
            "No data loaded yet.",
            "Open a folder holding MNIST, or download it (about 11 MB).",
        )
        return box

    def _build_samples(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        self.gallery = SampleGallery()
        v.addWidget(self.gallery)
        return box

    def _build_task(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        self.task_combo = QComboBox()
        self.task_combo.addItem("Which digit is it? (10 classes)", None)
        for d in range(10):
            self.task_combo.addItem(f"Is it a {d}? (yes / no)", d)
        self.task_combo.setToolTip(
            "A binary task relabels every image as “d” or “not d”; the network gets two outputs"
        )
        v.addWidget(self.task_combo)
        self.task_combo.currentIndexChanged.connect(self._on_task)
        return box

    def _build_split(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setSpacing(6)
        self.official_radio = QRadioButton("Official test set + validation from training")
        self.pooled_radio = QRadioButton("Pool all 70,000 and split by percentages")
        self.test_val_radio = QRadioButton("All for training; the test set validates (Keras)")
        self.test_val_radio.setToolTip(
            "As Keras' examples do: train on every training image and validate on the test "
            "set. Then no epoch may be chosen by the validation results (that would choose by "
            "the test results): training keeps the last epoch's weights.")
        self.mode_group = QButtonGroup(box)
        for radio in (self.official_radio, self.pooled_radio, self.test_val_radio):
            self.mode_group.addButton(radio)
            v.addWidget(radio)

        # official: validation as % of the training images, or as a count
        self.val_pct = QDoubleSpinBox()
        self.val_pct.setRange(0.1, 90.0)
        self.val_pct.setDecimals(1)
        self.val_pct.setSingleStep(1.0)
        self.val_pct.setSuffix(" %")
        self.val_count = QSpinBox()
        self.val_count.setRange(1, 59_999)
        self.val_count.setSingleStep(500)
        self.val_count.setGroupSeparatorShown(True)
        self.val_stack = QStackedWidget()
        self.val_stack.addWidget(self.val_pct)
        self.val_stack.addWidget(self.val_count)
        self.val_stack.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.val_unit = QComboBox()
        self.val_unit.addItem("% of training", "fraction")
        self.val_unit.addItem("images", "count")
        official = QWidget()
        official.setLayout(form_row("Validation:", self.val_stack, self.val_unit))

        # pooled: three percentages that always sum to 100
        self.pooled_spins: list[QSpinBox] = []
        pooled_row = []
        for name in ("Train", "Val", "Test"):
            spin = QSpinBox()
            spin.setRange(1, 98)
            spin.setSuffix(" %")
            spin.setToolTip("The three percentages always add up to 100: the others follow")
            self.pooled_spins.append(spin)
            pooled_row += [name, spin]
        pooled = QWidget()
        pooled.setLayout(form_row(*pooled_row))
        self.mode_stack = QStackedWidget()
        self.mode_stack.addWidget(official)
        self.mode_stack.addWidget(pooled)
        test_val = QLabel("Validation figures are test figures here: turn off “Keep the best "
                          "epoch” in the training settings.")
        test_val.setWordWrap(True)
        self.mode_stack.addWidget(test_val)
        self.mode_stack.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        v.addWidget(self.mode_stack)

        self.stratified_check = QCheckBox("Stratified")
        self.stratified_check.setToolTip("Every split gets the same share of each class")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 999_999)
        self.seed_spin.setToolTip("Seed of every random step: split, subset, imbalance, remedy")
        v.addLayout(form_row(self.stratified_check, "   Seed:", self.seed_spin))

        self.subset_check = QCheckBox("Train on a subset of")
        self.subset_spin = QSpinBox()
        self.subset_spin.setRange(10, 70_000)
        self.subset_spin.setSingleStep(1000)
        self.subset_spin.setValue(6000)
        self.subset_spin.setGroupSeparatorShown(True)
        self.subset_spin.setToolTip("Fewer training images: faster epochs (validation and test "
                                    "stay whole)")  # fmt: skip
        explain_dropped_keys(self.val_pct, self.val_count, *self.pooled_spins, self.seed_spin,
                             self.subset_spin)
        self.subset_unit = QLabel("images")  # "rows" for a table
        v.addLayout(form_row(self.subset_check, self.subset_spin, self.subset_unit))

        self.split_counts = QLabel()
        self.split_counts.setWordWrap(True)
        v.addWidget(self.split_counts)

        self.mode_group.buttonToggled.connect(lambda _button, checked: checked and self._on_mode())
        self.val_unit.currentIndexChanged.connect(self._on_val)
        self.val_pct.valueChanged.connect(self._on_val)
        self.val_count.valueChanged.connect(self._on_val)
        for i, spin in enumerate(self.pooled_spins):
            spin.valueChanged.connect(lambda _value, i=i: self._on_pooled(i))
        self.stratified_check.toggled.connect(self._on_split_misc)
        self.seed_spin.valueChanged.connect(self._on_split_misc)
        self.subset_check.toggled.connect(self._on_split_misc)
        self.subset_spin.valueChanged.connect(self._on_split_misc)
        return box

    def _build_balance(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setSpacing(6)
        self.balance_chart = BalanceChart()
        v.addWidget(self.balance_chart)
        self.hint_label = QLabel()
        self.hint_label.setWordWrap(True)
        self.hint_label.setTextFormat(Qt.TextFormat.RichText)
        self.hint_label.hide()
        v.addWidget(self.hint_label)

        self.balance_controls = QWidget()
        c = QVBoxLayout(self.balance_controls)
        c.setContentsMargins(0, 0, 0, 0)
        c.setSpacing(4)
        caption = QLabel("Training samples kept per class:")
        self.keep_sliders = KeepFractionSliders()
        self.long_tail_button = QPushButton("Long tail")
        self.long_tail_button.setToolTip(
            "Keep 100% of the 0s down to 5% of the 9s (geometric): a typical real-world skew"
        )
        self.balanced_button = QPushButton("Balanced")
        self.balanced_button.setToolTip("Keep every training image")
        self.remedy_combo = QComboBox()
        for key in REMEDIES:
            self.remedy_combo.addItem(REMEDY_LABELS[key], key)
            self.remedy_combo.setItemData(
                self.remedy_combo.count() - 1, REMEDY_TIPS[key], Qt.ItemDataRole.ToolTipRole
            )
        c.addWidget(caption)
        c.addWidget(self.keep_sliders)
        c.addLayout(form_row(self.long_tail_button, self.balanced_button))
        c.addLayout(form_row("Remedy:", self.remedy_combo))
        v.addWidget(self.balance_controls)

        self.keep_sliders.changed.connect(self._on_keep)
        self.long_tail_button.clicked.connect(
            # whole percents, as the sliders show them
            lambda: self.keep_sliders.set_fractions(
                tuple(round(100 * f) / 100 for f in long_tail_fractions()))
        )
        self.balanced_button.clicked.connect(
            lambda: self.keep_sliders.set_fractions((1.0,) * len(self.keep_sliders.sliders))
        )
        self.remedy_combo.currentIndexChanged.connect(self._on_remedy)
        return box

    def _build_normalization(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setSpacing(4)
        self.normalization_combo = QComboBox()
        for key in NORMALIZATIONS:
            self.normalization_combo.addItem(NORMALIZATION_LABELS[key], key)
        self.normalization_text = QLabel()
        self.normalization_text.setWordWrap(True)
        self.raw_hist = HistogramPlot("Before (raw)")
        self.norm_hist = HistogramPlot("After")
        plots = QGridLayout()
        plots.setContentsMargins(0, 0, 0, 0)
        plots.setHorizontalSpacing(4)
        plots.addWidget(self.raw_hist, 0, 0)
        plots.addWidget(self.norm_hist, 0, 1)
        self.hist_caption = QLabel("Pixel values of the training images (log count)")
        self.hist_caption.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        v.addWidget(self.normalization_combo)
        v.addWidget(self.normalization_text)
        v.addLayout(plots)
        v.addWidget(self.hist_caption)
        self.target_scaling_box = TargetScalingBox()  # shown for a regression's data only
        self.target_scaling_box.setVisible(False)
        v.addWidget(self.target_scaling_box)
        self.normalization_combo.currentIndexChanged.connect(self._on_normalization)
        self.target_scaling_box.kindChosen.connect(self._on_target_scaling)
        return box
