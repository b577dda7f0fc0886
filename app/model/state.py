"""The document the panels edit: network spec, data and training settings, the model.

Panels never talk to each other; they write here and listen to the signals. Network edits go
through the undo stack; everything else is set directly.
"""

from __future__ import annotations

import copy

from mlp_studio.core.data import DataConfig, Normalization, PreparedData
from mlp_studio.core.model import MLP, NetworkSpec, build_model
from mlp_studio.core.training import TrainConfig
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack


class _SpecEdit(QUndoCommand):
    def __init__(
        self, state: StudioState, old: NetworkSpec, new: NetworkSpec, text: str, merge: str = ""
    ):
        super().__init__(text)
        self._state, self._old, self._new = state, old, new
        self._merge = merge

    def id(self) -> int:
        # Qt offers mergeWith only to commands sharing an id != -1; the key decides the rest.
        return 1 if self._merge else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, _SpecEdit) or other._merge != self._merge:
            return False
        self._new = other._new
        self.setObsolete(self._new == self._old)  # stepped back to the start: drop the entry
        return True

    def redo(self) -> None:
        self._state._apply_spec(self._new)

    def undo(self) -> None:
        self._state._apply_spec(self._old)


class StudioState(QObject):
    specChanged = Signal(object)  # NetworkSpec
    trainConfigChanged = Signal(object)  # TrainConfig
    dataConfigChanged = Signal(object)  # DataConfig
    dataChanged = Signal(object)  # PreparedData | None
    modelChanged = Signal(object)  # MLP | None: new weights (built, reset, loaded, trained)
    trainingChanged = Signal(bool)  # a run is active: structural edits are disabled

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self._spec = NetworkSpec()
        self._train_config = TrainConfig()
        self._data_config = DataConfig()
        self._data: PreparedData | None = None
        self._model: MLP | None = None
        self._model_normalization: Normalization | None = None
        self._training = False

    # ---- network spec (undoable) ----

    @property
    def spec(self) -> NetworkSpec:
        return copy.deepcopy(self._spec)

    def edit_spec(self, spec: NetworkSpec, text: str, merge: str = "") -> None:
        """An undoable design edit; `text` is what Edit > Undo shows ("Add layer").

        Consecutive edits with the same non-empty `merge` key (e.g. spin-box steps of one field)
        become a single undo entry.
        """
        if spec == self._spec:
            return
        old, new = copy.deepcopy(self._spec), copy.deepcopy(spec)
        self.undo_stack.push(_SpecEdit(self, old, new, text, merge))

    def replace_spec(self, spec: NetworkSpec) -> None:
        """Set the spec without undo history (new session, opened file)."""
        self.undo_stack.clear()
        self._apply_spec(copy.deepcopy(spec))

    def _apply_spec(self, spec: NetworkSpec) -> None:
        self._spec = copy.deepcopy(spec)
        self.set_model(None)
        self.specChanged.emit(self.spec)

    # ---- settings ----

    @property
    def train_config(self) -> TrainConfig:
        return copy.deepcopy(self._train_config)

    def set_train_config(self, config: TrainConfig) -> None:
        if config != self._train_config:
            self._train_config = copy.deepcopy(config)
            self.trainConfigChanged.emit(self.train_config)

    @property
    def data_config(self) -> DataConfig:
        return copy.deepcopy(self._data_config)

    def set_data_config(self, config: DataConfig) -> None:
        if config != self._data_config:
            self._data_config = copy.deepcopy(config)
            self.dataConfigChanged.emit(self.data_config)

    # ---- prepared data and the model ----

    @property
    def data(self) -> PreparedData | None:
        return self._data

    def set_data(self, data: PreparedData | None) -> None:
        """New prepared data; the output layer follows its number of classes."""
        self._data = data
        if data is not None:
            size = int(data.x_train.shape[1])
            if (self._spec.input_size, self._spec.output_size) != (size, data.num_classes):
                spec = self.spec
                spec.input_size, spec.output_size = size, data.num_classes
                self.replace_spec(spec)
        self.dataChanged.emit(data)

    @property
    def model(self) -> MLP | None:
        return self._model

    def set_model(self, model: MLP | None, normalization: Normalization | None = None) -> None:
        """New weights; `normalization` is what they expect when they did not learn from the
        loaded data (an imported model or an opened session)."""
        self._model = model
        self._model_normalization = normalization
        self.modelChanged.emit(model)

    @property
    def model_normalization(self) -> Normalization | None:
        """What the current weights expect (canvas and export use it): their own until they
        train on the loaded data, then the data's."""
        if self._model_normalization is not None:
            return self._model_normalization
        return self._data.normalization if self._data is not None else None

    def ensure_model(self) -> MLP:
        """The current model, built from the spec (seeded) if there is none yet."""
        if self._model is None:
            self.set_model(build_model(self._spec))
        return self._model

    @property
    def training(self) -> bool:
        return self._training

    def set_training(self, active: bool) -> None:
        if active != self._training:
            self._training = active
            if active:  # from now on the weights learn the loaded data's normalization
                self._model_normalization = None
            self.trainingChanged.emit(active)
