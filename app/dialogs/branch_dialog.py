"""Train while a past checkpoint is shown: branch a new run from it, or go back to the latest
weights and train on from there (the run goes on where it had got to)."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget


def train_from_past(parent: QWidget, timeline) -> bool:
    """Ask what Train means now (timeline: app.model.checkpoint_view.Timeline) and prepare
    it; True if training should start, False if the user cancelled."""
    checkpoint = timeline.viewed
    if checkpoint is None:
        return True
    run = timeline.tree.runs[checkpoint.run].name
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Train from the past?")
    box.setText(f"The views show {checkpoint.label()} of {run}, not the latest weights.")
    box.setInformativeText(
        "Branch from here: a new run starts from this checkpoint (its weights and optimizer "
        "state) with the settings as they are now; the current run stays in the Runs tab.\n"
        "Return to latest: the current run trains on from its latest weights.")
    branch = box.addButton("Branch from here", QMessageBox.ButtonRole.AcceptRole)
    latest = box.addButton("Return to latest", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(branch)
    box.exec()
    if box.clickedButton() is branch:
        return timeline.branch()
    if box.clickedButton() is latest:
        return timeline.return_to_latest()
    return False
