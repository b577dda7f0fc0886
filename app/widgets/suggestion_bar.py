"""An offer of a data source's suggested settings, shown while they are not in use."""

from __future__ import annotations

from mlp_studio.app.model.experiment import SOURCES, Experiment
from mlp_studio.core.presets import PRESETS, matches
from mlp_studio.core.suggestions import SUGGESTIONS
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStyle,
    QToolButton,
    QWidget,
)


class SuggestionBar(QFrame):
    """'Suggested for MNIST digits: ...  [Use these settings]': one click, one undo entry."""

    def __init__(self, state: Experiment, source: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.state, self.source = state, source
        self.suggestion = SUGGESTIONS[source]
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        self.label = QLabel(f"Suggested for {SOURCES[source]}: {self.suggestion.text}.")
        self.label.setWordWrap(True)
        self.button = QPushButton("Use these settings")
        self.button.setToolTip("Replace the network's hidden layers and the training settings "
                               "with these (Edit > Undo brings yours back)")
        self.button.clicked.connect(self.apply)
        self.close_button = QToolButton()
        self.close_button.setAutoRaise(True)
        self.close_button.setIcon(
            self.style().standardIcon(QStyle.StandardPixmap.SP_TitleBarCloseButton))
        self.close_button.setToolTip("Keep my settings (offered again when the data changes)")
        self.close_button.clicked.connect(self.dismiss)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)
        layout.addWidget(self.close_button)
        self._dismissed = False
        for signal in (state.specChanged, state.trainConfigChanged, state.dataConfigChanged,
                       state.trainingChanged):
            signal.connect(lambda *_: self._update())
        state.sourceChanged.connect(self._on_source)
        state.dataSourceChanged.connect(self._on_source)
        self._update()

    def dismiss(self) -> None:
        self._dismissed = True
        self._update()

    def _on_source(self, _source: str) -> None:
        self._dismissed = False  # other data: the offer stands again
        self._update()

    def apply(self) -> None:
        self.state.apply_suggestion(self.suggestion,
                                    f"Settings suggested for {SOURCES[self.source]}")

    def _update(self) -> None:
        state = self.state
        data = state.data_source  # the MNIST suggestion is for MNIST, not any data panel data
        other = self.source == "mnist" and data is not None and (data.kind, data.dataset) != (
            "mnist", "mnist")
        self.setVisible(state.source == self.source and not other and not state.training
                        and not self._dismissed
                        and not self.suggestion.followed_by(state.spec, state.train_config)
                        and not _preset_held(state))


def _preset_held(state: Experiment) -> bool:
    """A preset chosen on purpose (core.presets) is not second-guessed by a suggestion."""
    spec, train, data = state.spec, state.train_config, state.data_config
    return any(matches(preset, spec, train, data) for preset in PRESETS.values())
