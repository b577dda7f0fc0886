"""What the toolbar's run buttons do: Train (or branch, while a checkpoint is shown), Pause /
Resume, Step, Stop, Reset weights, and Evaluate; the controller and the experiment do the work."""

from __future__ import annotations

from PySide6.QtCore import Slot


class RunControls:
    """MainWindow's run commands (it has `controller`, `state` and the message helpers)."""

    # Train was pressed while the data of new data settings was being prepared (a lesson, an
    # undo): the run starts when it arrives (run_status._on_data_changed).
    waiting_for_data = False

    @Slot()
    def train(self) -> None:
        if self.controller is None or self.controller.running:
            return
        if self.state.data_out_of_date():
            self.waiting_for_data = True
            self._show_message("Preparing the data with the new data settings: training starts "
                               "as soon as it is ready.", "info")
            return
        self.waiting_for_data = False
        if self.state.timeline.viewed is not None:  # a checkpoint is shown: branch or not?
            from mlp_studio.app.dialogs.branch_dialog import train_from_past

            if not train_from_past(self, self.state.timeline):
                return
        self._hide_banner()
        self.controller.start()

    @Slot()
    def toggle_pause(self) -> None:
        c = self.controller
        if c is None:
            return
        if c.run_state == "paused":
            c.resume()
        elif c.run_state == "running":
            if c.trainer is not None and c.trainer.paused:
                c.resume()  # a pause was asked for but has not landed yet: undo it
            else:
                c.pause()

    @Slot()
    def step(self) -> None:
        if self.controller is not None:
            if not self.controller.running:
                self._hide_banner()
            self.controller.step()

    @Slot()
    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()

    @Slot()
    def reset_weights(self) -> None:
        """New random weights: bump the network seed (undoable, visible in the designer)."""
        if self.state is None or self.state.training:
            return
        spec = self.state.spec
        problems = spec.problems()
        if problems:
            self._show_message("Cannot reset the weights: " + " ".join(problems), "warning")
            return
        spec.seed = spec.seed + 1
        self.state.edit_spec(spec, f"Reset weights (seed {spec.seed})")
        self.state.ensure_model()
        self.statusBar().showMessage(f"New random weights from seed {spec.seed}.", 5000)

    @Slot()
    def evaluate(self) -> None:
        """The current model on the test split, shown in the Confusion tab."""
        from mlp_studio.core.errors import StudioError
        from mlp_studio.core.training import evaluate_test

        state = self.state
        if state is None or state.training:
            return
        if state.model is None or state.data is None:
            self._show_message("Evaluate needs a model and data: train or import a model, and "
                               "load data in the Data or Playground panel.")
            return
        try:
            metrics = evaluate_test(state.model, state.data, state.train_config.loss,
                                    state.model_normalization)
        except StudioError as err:
            self._show_message(str(err))
            return
        state.show_evaluation(metrics, "current model")
        self._raise_dock("training")
