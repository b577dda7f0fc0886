"""What the main window says about a run: action states, the status bar, progress and speed,
the device, messages."""

from __future__ import annotations

from mlp_studio.app.widgets.formatting import format_duration, format_rate, format_scores
from mlp_studio.app.widgets.glyph_icons import glyph_icon
from mlp_studio.core.target_scaling import loss_units
from PySide6.QtCore import Slot
from PySide6.QtGui import QAction


class RunStatus:
    """MainWindow's run readouts; the controller's signals (all on the GUI thread) reach them."""

    def _update_go_back(self) -> None:
        state = self.state
        self.go_back_action.setEnabled(not state.training and state.lineage.earlier is not None)

    @Slot(str)
    def _update_actions(self, run_state: str) -> None:
        loaded = self.controller is not None
        idle = run_state == "idle"
        active = run_state in ("running", "paused")
        self.train_action.setEnabled(loaded and idle)
        self.pause_action.setEnabled(loaded and active)
        self.step_action.setEnabled(loaded and (idle or active))
        self.stop_action.setEnabled(loaded and active)
        self.reset_action.setEnabled(loaded and idle)
        self.evaluate_action.setEnabled(loaded and idle)
        self.sweep_action.setEnabled(loaded)  # trials run in their own processes
        paused = run_state == "paused"
        self.pause_action.setText("Resume" if paused else "Pause")
        self.pause_action.setIcon(glyph_icon("play" if paused else "pause"))
        if loaded:
            stack = self.state.undo_stack
            self.undo_action.setEnabled(idle and stack.canUndo())
            self.redo_action.setEnabled(idle and stack.canRedo())
            self.go_back_action.setEnabled(idle and self.state.lineage.earlier is not None)

    @Slot(str)
    def _on_run_state(self, run_state: str) -> None:
        text = {
            "running": "Training…",
            "paused": "Paused: Resume (F6) or Step (F7)",
            "stopping": "Stopping…",
            "idle": "Ready",
        }[run_state]
        if run_state == "running" and self._run_epochs is None:
            trainer = self.controller.trainer
            first = trainer.start_epoch + 1
            self._run_epochs = (first, trainer.start_epoch + trainer.config.epochs)
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat(f"Epoch {first}/{self._run_epochs[1]}")
            self.eta_label.clear()
            self.rate_label.clear()
            if trainer.start_epoch == 0 and "training" in self.panels:
                self.panels["training"].reset()  # new weights: the old curves are history
        if run_state == "idle":
            self._run_epochs = None
            self.eta_label.clear()
        elif run_state == "paused":
            self.eta_label.setText("paused")
            self.rate_label.clear()  # nothing is trained while paused: no speed to show
        self.status_label.setText(text)  # `finished` replaces "Ready" by the run's summary

    @Slot(object)
    def _on_progress(self, event) -> None:
        if self._run_epochs is None:
            return
        first, last = self._run_epochs
        epochs = last - first + 1
        done = (event.epoch - first) * event.batches_per_epoch + event.batch
        total = epochs * event.batches_per_epoch
        self.progress_bar.setValue(int(1000 * done / max(total, 1)))
        self.progress_bar.setFormat(
            f"Epoch {event.epoch}/{last} · batch {event.batch}/{event.batches_per_epoch}"
        )
        rate = self.state.rate
        self.rate_label.setText(format_rate(rate))
        if rate > 0:
            batch_size = max(1, self.controller.trainer.config.batch_size)
            n = len(self.state.data.x_train) if self.state.data is not None else 0
            samples_per_batch = min(batch_size, max(n, 1))
            left = (total - done) * samples_per_batch / rate
            self.eta_label.setText(format_duration(left))

    @Slot(object)
    def _on_epoch_end(self, event) -> None:
        model = self.state.model  # its target scaling says what the loss is on
        units = loss_units(model.target_scaling) if model is not None else ""
        self.statusBar().showMessage(
            f"Epoch {event.epoch}/{event.epochs}: training loss {event.train_loss:.4f}"
            f"{f' (on {units})' if units else ''}, "
            f"validation {format_scores(event.val, bold=False)}",
            4000,
        )

    @Slot(object)
    def _on_diverged(self, event) -> None:
        self._show_message(event.message, "error")

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._show_message(message, "error")

    @Slot(object)
    def _on_finished(self, result) -> None:
        self.status_label.setText(self._summary(result))
        earlier = self.state.lineage.earlier
        self._update_go_back()
        if earlier is not None:  # never replace a better model silently: offer it back
            text = f"{earlier.describe()} You can go back to the weights it started from."
            if result.diverged is not None:
                self._show_message(f"{result.diverged.message} {text}", "error",
                                   self.go_back_action)
            else:
                self._show_message(text, "warning", self.go_back_action)
        if result.diverged is None:
            self.progress_bar.setValue(
                self.progress_bar.maximum() if not result.stopped else self.progress_bar.value()
            )

    def _summary(self, result) -> str:
        """One line on how the current weights' last run ended (or how far they trained)."""
        if result is None:
            n = self.state.epochs_done
            return f"Trained for {n} epoch{'s' if n != 1 else ''}"
        if result.diverged is not None:
            return "Diverged"
        if result.test is None:
            return "Stopped before the first epoch ended"
        ended = "Stopped" if result.stopped else "Finished"
        test = result.test
        summary = f"{ended}: test {format_scores(test, bold=False)}"
        if not test.regression:
            summary += f", loss {test.loss:.4f}"
        elif test.rmse == test.rmse:  # not NaN; else the scores are the loss already
            summary += f", loss {test.loss:.4g}"
        from mlp_studio.core.best_epoch import kept_weights  # torch is loaded by now

        epochs = result.history.epochs
        kept = kept_weights(self.state.train_config, result.best_epoch,
                            epochs[-1].epoch if epochs else None,
                            regression=test.regression)
        return f"{summary}, with {kept}"

    @Slot(object)
    def _on_data_config_changed(self, _config) -> None:
        if self.waiting_for_data:  # other settings than those Train waited for: ask again
            self.waiting_for_data = False
            self._hide_banner()

    @Slot(object)
    def _on_data_changed(self, data) -> None:
        if self.waiting_for_data and data is not None and not self.state.data_out_of_date():
            self._hide_banner()
            self.train()  # pressed while this data was being prepared
            return
        if data is not None and not self.state.training:
            self.status_label.setText(
                f"Data ready: {len(data.x_train):,} training, "
                f"{len(data.x_val):,} validation, {len(data.x_test):,} "
                "test samples. Press Train (F5)."
            )
        self._update_device_label()

    @Slot(object)
    def _on_checkpoint_viewed(self, checkpoint) -> None:
        """A past checkpoint shown in every view: the status bar says so too (Draw and
        Playground have no scrubber of their own)."""
        if checkpoint is None:
            if self.state.training:  # Resume, Step or Stop of a paused run: live again
                self.status_label.setText("Every view follows the run's latest weights again")
            self._show_trained_state()
            return
        run = self.state.timeline.tree.runs[checkpoint.run].name
        then = ("Resume returns to the live run" if self.state.training else
                "Train offers to branch from here or to return to the latest")
        self.status_label.setText(f"Showing {checkpoint.label()} of {run} (the past): {then}")

    def _show_trained_state(self) -> None:
        """Outside a run: how far the current weights have trained."""
        if self.state.training:
            return
        done = self.state.epochs_done
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(1000 if done else 0)
        self.progress_bar.setFormat(f"{done} epoch{'s' if done != 1 else ''} trained"
                                    if done else "Not trained yet")
        self.rate_label.clear()
        self.eta_label.clear()
        self.status_label.setText(self._summary(self.state.result) if done else "Ready")

    def _update_device_label(self) -> None:
        if self.state is None:
            return
        device = self.state.train_config.device
        if device == "cpu" or device == "auto":
            from mlp_studio.core.training import pick_device

            try:
                device = pick_device(device).type
            except Exception:  # noqa: BLE001 - a label must never break the window
                device = "cpu"
        text = device.upper()
        if text == "CPU":
            threads = self.controller.threads
            text += f" · {threads} thread{'s' if threads != 1 else ''}"
        self.device_label.setText(text)

    def _show_message(self, text: str, level: str = "warning",
                      action: QAction | None = None) -> None:
        """`action` (e.g. going back to the earlier weights) gets a button in the banner."""
        if action is not None:
            self.banner_action.setDefaultAction(action)
        self.banner_action.setVisible(action is not None)
        self.banner.show_message(text, level)
        self.statusBar().showMessage(text.split(". ")[0].rstrip(".") + ".", 10_000)

    def _hide_banner(self) -> None:
        self.banner.clear()

    def message_text(self) -> str:
        """The message the banner shows, or "" (tests and screenshots read it)."""
        return self.banner.text() if self.banner_bar.isVisible() else ""
