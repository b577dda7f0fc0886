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
import time
from datetime import datetime
from pathlib import Path

import platformdirs
from mlp_studio.app.files.file_menu import FileMenu
from mlp_studio.app.files.model_actions import ModelActions, copy_weights
from mlp_studio.app.files.recent_files import RecentFiles
from mlp_studio.app.files.saver import SessionSaver
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.core.data import DataConfig
from mlp_studio.core.errors import StudioError
from mlp_studio.core.lineage import Lineage
from mlp_studio.core.model import NetworkSpec, build_model, describe
from mlp_studio.core.outputs import plan_output
from mlp_studio.core.playground_settings import PlaygroundSettings
from mlp_studio.core.session import SUFFIX, Session, load_session
from mlp_studio.core.training import History, TrainConfig
from PySide6.QtCore import QObject, QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QWidget

log = logging.getLogger(__name__)

AUTOSAVE_INTERVAL = 2.0  # s: at most one recovery autosave this often while training

FOLDER_KEY = "session/lastFolder"
SESSION_FILTER = f"MLP Studio sessions (*{SUFFIX})"


def default_recovery_path() -> Path:
    return Path(platformdirs.user_data_dir("mlp-studio")) / f"recovery{SUFFIX}"


def _copy_history(history: History) -> History:
    # Records are never changed once made; the lists grow, so copy those.
    return History(list(history.epochs), list(history.batch_losses), list(history.grad_norms))


class FileActions(FileMenu, ModelActions, RecentFiles, QObject):
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

        self._saver = SessionSaver(self, self._on_saved)
        # Autosaves at epoch ends, at most one per AUTOSAVE_INTERVAL: playground epochs end
        # dozens of times a second. The last epoch's waits on this timer.
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setSingleShot(True)
        self._autosave_timer.timeout.connect(self.save_recovery)
        self._last_autosave = -math.inf
        self._build_actions()

        state.specChanged.connect(self._changed)
        state.trainConfigChanged.connect(self._changed)
        state.dataConfigChanged.connect(self._changed)
        state.modelChanged.connect(self._on_model_changed)
        state.trainingChanged.connect(self._on_training_changed)
        state.dataChanged.connect(lambda _data: self._update_actions())  # export needs data
        state.playgroundSettingsChanged.connect(self._changed)
        state.sourceChanged.connect(self._changed)
        state.paired.pairFinished.connect(self._changed)  # sessions keep the comparison
        if controller is not None:
            controller.epochEnded.connect(self.autosave)
            controller.finished.connect(self.on_finished)
        self._update_actions()

    # ------------------------------------------------------------------ actions

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
        if not self.state.timeline.switching:  # showing a checkpoint is no edit
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
            # While a checkpoint is shown, the model holds its weights: save the latest.
            weights=state.timeline.latest_weights() or copy_weights(model),
            data_config=state.data_config,
            train_config=state.train_config,
            normalization=normalization,
            class_names=self.class_names(spec.output_size),
            history=_copy_history(state.history),
            best_weights=lineage.best_state if best_epoch is not None else None,
            best_epoch=best_epoch,
            epochs_done=state.epochs_done,
            data_source=self.state.data_location or self._default_source(),
            data=self.state.data_source if self.state.source != "playground" else None,
            table=self._table_of(model),
            created=self._created,
            playground=self._playground_settings(),
            optimizer_state=self._optimizer_state(model),
            run_tree=state.timeline.saved_tree(),
            pairs=state.paired.saved(),
        )

    def _table_of(self, model):
        """How the rows of the table the model learned are encoded (its exports and
        predictions need it); None when the model did not learn the loaded table."""
        data = self.state.data
        learned = (data is not None and self.state.model_normalization is data.normalization
                   and data.input_shape == (model.spec.input_size,))  # fmt: skip
        return self.state.table_schema if learned else None

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
            elif session.data is not None:
                state.set_data_source(session.data)  # the Data panel loads it
            elif session.data_source:
                state.set_data_location(session.data_source)  # the Data panel loads it
            state.replace_spec(session.spec)
            state.set_train_config(session.train_config)
            state.set_data_config(session.data_config)
            # Its next run continues the epoch count and the optimizer.
            state.set_model(model, session.normalization, lineage, session.class_names)
            state.timeline.restore(session.run_tree)
            state.paired.restore(session.pairs)
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

        def start() -> None:
            state.replace_spec(NetworkSpec())
            state.set_train_config(TrainConfig())
            state.set_data_config(DataConfig())
            state.set_model(None)
            state.paired.restore(None)

        self.start_untitled(start, "New session")
        return True

    def start_untitled(self, apply, message: str) -> None:
        """A new, unsaved and unmodified session that `apply()` sets up (new, a lesson);
        the caller has saved or kept aside the work before."""
        self._applying = True
        try:
            apply()
        finally:
            self._applying = False
        self._created = ""
        self._set_path("")
        self._revision += 1
        self._mark_clean(self._revision)
        self.message.emit(message)
        self._update_actions()

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
        n = session.epochs_done
        return f"{describe(session.spec)}, {n} epoch{'s' if n != 1 else ''} trained"

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

    # ------------------------------------------------------------------ crash recovery

    def offer_recovery(self) -> bool:
        """At startup: if the last run did not close cleanly, offer its autosave.

        True if restored. The file is deleted when the user declines; an unreadable one (a
        newer version's, a damaged disk) is moved aside, never deleted: it may be all that is
        left of the work. A restored one stays until the next clean exit.
        """
        path = self.recovery_path
        if not path.is_file():
            return False
        try:
            session = load_session(path)
        except StudioError as err:
            kept = path.with_name(f"{path.stem}-unreadable-{datetime.now():%Y%m%d-%H%M%S}.mlps")
            try:
                path.replace(kept)
            except OSError as move_err:
                kept = path  # left where it is: the next start says so again
                log.warning("cannot move %s aside: %s", path, move_err)
            self.message.emit(f"The autosave of the last session could not be opened ({err}); "
                              f"it is kept as {kept}.")
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
        self._saver.shutdown()
        self._remove_recovery()

    # ------------------------------------------------------------------ models


