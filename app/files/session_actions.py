"""The File menu's sessions and models: new/open/save sessions, recent files, import, export,
and the crash-recovery autosave.

FileActions keeps what the state does not: the training history of the current weights (across
runs), the best weights, the epochs done, the file the session lives in. It follows the training
controller's signals, autosaves to a recovery file after every epoch, and offers that file at
the next launch if the app did not close cleanly.

Saving runs on a worker thread (a 784-512-512-10 session takes ~0.2 s on a slow CPU); the GUI
thread only copies the weights.
"""

from __future__ import annotations

import copy
import logging
import math
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import platformdirs
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.core.bundle import bundle_of
from mlp_studio.core.data import DataConfig, Normalization
from mlp_studio.core.errors import StudioError
from mlp_studio.core.export import ModelBundle, verification_pixels
from mlp_studio.core.lineage import Lineage
from mlp_studio.core.model import NetworkSpec, build_model, describe
from mlp_studio.core.model_import import InputRangeNeeded, import_model
from mlp_studio.core.outputs import plan_output
from mlp_studio.core.playground_settings import PlaygroundSettings
from mlp_studio.core.session import (
    SUFFIX,
    Session,
    load_session,
    save_session,
)
from mlp_studio.core.training import History, TrainConfig
from PySide6.QtCore import QObject, QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu, QMessageBox, QWidget

log = logging.getLogger(__name__)

AUTOSAVE_INTERVAL = 2.0  # s: at most one recovery autosave this often while training

RECENT_KEY = "session/recent"
FOLDER_KEY = "session/lastFolder"
MODEL_FOLDER_KEY = "files/lastModelFolder"  # shared with the export dialog
MAX_RECENT = 8
SESSION_FILTER = f"MLP Studio sessions (*{SUFFIX})"
IMPORT_FILTER = (
    f"Models (*.safetensors *{SUFFIX} *.keras *.h5 *.onnx);;MLP Studio (*.safetensors *{SUFFIX});;"
    "Keras (*.keras *.h5);;ONNX (*.onnx)"
)
# The question asked when a Keras or ONNX file does not say what its inputs are
INPUT_RANGE_CHOICES = (("raw", "Raw pixels 0–255"), ("unit", "Pixels scaled to 0–1"))


def default_recovery_path() -> Path:
    return Path(platformdirs.user_data_dir("mlp-studio")) / f"recovery{SUFFIX}"


def _copy_weights(model) -> dict:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _copy_history(history: History) -> History:
    # Records are never changed once made; the lists grow, so copy those.
    return History(list(history.epochs), list(history.batch_losses), list(history.grad_norms))


def _task_from_class_names(names: list[str]) -> int | None | bool:
    """The target digit a model's class names imply (None: ten digits); False if unknown."""
    if names == [str(d) for d in range(10)]:
        return None
    if len(names) == 2 and names[1].isdigit() and names[0] == f"not {names[1]}":
        return int(names[1])
    return False


class _Saver(QObject):
    """Writes sessions on a worker thread, one at a time; a newer autosave replaces a waiting
    one. `done(path, error, token)` arrives in the GUI thread."""

    done = Signal(str, str, object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: threading.Thread | None = None
        self._token: object = None  # the running job's
        self._queue: list[tuple[Session, Path, object]] = []
        self.done.connect(self._on_done)

    @property
    def busy(self) -> bool:
        return self._thread is not None or bool(self._queue)

    def save(self, session: Session, path: Path, token: object, replaceable: bool) -> None:
        if replaceable:
            self._queue = [job for job in self._queue if job[1] != path]
        self._queue.append((session, path, token))
        self._next()

    def drop_queued(self, keep) -> None:
        """Forget waiting jobs whose token does not satisfy keep(token)."""
        self._queue = [job for job in self._queue if keep(job[2])]

    def _next(self) -> None:
        if self._thread is not None or not self._queue:
            return
        session, path, token = self._queue.pop(0)
        self._token = token
        self._thread = threading.Thread(
            target=self._run, args=(session, path, token), name="save session", daemon=True
        )
        self._thread.start()

    def _run(self, session: Session, path: Path, token: object) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            save_session(session, path)
            error = ""
        except StudioError as err:
            error = str(err)
        except Exception as err:  # a bug: report it rather than lose the thread silently
            log.exception("saving %s failed", path)
            error = f"Cannot save {path}: {type(err).__name__}: {err}"
        self.done.emit(str(path), error, token)  # queued into the GUI thread; the last step

    @Slot(str, str, object)
    def _on_done(self, _path: str, _error: str, token: object) -> None:
        if token is self._token and self._thread is not None:
            self._thread.join()  # it has emitted its last signal: ends at once
            self._thread = self._token = None
        self._next()

    def wait(self) -> None:
        """Block until every job has been written (results arrive as queued signals)."""
        while self._thread is not None:
            self._thread.join()
            self._thread = self._token = None
            self._next()


class FileActions(QObject):
    """Sessions and model files for the main window.

    Construct once the state (and controller) exist; add the actions with add_to_menu(menu).
    With a controller it follows the training signals itself (autosave after every epoch);
    without one, connect progress/layerStats/epochEnded/finished to on_progress,
    on_layer_stats, autosave and on_finished.
    """

    sessionChanged = Signal(str)  # the session file now edited ("" for an unsaved session)
    dirtyChanged = Signal(bool)  # unsaved changes (for QWidget.setWindowModified)
    message = Signal(str)  # one line for the status bar
    saveFinished = Signal(str, str)  # path, error ("" when saved): manual saves and autosaves

    def __init__(
        self,
        parent: QWidget,
        state: Experiment,
        controller=None,
        settings: QSettings | None = None,
        recovery_path: str | Path | None = None,
    ):
        super().__init__(parent)
        self.window = parent
        self.state = state
        self.controller = controller
        self.settings = settings if settings is not None else QSettings()
        self.recovery_path = Path(recovery_path) if recovery_path else default_recovery_path()
        self.path = ""  # the session file, "" while unsaved
        self.export_dialog = None

        self._created = ""
        self._applying = False
        self._revision = 0
        self._saved_revision = 0

        self._saver = _Saver(self)
        # Autosaves at epoch ends, at most one per AUTOSAVE_INTERVAL: playground epochs end
        # dozens of times a second. The last epoch's waits on this timer.
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setSingleShot(True)
        self._autosave_timer.timeout.connect(self.save_recovery)
        self._last_autosave = -math.inf
        self._saver.done.connect(self._on_saved)
        self._build_actions()

        state.specChanged.connect(self._changed)
        state.trainConfigChanged.connect(self._changed)
        state.dataConfigChanged.connect(self._changed)
        state.modelChanged.connect(self._on_model_changed)
        state.trainingChanged.connect(self._on_training_changed)
        state.dataChanged.connect(lambda _data: self._update_actions())  # export needs data
        state.playgroundSettingsChanged.connect(self._changed)
        state.sourceChanged.connect(self._changed)
        if controller is not None:
            controller.epochEnded.connect(self.autosave)
            controller.finished.connect(self.on_finished)
        self._update_actions()

    # ------------------------------------------------------------------ actions

    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self.window)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.setToolTip(tip or text.replace("&", "").rstrip("…"))
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _build_actions(self) -> None:
        Key = QKeySequence.StandardKey
        self.new_action = self._action(
            "&New session", self.new_session, Key.New, "Start over: default network and settings"
        )
        self.open_action = self._action(
            "&Open session…", self.open_session, Key.Open, "Continue a saved experiment (.mlps)"
        )
        self.save_action = self._action(
            "&Save session", self.save, Key.Save, "Save the network, weights, settings and history"
        )
        self.save_as_action = self._action(
            "Save session &as…", self.save_as, Key.SaveAs, "Save the session to a new file"
        )
        self.import_action = self._action(
            "&Import model…",
            self.import_model,
            None,
            "Load a network and its weights: an MLP Studio export or session, or a Keras "
            "(.keras, .h5) or ONNX file",
        )
        self.export_action = self._action(
            "&Export model…",
            self.export_model,
            "Ctrl+Shift+E",  # Ctrl+E is Evaluate: a shared shortcut fires neither
            "Write the model as ONNX, TorchScript or safetensors, verified against the model",
        )
        self.recent_menu = QMenu("Recent sessions", self.window)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._fill_recent_menu()

    def actions(self) -> list[QAction]:
        return [self.new_action, self.open_action, self.save_action, self.save_as_action,
                self.import_action, self.export_action]  # fmt: skip

    def add_to_menu(self, menu: QMenu, before: QAction | None = None) -> None:
        """New, Open, Recent | Save, Save as | Import, Export: inserted before `before`."""
        items = [self.new_action, self.open_action, self.recent_menu.menuAction(), None,
                 self.save_action, self.save_as_action, None, self.import_action,
                 self.export_action, None]  # fmt: skip
        for item in items:
            if item is None:
                menu.insertSeparator(before)
            else:
                menu.insertAction(before, item)

    def _update_actions(self) -> None:
        idle = not self.state.training
        for action in (self.new_action, self.open_action, self.import_action):
            action.setEnabled(idle)
        self.recent_menu.setEnabled(idle and bool(self.recent_files()))
        self.save_action.setEnabled(idle)
        self.save_as_action.setEnabled(idle)
        self.export_action.setEnabled(idle and self.can_export())

    # ------------------------------------------------------------------ dirty tracking

    @property
    def dirty(self) -> bool:
        return self._revision != self._saved_revision

    def _changed(self, *_args) -> None:
        if self._applying:
            return
        was = self.dirty
        self._revision += 1
        if not was:
            self.dirtyChanged.emit(True)
        self._update_actions()

    def mark_clean(self) -> None:
        """What is on screen now is the starting point (the window calls this once its panels
        have set themselves up: a fresh launch is "Untitled", not modified)."""
        self._mark_clean(self._revision)

    def _mark_clean(self, revision: int) -> None:
        self._saved_revision = revision
        self.dirtyChanged.emit(self.dirty)

    # ------------------------------------------------------------------ following training

    @Slot(object)
    def _on_model_changed(self, _model) -> None:
        self._changed()

    @Slot(bool)
    def _on_training_changed(self, _active: bool) -> None:
        self._update_actions()

    @Slot(object)
    def autosave(self, event) -> None:
        """EpochEnd (the experiment has recorded it): write the recovery file in the background.

        The weights are copied from the live model right away: training may be a batch
        further on by then, which for a recovery file is as good.
        """
        self._changed()
        wait = self._last_autosave + AUTOSAVE_INTERVAL - time.monotonic()
        if wait <= 0:
            self.save_recovery()
        elif not self._autosave_timer.isActive():
            self._autosave_timer.start(round(wait * 1000))

    @Slot(object)
    def on_finished(self, _finished) -> None:
        self._changed()
        self.save_recovery()

    # ------------------------------------------------------------------ sessions

    def model_normalization(self) -> Normalization | None:
        """What the current weights expect: their own (imported, opened) until they train on
        the loaded data, then the data's."""
        return self.state.model_normalization

    def class_names(self, output_size: int) -> list[str]:
        return self.state.class_names(output_size)

    def can_export(self) -> bool:
        model, normalization = self.state.model, self.model_normalization()
        return (
            model is not None
            and normalization is not None
            and normalization.size == model.spec.input_size
        )

    def current_bundle(self) -> ModelBundle | None:
        """The current model with what it needs to run on raw inputs; None without one."""
        model, data = self.state.model, self.state.data
        if model is None:
            return None
        fits = data is not None and data.input_shape == (model.spec.input_size,)
        return bundle_of(model, self.model_normalization(), self.state.train_config.loss,
                         self.class_names(model.spec.output_size),
                         data.task if fits else None, self.state.feature_names)

    def collect_session(self) -> Session:
        """The current experiment as a Session (weights copied now)."""
        state = self.state
        model = state.model or build_model(state.spec)
        spec = model.spec
        normalization = self.model_normalization()
        if normalization is not None and normalization.size != spec.input_size:
            normalization = None
        lineage = state.lineage
        best_epoch = lineage.best_epoch if lineage.best_state is not None else None
        if best_epoch is not None and best_epoch > state.epochs_done:
            best_epoch = None
        return Session(
            spec=copy.deepcopy(spec),
            weights=_copy_weights(model),
            data_config=state.data_config,
            train_config=state.train_config,
            normalization=normalization,
            class_names=self.class_names(spec.output_size),
            history=_copy_history(state.history),
            best_weights=lineage.best_state if best_epoch is not None else None,
            best_epoch=best_epoch,
            epochs_done=state.epochs_done,
            data_source=self.state.data_location or self._default_source(),
            created=self._created,
            playground=self._playground_settings(),
            optimizer_state=self._optimizer_state(model),
        )

    def _optimizer_state(self, model):
        """Where the optimizer left off after the model's last run; none mid-run (a recovery
        save), where the last run's would not match the weights saved."""
        if self.state.training:
            return None
        return self.state.lineage.optimizer_state

    def _playground_settings(self) -> dict | None:
        """The playground's settings when the studio trains on the playground."""
        settings = self.state.playground_settings
        if self.state.source != "playground" or settings is None:
            return None
        return settings.to_dict()

    @staticmethod
    def _default_source() -> str:
        from mlp_studio.core.mnist import resolve_data_dir

        folder = resolve_data_dir()
        return str(folder) if folder is not None else ""

    def apply_session(self, session: Session, path: str = "") -> None:
        """Make `session` the current experiment; the Data panel re-prepares its data config.

        `path` is the file it was opened from ("" for a recovered session, which is the file
        it was recovered from again, with its changes unsaved)."""
        # Checked first (SessionError): nothing changes when they are invalid.
        playground = (None if session.playground is None
                      else PlaygroundSettings.from_dict(session.playground))
        model = build_model(session.spec)
        model.load_state_dict(session.weights)
        state = self.state
        lineage = Lineage.of_session(session)
        self._applying = True
        try:
            state.set_source("playground" if playground is not None else "mnist")
            if playground is not None:
                # First: publishing playground data may adjust the network and training
                # settings, which the session's own then replace.
                state.set_playground_settings(playground, apply=True)
            elif session.data_source:
                state.set_data_location(session.data_source)  # the Data panel loads it
            state.replace_spec(session.spec)
            state.set_train_config(session.train_config)
            state.set_data_config(session.data_config)
            # Its next run continues the epoch count and the optimizer.
            state.set_model(model, session.normalization, lineage, session.class_names)
        finally:
            self._applying = False
        self._created = session.created
        self._set_path(path or session.recovered_from)
        self._revision += 1
        self._mark_clean(self._revision if path else -1)
        self._update_actions()

    def _set_path(self, path: str) -> None:
        self.path = path
        self.sessionChanged.emit(path)

    @Slot()
    def new_session(self) -> bool:
        if self.state.training or not self.maybe_save():
            return False
        state = self.state
        self._applying = True
        try:
            state.replace_spec(NetworkSpec())
            state.set_train_config(TrainConfig())
            state.set_data_config(DataConfig())
            state.set_model(None)
        finally:
            self._applying = False
        self._created = ""
        self._set_path("")
        self._revision += 1
        self._mark_clean(self._revision)
        self.message.emit("New session")
        self._update_actions()
        return True

    @Slot()
    def open_session(self) -> bool:
        if self.state.training or not self.maybe_save():
            return False
        folder = self.settings.value(FOLDER_KEY, str(Path.home()), str)
        path, _ = QFileDialog.getOpenFileName(self.window, "Open session", folder, SESSION_FILTER)
        return bool(path) and self.open_file(path, ask=False)

    def open_file(self, path: str | Path, ask: bool = True) -> bool:
        """Open a session file; a message box says why if it cannot be opened."""
        if self.state.training or (ask and not self.maybe_save()):
            return False
        path = Path(path)
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            session = load_session(path)
        except StudioError as err:
            QApplication.restoreOverrideCursor()
            QMessageBox.warning(self.window, "Cannot open the session", str(err))
            if not path.exists():
                self._remember_recent(path, remove=True)
            return False
        try:
            self.apply_session(session, str(path))
        except StudioError as err:  # its playground settings: checked before anything changed
            QApplication.restoreOverrideCursor()
            QMessageBox.warning(self.window, "Cannot open the session", str(err))
            return False
        finally:
            QApplication.restoreOverrideCursor()
        self.settings.setValue(FOLDER_KEY, str(path.parent))
        self._remember_recent(path)
        self.message.emit(f"Opened {path.name}: {self._summary(session)}")
        return True

    @staticmethod
    def _summary(session: Session) -> str:
        return f"{describe(session.spec)}, {session.epochs_done} epochs trained"

    @Slot()
    def save(self) -> bool:
        """Save to the session's file (Save as… if it has none); written in the background."""
        if not self.path:
            return self.save_as()
        return self.save_to(self.path)

    @Slot()
    def save_as(self) -> bool:
        if self.state.training:
            return False
        folder = Path(self.settings.value(FOLDER_KEY, str(Path.home()), str))
        start = self.path or str(folder / f"experiment{SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(self.window, "Save session", start, SESSION_FILTER)
        if not path:
            return False
        path = Path(path)
        if path.suffix.lower() != SUFFIX:
            path = path.with_name(path.name + SUFFIX)
        return self.save_to(path)

    def save_to(self, path: str | Path, wait: bool = False) -> bool:
        """Save the session to `path` on the worker thread (or now, with wait=True)."""
        if self.state.training:
            return False
        path = Path(path)
        try:  # before collecting: a folder that is gone or read-only is said at once
            plan_output(path, "the session")
        except StudioError as err:
            QMessageBox.warning(self.window, "Cannot save the session", str(err))
            return False
        session = self.collect_session()
        self._saver.save(session, path, ("manual", self._revision, session), replaceable=False)
        self.message.emit(f"Saving {path.name}…")
        if wait:
            self.wait_for_saves()
        return True

    def save_recovery(self) -> None:
        """Autosave to the recovery file (background; a waiting autosave is replaced)."""
        self._autosave_timer.stop()
        self._last_autosave = time.monotonic()
        session = self.collect_session()
        session.recovered_from = self.path
        self._saver.save(session, self.recovery_path, ("recovery",), True)

    def wait_for_saves(self) -> None:
        """Block until every queued save is written; their results are delivered now."""
        self._saver.wait()
        for receiver in (self._saver, self):  # the queued done signals
            QApplication.sendPostedEvents(receiver)

    @Slot(str, str, object)
    def _on_saved(self, path: str, error: str, token: object) -> None:
        self.saveFinished.emit(path, error)
        if token[0] == "recovery":
            if error:
                log.warning("autosave failed: %s", error)
                self.message.emit(f"Autosave failed: {error}")
            return
        _, revision, session = token
        if error:
            QMessageBox.warning(self.window, "Cannot save the session", error)
            return
        self._created = session.created
        if str(self.path) != path:
            self._set_path(path)
        self._remember_recent(Path(path))
        self.settings.setValue(FOLDER_KEY, str(Path(path).parent))
        if revision == self._revision:
            self._mark_clean(revision)
            self._remove_recovery()  # the saved file now holds everything
        self.message.emit(f"Saved {Path(path).name} ({self._summary(session)})")

    def maybe_save(self) -> bool:
        """Ask to save unsaved work; False if the user cancelled (or saving failed)."""
        if not self.dirty:
            return True  # a designed network or new weights are work too: only clean skips
        answer = QMessageBox.question(
            self.window,
            "Save the session?",
            "The current session has unsaved changes (network, settings or training). "
            "Save them first?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Cancel:
            return False
        if answer == QMessageBox.StandardButton.Discard:
            return True
        if not (self.save_to(self.path, wait=True) if self.path else self.save_as()):
            return False
        self.wait_for_saves()
        return not self.dirty

    # ------------------------------------------------------------------ recent files

    def recent_files(self) -> list[str]:
        value = self.settings.value(RECENT_KEY, [])
        files = [value] if isinstance(value, str) else list(value or [])
        kept = [f for f in files if f and Path(f).is_file()][:MAX_RECENT]
        if kept != files:
            self.settings.setValue(RECENT_KEY, kept)
        return kept

    def _remember_recent(self, path: Path, remove: bool = False) -> None:
        path_text = str(Path(path).resolve())
        files = [f for f in self.recent_files() if f != path_text]
        if not remove:
            files.insert(0, path_text)
        self.settings.setValue(RECENT_KEY, files[:MAX_RECENT])
        self._update_actions()

    @Slot()
    def _fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        files = self.recent_files()
        for number, file in enumerate(files, start=1):
            action = menu.addAction(f"&{number} {Path(file).name}")
            action.setToolTip(file)
            action.setStatusTip(file)
            action.triggered.connect(lambda _checked=False, f=file: self.open_file(f))
        if files:
            menu.addSeparator()
            menu.addAction("Clear the list", self._clear_recent)
        menu.setEnabled(bool(files) and not self.state.training)

    def _clear_recent(self) -> None:
        self.settings.setValue(RECENT_KEY, [])
        self._fill_recent_menu()

    # ------------------------------------------------------------------ crash recovery

    def offer_recovery(self) -> bool:
        """At startup: if the last run did not close cleanly, offer its autosave.

        True if restored. The file is deleted when the user declines (or it is unreadable);
        a restored one stays until the next clean exit.
        """
        path = self.recovery_path
        if not path.is_file():
            return False
        try:
            session = load_session(path)
        except StudioError as err:
            log.warning("unreadable recovery file: %s", err)
            self._remove_recovery()
            return False
        try:
            when = datetime.fromisoformat(session.modified).astimezone().strftime("%d %b %H:%M")
        except ValueError:
            when = "an unknown time"
        answer = QMessageBox.question(
            self.window,
            "Restore the last session?",
            f"MLP Studio did not close properly last time. A session autosaved at {when} "
            f"can be restored: {self._summary(session)}.\n\nRestore it?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.Yes,
        )
        if answer != QMessageBox.StandardButton.Yes:
            self._remove_recovery()
            return False
        self.apply_session(session)
        self.message.emit(f"Restored the autosaved session ({self._summary(session)})")
        return True

    def _remove_recovery(self) -> None:
        try:
            self.recovery_path.unlink(missing_ok=True)
        except OSError as err:
            log.warning("cannot remove %s: %s", self.recovery_path, err)

    def shutdown(self) -> None:
        """Clean exit: finish manual saves, drop pending autosaves, delete the recovery file."""
        self._saver.drop_queued(lambda token: token[0] != "recovery")
        self._saver.wait()
        self._remove_recovery()

    # ------------------------------------------------------------------ models

    @Slot()
    def import_model(self) -> bool:
        if self.state.training:
            return False
        folder = self.settings.value(MODEL_FOLDER_KEY, str(Path.home()), str)
        path, _ = QFileDialog.getOpenFileName(self.window, "Import model", folder, IMPORT_FILTER)
        return bool(path) and self.import_file(path)

    def import_file(self, path: str | Path, input_range: str | None = None) -> bool:
        """Load a model: a .safetensors export, a .mlps session's current weights, a Keras
        (.keras, .h5) or ONNX file. Asks raw or unit-range pixels when the file does not say."""
        if self.state.training:
            return False
        path = Path(path)
        try:
            try:
                bundle = import_model(path, input_range)
            except InputRangeNeeded:
                input_range = self.ask_input_range(path)
                if input_range is None:
                    return False
                bundle = import_model(path, input_range)
            model = build_model(bundle.spec)
            model.load_state_dict(bundle.state_dict)
        except StudioError as err:
            QMessageBox.warning(self.window, "Cannot import the model", str(err))
            return False
        self.apply_bundle(bundle, model)
        self.settings.setValue(MODEL_FOLDER_KEY, str(path.parent))
        self.message.emit(f"Imported {path.name}: {describe(bundle.spec)}")
        return True

    def ask_input_range(self, path: Path) -> str | None:
        """"raw" or "unit" as the user answers, None on Cancel."""
        box = QMessageBox(self.window)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("What does the model take?")
        box.setText(f"{path.name} does not say how its input pixels are scaled.")
        box.setInformativeText(
            "Choose what it was trained on: raw MNIST pixels (0–255), or pixels divided by "
            "255 (0–1, as in x_train / 255). MLP Studio then builds that into the model."
        )
        buttons = {box.addButton(label, QMessageBox.ButtonRole.AcceptRole): key
                   for key, label in INPUT_RANGE_CHOICES}  # fmt: skip
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return buttons.get(box.clickedButton())

    def apply_bundle(self, bundle: ModelBundle, model) -> None:
        """Make an imported model current: its network, loss, task and normalization."""
        state = self.state
        self._applying = True
        try:
            state.replace_spec(bundle.spec)
            config = state.train_config
            config.loss = bundle.loss
            state.set_train_config(config)
            data_config = state.data_config
            data_config.normalization = bundle.normalization.kind
            digit = _task_from_class_names(bundle.class_names)
            if digit is not False:
                data_config.target_digit = digit
            state.set_data_config(data_config)
            state.set_model(model, bundle.normalization, class_names=bundle.class_names)
        finally:
            self._applying = False
        self._changed()

    def _script_writer(self, bundle: ModelBundle):
        """Writes the Keras script of this experiment: the model with the current training
        and data settings (the export dialog offers it for MNIST classifiers)."""
        from mlp_studio.core.keras_script import export_keras_script

        train, data = self.state.train_config, self.state.data_config
        source = self.state.data_location or self._default_source()
        return lambda path: export_keras_script(bundle, train, data, path, source)

    @Slot()
    def export_model(self):
        """Open the export dialog for the current model; None if there is nothing to export."""
        from mlp_studio.app.dialogs.export_dialog import ExportDialog

        if self.state.training:
            return None
        bundle = self.current_bundle()
        if bundle is None:
            QMessageBox.information(
                self.window,
                "Nothing to export yet",
                "Load data and train (or import) a model first: an export includes the "
                "normalization of the data the model learned from.",
            )
            return None
        data = self.state.data
        images = bundle.takes_images
        if data is not None and data.normalization.size == bundle.spec.input_size:
            pixels = verification_pixels(data)
            label = "test images" if images else "test points"
        else:  # an imported model before any data is loaded
            rng = np.random.default_rng(0)
            if images:
                pixels = rng.uniform(0, 255, (1000, bundle.spec.input_size))
            else:  # feature values of a 2-D problem: around the playground's -6..6 plane
                pixels = rng.uniform(-6, 6, (1000, bundle.spec.input_size))
            pixels = pixels.astype(np.float32)
            label = "random images" if images else "random points"
        if self.export_dialog is not None:
            self.export_dialog.close()
            self.export_dialog.deleteLater()
        dialog = ExportDialog(bundle, pixels, self.window, pixels_label=label,
                              settings=self.settings, script=self._script_writer(bundle))
        dialog.exported.connect(lambda path, diff: self.message.emit(f"Exported {path}"))
        self.export_dialog = dialog
        dialog.show()
        return dialog
