"""The experiment: the one model of what the user is doing, which every panel reads and writes.

It owns the data source and its prepared data, the network spec (with undo), the training
settings, the current weights and what they expect (normalization, class and feature names),
their lineage (every run's history, the best weights, the optimizer's state) with the run in
progress, and the last run's result. Each field has a signal, emitted only when it changes.
Panels never talk to each other; they write here and listen to the signals.
"""

from __future__ import annotations

import copy
import math

from mlp_studio.app.model.checkpoint_view import Timeline
from mlp_studio.app.model.paired_runs import PairedRuns
from mlp_studio.app.model.undo_commands import DataEdit, GoBack, SettingsEdit, SpecEdit
from mlp_studio.core.data import DataConfig, Normalization, PreparedData
from mlp_studio.core.data_source import DataSource
from mlp_studio.core.lineage import Lineage
from mlp_studio.core.losses import REGRESSION_LOSSES, canonical_loss
from mlp_studio.core.model import MLP, NetworkSpec, build_model
from mlp_studio.core.playground_settings import PlaygroundSettings
from mlp_studio.core.presets import Preset, with_preset
from mlp_studio.core.session_history import merge_history
from mlp_studio.core.suggestions import Suggestion
from mlp_studio.core.training import EpochRecord, Finished, History, TrainConfig
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

# What trains: "mnist" is the Data panel's data (MNIST, another family, an image folder or a
# table: `data_source` says which), "playground" the Playground panel's points.
SOURCES = {"mnist": "MNIST digits", "playground": "Playground points"}


class Experiment(QObject):
    specChanged = Signal(object)  # NetworkSpec
    trainConfigChanged = Signal(object)  # TrainConfig
    dataConfigChanged = Signal(object)  # DataConfig
    dataChanged = Signal(object)  # PreparedData | None
    modelChanged = Signal(object)  # MLP | None: new weights (built, reset, loaded, trained)
    trainingChanged = Signal(bool)  # a run is active: structural edits are disabled
    sourceChanged = Signal(str)  # what trains: a key of SOURCES
    # The lineage was replaced (new weights, an opened session, an import): views that show
    # history redraw it from `history`; during a run they follow the controller's events.
    historyReplaced = Signal(object)  # History
    resultChanged = Signal(object)  # Finished | None: how the last run of these weights ended
    runStateChanged = Signal(str)  # "idle" | "running" | "paused" | "stopping"
    notice = Signal(str)  # something the user should know that they did not ask for
    # The Playground's data settings: written by its panel as the user changes them (a
    # session stores them); `playgroundSettingsApplied` asks the panel to show others (opened).
    playgroundSettingsChanged = Signal(object)  # PlaygroundSettings
    playgroundSettingsApplied = Signal(object)  # PlaygroundSettings
    dataLocationChanged = Signal(str)  # the MNIST folder the data comes from
    # What the Data panel's data is and how it was read (an opened session names one: the
    # panel loads it); None until data is loaded.
    dataSourceChanged = Signal(object)  # DataSource | None
    probeChanged = Signal(object)  # int | None: the validation sample whose activations show
    evaluationChanged = Signal(object, str)  # Metrics of the test split, what was evaluated

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self._spec = NetworkSpec()
        self._train_config = TrainConfig()
        self._data_config = DataConfig()
        self._data: PreparedData | None = None
        self._data_made_with: DataConfig | None = None  # the settings `_data` was prepared with
        self._model: MLP | None = None
        self._model_normalization: Normalization | None = None
        self._class_names: list[str] | None = None  # the model's own (imported, opened)
        self._feature_names: list[str] = []  # the data's input features (playground, table)
        self._table = None  # a table's core.table_schema.TableSchema (how a row is encoded)
        self._training = False
        self._source = "mnist"
        self._lineage = Lineage()
        self._run = History()  # the run in progress, from the controller's events
        self._result: Finished | None = None
        self._rate = 0.0
        self._run_state = "idle"
        self._playground_settings: PlaygroundSettings | None = None
        self._data_location = ""
        self._data_source: DataSource | None = None
        self._probe_index: int | None = None
        self.timeline = Timeline(self)  # checkpoints, the one shown, the run tree
        # "Duplicate with one change" (the Compare panel): never trains beside the run above.
        self.paired = PairedRuns(self, other_run=lambda: self._training)

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
        self.undo_stack.push(SpecEdit(self, old, new, text, merge))

    def replace_spec(self, spec: NetworkSpec) -> None:
        """Set the spec without undo history (new session, opened file)."""
        self.undo_stack.clear()
        self._apply_spec(copy.deepcopy(spec))

    def apply_settings(self, spec: NetworkSpec, config: TrainConfig, data_config: DataConfig,
                       text: str) -> None:
        """The network, training and data settings at once, as one undoable edit (a lesson)."""
        if (spec, config, data_config) == (self._spec, self._train_config, self._data_config):
            return
        self.undo_stack.push(SettingsEdit(
            self, (self.spec, self.train_config, self.data_config),
            (copy.deepcopy(spec), copy.deepcopy(config), copy.deepcopy(data_config)), text))

    def _apply_settings(self, spec: NetworkSpec, config: TrainConfig,
                        data_config: DataConfig | None = None) -> None:
        self.set_train_config(config)
        if data_config is not None:
            self.set_data_config(data_config)
        if spec != self._spec:
            self._apply_spec(spec)

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

    def edit_train_config(self, config: TrainConfig, text: str) -> None:
        """An undoable change of the training settings (a found learning rate taken)."""
        if config != self._train_config:
            self.undo_stack.push(SettingsEdit(self, (self.spec, self.train_config),
                                              (self.spec, copy.deepcopy(config)), text))

    @property
    def data_config(self) -> DataConfig:
        return copy.deepcopy(self._data_config)

    def edit_data_config(self, config: DataConfig, text: str, merge: str = "") -> None:
        """An undoable change of the data settings, on the same undo stack as design edits;
        consecutive edits with the same non-empty `merge` key (a slider drag) are one entry."""
        if config == self._data_config:
            return
        old, new = copy.deepcopy(self._data_config), copy.deepcopy(config)
        self.undo_stack.push(DataEdit(self, old, new, text, merge))

    def set_data_config(self, config: DataConfig) -> None:
        if config != self._data_config:
            self._data_config = copy.deepcopy(config)
            self.dataConfigChanged.emit(self.data_config)

    # ---- prepared data and the model ----

    @property
    def data(self) -> PreparedData | None:
        return self._data

    def set_data(self, data: PreparedData | None) -> None:
        """New prepared data. A network that does not fit it (inputs, outputs) is fitted, with
        fresh weights, as an undoable edit, and the user is told so."""
        self._data = data
        self._data_made_with = copy.deepcopy(self._data_config) if self._source == "mnist" else None
        if data is not None:
            size = int(data.x_train.shape[1])
            if (self._spec.input_size, self._spec.output_size) != (size, data.num_classes):
                old = (self._spec.input_size, self._spec.output_size)
                spec = self.spec
                spec.input_size, spec.output_size = size, data.num_classes
                self.edit_spec(spec, "Fit the network to the data")
                self.notice.emit(
                    f"The network took {old[0]} inputs and gave {old[1]} outputs; "
                    f"{self.source_name()} has {size} values per sample and "
                    f"{data.num_classes} {'classes' if data.task != 'regression' else 'target'}"
                    ", so it now fits them, with fresh weights (Edit > Undo restores the "
                    "previous network).")
        self.dataChanged.emit(data)

    def data_out_of_date(self) -> bool:
        """The Data panel's data trains, and its settings have changed since it was prepared
        (a lesson or an undo set new ones): the data of the new settings is on its way."""
        return (self._data is not None and self._data_made_with is not None
                and self._source == "mnist" and self._data_made_with != self._data_config)

    def fit_loss_to_task(self, task: str, previous: str | None) -> str:
        """A regression needs a regression loss (MSE); after one (`previous` task), classes
        get cross-entropy back (MSE on classes stays a choice otherwise). Returns what was
        done ("" if nothing)."""
        config = self.train_config
        regression = canonical_loss(config.loss) in REGRESSION_LOSSES
        if task == "regression" and not regression:
            config.loss = "mse"
        elif task == "classification" and regression and previous == "regression":
            config.loss = "sparse_categorical_cross_entropy"
        else:
            return ""
        self.set_train_config(config)
        return f"Loss set to {config.loss.replace('_', ' ')} for this {task} problem."

    def apply_suggestion(self, suggestion: Suggestion, text: str) -> None:
        """Take a data source's suggested network and training settings (one undoable edit)."""
        self.undo_stack.push(SettingsEdit(
            self, (self.spec, self.train_config),
            (suggestion.spec(self._spec), suggestion.train_config(self._train_config)), text))

    def apply_run_settings(self, spec: NetworkSpec, config: TrainConfig, text: str) -> None:
        """Take another run's network and training settings, e.g. a sweep's trial (one undoable
        edit)."""
        new = (copy.deepcopy(spec), copy.deepcopy(config))
        if new != (self._spec, self._train_config):
            self.undo_stack.push(SettingsEdit(self, (self.spec, self.train_config), new, text))

    def apply_preset(self, preset: Preset) -> None:
        """Take a preset's network, training and data settings (one undoable edit)."""
        old = (self.spec, self.train_config, self.data_config)
        new = with_preset(preset, *old)
        if new != old:
            self.undo_stack.push(SettingsEdit(self, old, new, f"Use {preset.title}"))

    @property
    def model(self) -> MLP | None:
        return self._model

    def set_model(
        self,
        model: MLP | None,
        normalization: Normalization | None = None,
        lineage: Lineage | None = None,
        class_names: list[str] | None = None,
    ) -> None:
        """New weights with their past (`lineage`: none for fresh weights); `normalization` and
        `class_names` are theirs when they did not learn from the loaded data (an imported
        model or an opened session). The same model again (it trained) keeps its lineage."""
        if model is not self._model or lineage is not None:
            self._model_normalization = normalization
            self._class_names = list(class_names) if class_names is not None else None
            self._replace_lineage(lineage if lineage is not None else Lineage())
        self._model = model
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
                self._class_names = None
                self._run = History()
                self.set_result(None)
            self.trainingChanged.emit(active)

    # ---- the data source ----

    @property
    def run_owns_model(self) -> bool:
        """A run is training right now (not paused): views take its snapshots and leave the
        model alone. Paused, the model holds what the views show (the run's latest weights or
        a checkpoint, app.model.checkpoint_view) and views read it as between runs."""
        return self._training and self._run_state != "paused"

    @property
    def source(self) -> str:
        return self._source

    def set_source(self, source: str) -> None:
        """Choose what trains (the panel of that source publishes its data)."""
        if source not in SOURCES:
            raise ValueError(f"unknown data source {source!r}")
        if source != self._source:
            self._source = source
            self.sourceChanged.emit(source)

    def source_name(self) -> str:
        """What trains, for people: "Playground points", "Fashion-MNIST", "table wine.csv"."""
        source = self._data_source
        if self._source == "mnist" and source is not None:
            return source.describe()
        return SOURCES[self._source]

    @property
    def data_source(self) -> DataSource | None:
        return self._data_source

    def set_data_source(self, source: DataSource | None) -> None:
        """The Data panel's data now comes from `source` (it loaded it), or should (an opened
        session: the panel loads it)."""
        if source != self._data_source:
            self._data_source = source
            self.dataSourceChanged.emit(source)

    @property
    def playground_settings(self) -> PlaygroundSettings | None:
        return self._playground_settings

    def set_playground_settings(self, settings: PlaygroundSettings, apply: bool = False) -> None:
        """The Playground's settings now (its panel), or to be shown there (`apply`: an opened
        session; the panel applies them and publishes its points if it trains)."""
        # The panel's first word is no change the user made (a fresh launch is unmodified).
        changed = self._playground_settings is not None and (
            settings.to_dict() != self._playground_settings.to_dict())
        self._playground_settings = settings
        if apply:
            self.playgroundSettingsApplied.emit(settings)
        elif changed:
            self.playgroundSettingsChanged.emit(settings)

    @property
    def probe_index(self) -> int | None:
        """The validation sample whose activations the views follow (None without data)."""
        data, i = self._data, self._probe_index
        return i if data is not None and i is not None and 0 <= i < len(data.x_val) else None

    def set_probe_index(self, index: int | None) -> None:
        if index != self._probe_index:
            self._probe_index = index
            self.probeChanged.emit(self.probe_index)

    def probe(self):
        """The probe sample, normalized, [1, D] (a copy), or None."""
        i = self.probe_index
        return None if i is None else self._data.x_val[i : i + 1].numpy().copy()

    def show_evaluation(self, metrics, what: str) -> None:
        """Test-split metrics of the current model, measured outside training."""
        self.evaluationChanged.emit(metrics, what)

    @property
    def data_location(self) -> str:
        """The folder MNIST is loaded from ("" before any)."""
        return self._data_location

    def set_data_location(self, folder: str) -> None:
        if folder != self._data_location:
            self._data_location = folder
            self.dataLocationChanged.emit(folder)

    @property
    def feature_names(self) -> list[str]:
        """The names of the data's inputs (playground features), [] for pixels."""
        data = self._data
        names = self._feature_names
        return list(names) if data is not None and len(names) == data.x_train.shape[1] else []

    def set_feature_names(self, names: list[str], table=None) -> None:
        """The data's inputs by name, and for a table how a CSV row becomes them (its
        core.table_schema.TableSchema, which exports and sessions keep)."""
        self._feature_names = list(names)
        self._table = table

    @property
    def table_schema(self):
        """The loaded table's TableSchema when the data is a table, else None."""
        return self._table if self.feature_names else None

    def input_shape(self) -> tuple[int, ...]:
        """One sample of the current network's input (the model's, else the spec's): (H, W)
        grayscale or (H, W, 3) colour pixels, or (D,) values. The loaded data's shape when it
        fits; else 28x28 pixels for 784 inputs without feature names (as exports assume)."""
        model = self._model
        size = model.spec.input_size if model is not None else self._spec.input_size
        data = self._data
        if data is not None and math.prod(data.input_shape) == size:
            return tuple(int(v) for v in data.input_shape)
        return (28, 28) if size == 28 * 28 and not self.feature_names else (size,)

    def class_names(self, output_size: int | None = None) -> list[str]:
        """What each output means: the model's own names (imported, opened) until it trains
        on the loaded data, then the data's; numbers when neither fits."""
        size = output_size if output_size is not None else self._spec.output_size
        names = self._class_names
        if names is not None and len(names) == size:
            return list(names)
        data = self._data
        if data is not None and len(data.class_names) == size:
            return list(data.class_names)
        digit = self._data_config.target_digit
        if digit is not None and size == 2:
            return [f"not {digit}", str(digit)]
        return [str(i) for i in range(size)]

    # ---- history: the lineage of the current weights and the run in progress ----

    @property
    def lineage(self) -> Lineage:
        return self._lineage

    def _replace_lineage(self, lineage: Lineage) -> None:
        self._lineage = lineage
        self._run = History()
        self.set_result(None)
        self.historyReplaced.emit(self.history)

    def set_lineage(self, lineage: Lineage) -> None:
        """A run has ended: `lineage` now holds it (the controller calls this)."""
        self._lineage = lineage
        self._run = History()

    def go_back(self) -> bool:
        """Undoably load the weights the last run started from, kept because the run left
        them worse (Lineage.earlier), with their history; False if there are none."""
        lineage, model = self._lineage, self._model
        if lineage.earlier is None or model is None or self._training:
            return False
        run_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.undo_stack.push(GoBack(self, model, run_weights, lineage, self._result))
        return True

    def _swap_weights(self, weights: dict, lineage: Lineage, result: Finished | None) -> None:
        self._model.load_state_dict(weights)
        self._lineage, self._run, self._result = lineage, History(), result
        self.historyReplaced.emit(self.history)
        self.resultChanged.emit(result)
        self.modelChanged.emit(self._model)

    @property
    def history(self) -> History:
        """Every epoch the current weights have trained, the run in progress included."""
        if not self._run.epochs and not self._run.batch_losses:
            return self._lineage.history
        return merge_history(self._lineage.history, self._run)

    @property
    def epochs_done(self) -> int:
        return self._lineage.epochs_done + len(self._run.epochs)

    def record_batch_losses(self, losses) -> None:
        self._run.batch_losses.extend(float(v) for v in losses)

    def record_grad_norms(self, step: int, norms) -> None:
        self._run.grad_norms.append((int(step), [float(v) for v in norms]))

    def record_epoch(self, record: EpochRecord) -> None:
        self._run.epochs.append(record)

    @property
    def run_state(self) -> str:
        return self._run_state

    def set_run_state(self, value: str) -> None:
        """The controller's: "idle", "running", "paused" or "stopping"."""
        if value != self._run_state:
            self._run_state = value
            if value != "running":
                self._rate = 0.0  # nothing trains: no speed to show
            self.runStateChanged.emit(value)

    @property
    def rate(self) -> float:
        """Training speed in samples/s, smoothed; 0 unless a run is training right now (one
        figure for every readout)."""
        return self._rate

    def set_rate(self, rate: float) -> None:
        self._rate = max(0.0, rate)

    @property
    def result(self) -> Finished | None:
        return self._result

    def set_result(self, result: Finished | None) -> None:
        if result is not self._result:
            self._result = result
            self.resultChanged.emit(result)
