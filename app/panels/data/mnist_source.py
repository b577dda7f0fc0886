"""Where the Data dock's MNIST comes from: the default folder, a chosen folder or a download, loaded
off the GUI thread."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlp_studio.app.panels.data.data_jobs import user_message
from mlp_studio.app.widgets.background import Task
from mlp_studio.app.widgets.banner import Level
from mlp_studio.core.errors import DownloadCancelled
from mlp_studio.core.mnist import (
    MnistArrays,
    default_cache_dir,
    download_mnist,
    load_folder,
    resolve_data_dir,
)
from PySide6.QtCore import QSettings
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFileDialog

LAST_FOLDER_KEY = "data/last_folder"


def escape_html(text: str) -> str:
    """Plain text for a rich-text QLabel (which does not decode &#x27; and friends)."""
    return html.escape(text, quote=False)


class MnistSource:
    """DataPanel's loading of MNIST (its source section's buttons and progress); the loads run
    on the panel's background tasks (one at a time: a new one cancels and replaces the last)."""

    def load_default(self) -> None:
        """Load MNIST from $MLP_STUDIO_DATA, the cache or the last chosen folder, if any."""
        if self._mnist is not None or self._loader is not None or self._closing:
            return
        folder = resolve_data_dir()
        if folder is None:
            last = QSettings().value(LAST_FOLDER_KEY, "", str)
            folder = Path(last) if last and Path(last).exists() else None
        if folder is not None:
            message = f"Loading MNIST from {folder}…"
            self._start_load("load", lambda _task: load_folder(folder), message)

    def choose_folder(self) -> None:
        """Ask for a folder (IDX files or mnist.npz) and load it."""
        start = QSettings().value(LAST_FOLDER_KEY, str(Path.home()), str)
        folder = QFileDialog.getExistingDirectory(
            self, "Choose a folder with MNIST (IDX files or mnist.npz)", start
        )
        if folder:
            self.load_folder(folder)

    def load_folder(self, folder: str | Path, remember: bool = True) -> None:
        """Load MNIST from `folder` in the background; remembered as the last folder if it works."""
        folder = Path(folder)
        message = f"Loading MNIST from {folder}…"
        remembered = str(folder) if remember else None
        self._start_load("load", lambda _task: load_folder(folder), message, remember=remembered)

    def download(self) -> None:
        """Download MNIST into the cache (progress bar, Cancel) and load it."""
        cache = Path(self.cache_dir) if self.cache_dir else default_cache_dir()
        mirrors, checksums, limits = self.mirrors, dict(self.checksums), self.download_limits

        def job(task: Task) -> MnistArrays:
            last = -1

            def progress(done: int, total: int) -> None:
                nonlocal last
                step = done * 200 // total if total else 0  # at most ~200 signals per download
                if step != last:
                    last = step
                    task.progress(done, total)

            folder = download_mnist(
                cache, mirrors, progress, lambda: task.cancelled, limits, checksums=checksums
            )
            return load_folder(folder)

        self._start_load("download", job, "Downloading MNIST…", f"into {cache}")
        self.progress_bar.setRange(0, 0)  # busy until the sizes are known
        self.progress_bar.setFormat("Connecting…")
        self.progress_row.show()
        self.cancel_button.setEnabled(True)

    def cancel_download(self) -> None:
        if self._loader is not None and self._loading == "download":
            self._loader.cancel()
            self.cancel_button.setEnabled(False)
            self.progress_bar.setFormat("Cancelling…")

    def _start_load(
        self, kind: str, fn: Callable[[Task], Any], message: str, detail: str = "",
        remember: str | None = None,
    ) -> None:
        """Run a load; `remember`: the folder to store as the last one when it works."""
        self._clear_banner("source")
        self._loading = kind
        # The latest load wins: one still running is cancelled, and never reports.
        self._loader = self._tasks.run(
            fn, lane="load", latest=True,
            on_done=lambda result: self._on_loaded(True, result, remember),
            on_error=lambda err: self._on_loaded(False, err, remember),
            on_progress=self._on_download_progress,
        )
        self.open_button.setEnabled(False)
        self.download_button.setEnabled(False)
        self.statusMessage.emit(message)
        if self._mnist is None:
            self._set_source_text(message, detail)

    def _on_loaded(self, ok: bool, result: Any, remember: str | None) -> None:
        self._loader = None
        if self._closing:
            return
        self.progress_row.hide()
        self._set_loading_enabled(not self.state.training)
        if not ok:
            cancelled = isinstance(result, DownloadCancelled)
            still = (f"\nStill using the MNIST loaded from {self._mnist.source}."
                     if self._mnist is not None else "")  # fmt: skip
            self._show_banner(user_message(result) + still, "source",
                              Level.INFO if cancelled else Level.ERROR)  # fmt: skip
            self.statusMessage.emit("Download cancelled" if cancelled else "Could not load MNIST")
            if self._mnist is None:
                self._set_source_text(
                    "No MNIST loaded.", "Open a folder holding it, or download it (about 11 MB)."
                )
            return
        self._mnist = result
        self.state.set_data_location(str(result.source))  # sessions record where it came from
        if remember:
            QSettings().setValue(LAST_FOLDER_KEY, remember)
        n_train, n_test = len(result.train_images), len(result.test_images)
        self._set_source_text(
            f"<b>MNIST</b>: {n_train:,} training + {n_test:,} test images", result.source
        )
        self.val_count.setMaximum(max(n_train - 1, 1))
        self.pooled_radio.setText(f"Pool all {n_train + n_test:,} and split by percentages")
        self.statusMessage.emit(f"Loaded MNIST from {result.source}")
        self._debounce.stop()
        self._start_prepare()

    def _set_source_text(self, main: str, detail: str) -> None:
        grey = self.palette().color(QPalette.ColorRole.PlaceholderText).name()
        small = f"<br><span style='color:{grey}'>{escape_html(detail)}</span>" if detail else ""
        self.source_label.setText(main + small)

    def _set_loading_enabled(self, enabled: bool) -> None:
        busy = self._loader is not None
        self.open_button.setEnabled(enabled and not busy)
        self.download_button.setEnabled(enabled and not busy)
