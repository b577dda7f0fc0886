"""The experiment's undo entries: a network edit, the network and training settings taken
together, going back to earlier weights, a data-settings edit. Each applies its change through
the experiment's own setters."""

from __future__ import annotations

from typing import Any

from mlp_studio.core.lineage import Lineage
from mlp_studio.core.model import MLP, NetworkSpec
from mlp_studio.core.training import Finished
from PySide6.QtGui import QUndoCommand

# The commands' `state` is the Experiment, which imports this module (so no import back).
Experiment = Any


class SpecEdit(QUndoCommand):
    def __init__(
        self, state: Experiment, old: NetworkSpec, new: NetworkSpec, text: str, merge: str = ""
    ):
        super().__init__(text)
        self._state, self._old, self._new = state, old, new
        self._merge = merge

    def id(self) -> int:
        # Qt offers mergeWith only to commands sharing an id != -1; the key decides the rest.
        return 1 if self._merge else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SpecEdit) or other._merge != self._merge:
            return False
        self._new = other._new
        self.setObsolete(self._new == self._old)  # stepped back to the start: drop the entry
        return True

    def redo(self) -> None:
        self._state._apply_spec(self._new)

    def undo(self) -> None:
        self._state._apply_spec(self._old)


class SettingsEdit(QUndoCommand):
    """The network and the training settings (and maybe the data settings) changed together:
    a suggestion or a preset taken."""

    def __init__(self, state: Experiment, old: tuple, new: tuple, text: str):
        super().__init__(text)
        self._state, self._old, self._new = state, old, new

    def redo(self) -> None:
        self._state._apply_settings(*self._new)

    def undo(self) -> None:
        self._state._apply_settings(*self._old)


class GoBack(QUndoCommand):
    """Going back to the weights a run started from because it left them worse (see
    core.lineage.EarlierModel); undo takes the run's weights again. Once the weights have
    moved on (another run, other weights), there is nothing left to swap: the entry goes."""

    def __init__(self, state: Experiment, model: MLP, run_weights: dict, run_lineage: Lineage,
                 result: Finished | None):
        super().__init__("Go back to the earlier weights")
        earlier = run_lineage.earlier
        self._state, self._model = state, model
        self._sides = ((earlier.weights, earlier.lineage, None),
                       (run_weights, run_lineage, result))  # fmt: skip

    def redo(self) -> None:
        self._swap(0)

    def undo(self) -> None:
        self._swap(1)

    def _swap(self, side: int) -> None:
        state = self._state
        current = self._sides[1 - side][1]
        if state.model is not self._model or state.lineage is not current or state.training:
            self.setObsolete(True)
            return
        state._swap_weights(*self._sides[side])


class DataEdit(SpecEdit):
    """The same for the data settings (the Data panel shows and prepares what it gets)."""

    def id(self) -> int:
        return 2 if self._merge else -1  # never merged with a spec edit

    def mergeWith(self, other: QUndoCommand) -> bool:
        merged = super().mergeWith(other)
        if merged:
            self.setText(other.text())  # "Keep 50% of the 3s": where the drag ended
        return merged

    def redo(self) -> None:
        self._state.set_data_config(self._new)

    def undo(self) -> None:
        self._state.set_data_config(self._old)
