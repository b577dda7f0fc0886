"""Where the Data dock's data comes from: an MNIST-format family (the default folder, a chosen
folder or a download), an image folder or a CSV table, loaded off the GUI thread into a core
Dataset (core.dataset.load_data). A file that cannot be read leaves the previous data as it was.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlp_studio.app.panels.data.data_jobs import user_message
from mlp_studio.app.widgets.background import Task
from mlp_studio.app.widgets.banner import Level
from mlp_studio.core.data_source import FAMILIES, DataSource
from mlp_studio.core.dataset import Dataset, load_data
from mlp_studio.core.errors import DownloadCancelled, StudioError
from mlp_studio.core.mnist import download_mnist, load_folder, resolve_data_dir
from mlp_studio.core.mnist_families import dataset_of, download_family, family
from PySide6.QtCore import QSettings
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFileDialog

LAST_FOLDER_KEY = "data/last_folder"
PREVIEW_ROWS = 20  # rows of a table shown before it trains


@dataclass(frozen=True)
class TableRead:
    """A table's preview, and the dataset read from it or why it could not be (the preview is
    shown either way, so another target can be chosen)."""

    preview: Any  # core.tables.TablePreview
    dataset: Dataset | None
    error: BaseException | None


def escape_html(text: str) -> str:
    """Plain text for a rich-text QLabel (which does not decode &#x27; and friends)."""
    return html.escape(text, quote=False)


def _family_dataset(source: DataSource, folder: str | Path) -> Dataset:
    return dataset_of(load_folder(folder), family(source.dataset))


class DatasetSource:
    """DataPanel's loading (its source section's chooser, buttons and progress); the loads run
    on the panel's background tasks (one at a time: a new one cancels and replaces the last)."""

    def load_default(self) -> None:
        """Load MNIST from $MLP_STUDIO_DATA, the cache or the last chosen folder, if any."""
        if self._dataset is not None or self._loader is not None or self._closing:
            return
        folder = resolve_data_dir()
        if folder is None:
            last = QSettings().value(LAST_FOLDER_KEY, "", str)
            folder = Path(last) if last and Path(last).exists() else None
        if folder is not None:
            self.load_source(DataSource("mnist", str(folder)), remember=False)

    def choose_folder(self) -> None:
        """Ask for a folder with the chosen family's files (IDX or .npz) and load it."""
        name = FAMILIES[self._family()]
        start = QSettings().value(LAST_FOLDER_KEY, str(Path.home()), str)
        folder = QFileDialog.getExistingDirectory(
            self, f"Choose a folder with {name} (IDX files or .npz)", start)
        if folder:
            self.load_folder(folder)

    def _family(self) -> str:
        kind = self.chooser.kind()
        return kind if kind in FAMILIES else "mnist"

    def load_folder(self, folder: str | Path, remember: bool = True) -> None:
        """Load an MNIST-format folder (of the chosen family) in the background."""
        self.load_source(DataSource("mnist", str(folder), dataset=self._family()), remember)

    def load_source(self, source: DataSource, remember: bool = True) -> None:
        """Load `source` in the background; shown and prepared when it is read."""
        if source.kind == "mnist" and not source.path and source.dataset in self._family_folders:
            source = replace(source, path=self._family_folders[source.dataset])  # read before
        what = source.describe()
        if source.kind == "mnist":
            if source.path:
                folder = Path(source.path)

                def job(_task: Task) -> Dataset:
                    return _family_dataset(source, folder)
            else:  # the family's cache, else ask for a download (never unasked)
                def job(task: Task) -> Dataset:
                    return load_data(None, dataset=source.dataset, download=False,
                                     cache_dir=self._cache_for(source.dataset),
                                     cancel=lambda: task.cancelled)  # fmt: skip
        elif source.kind == "images":
            def job(task: Task) -> Dataset:
                return load_data(**source.load_arguments(), cancel=lambda: task.cancelled)
        else:
            def job(_task: Task) -> TableRead:
                from mlp_studio.core.tables import load_table, preview

                args = source.load_arguments()
                table = preview(args["path"], PREVIEW_ROWS, args["target"], args["task"])
                try:
                    return TableRead(table, load_table(args["path"], target=args["target"],
                                                       task=args["task"]), None)  # fmt: skip
                except StudioError as err:  # the target or the task: another may work
                    return TableRead(table, None, err)
        where = f" from {source.path}" if source.path else ""
        self._start_load("load", job, f"Loading {what}{where}…", source=source,
                         remember=source.path if remember and source.kind == "mnist" else None)

    def _cache_for(self, dataset: str) -> Path | None:
        """Where downloads of a family go: the panel's cache_dir (tests) or the family's own."""
        if self.cache_dir is None:
            return None
        return Path(self.cache_dir) if dataset == "mnist" else Path(self.cache_dir) / dataset

    def download(self) -> None:
        """Download the chosen family into its cache (progress bar, Cancel) and load it."""
        key = self._family()
        fam = family(key)
        cache = self._cache_for(key) or fam.cache_dir()
        mirrors, limits = self.mirrors, self.download_limits
        checksums = dict(self.checksums) if key == "mnist" else None

        def job(task: Task) -> Dataset:
            last = -1

            def progress(done: int, total: int) -> None:
                nonlocal last
                step = done * 200 // total if total else 0  # at most ~200 signals per download
                if step != last:
                    last = step
                    task.progress(done, total)

            cancel = lambda: task.cancelled  # noqa: E731
            if checksums is not None:
                folder = download_mnist(cache, mirrors, progress, cancel, limits,
                                        checksums=checksums)  # fmt: skip
            else:
                folder = download_family(fam, cache, mirrors=mirrors, progress=progress,
                                         cancel=cancel, limits=limits)  # fmt: skip
            return _family_dataset(DataSource("mnist", dataset=key), folder)

        self._start_load("download", job, f"Downloading {fam.name}…", f"into {cache}",
                         source=DataSource("mnist", dataset=key))
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
        self, kind: str, fn: Callable[[Task], Any], message: str, detail: str = "", *,
        source: DataSource, remember: str | None = None,
    ) -> None:
        """Run a load; `remember`: the folder to store as the last one when it works."""
        self._clear_banner("source")
        self._loading = kind
        # The latest load wins: one still running is cancelled, and never reports.
        self._loader = self._tasks.run(
            fn, lane="load", latest=True,
            on_done=lambda result: self._on_loaded(True, result, source, remember),
            on_error=lambda err: self._on_loaded(False, err, source, remember),
            on_progress=self._on_download_progress,
        )
        self._set_loading_enabled(not self.state.training)
        self.statusMessage.emit(message)
        if self._dataset is None:
            self._set_source_text(message, detail)

    def _on_loaded(self, ok: bool, result: Any, source: DataSource, remember: str | None) -> None:
        self._loader = None
        if self._closing:
            return
        self.progress_row.hide()
        self._set_loading_enabled(not self.state.training)
        if isinstance(result, TableRead):
            self._show_table(result.preview)
            ok, result = (True, result.dataset) if result.error is None else (False, result.error)
        elif source.kind == "table" or not ok:
            self._show_table(None)
        if not ok:
            cancelled = isinstance(result, DownloadCancelled)
            still = (f"\nStill using {self._dataset.name} from {self._dataset.source}."
                     if self._dataset is not None else "")  # fmt: skip
            self._show_banner(user_message(result) + still, "source",
                              Level.INFO if cancelled else Level.ERROR)  # fmt: skip
            self.statusMessage.emit("Download cancelled" if cancelled
                                    else f"Could not load {source.describe()}")  # fmt: skip
            if self._dataset is None:
                self._set_source_text(
                    "No data loaded.", "Choose a folder or a file, or download a dataset.")
            return
        if source.kind == "mnist":  # where it was found (the cache, $MLP_STUDIO_DATA)
            source = replace(source, path=str(result.source))
            self._family_folders[source.dataset] = source.path
        if source.kind == "table" and result.table is not None:  # the target it settled on
            source = replace(source, target=result.table.target)
        self._dataset, self._source = result, source
        self.chooser.show_source(source)
        self.state.set_data_source(source)
        self.state.set_data_location(str(result.source))  # sessions record where it came from
        if remember:
            QSettings().setValue(LAST_FOLDER_KEY, remember)
        self.notes_label.setText("\n".join(f"⚠ {note}" for note in result.notes))
        self.notes_label.setVisible(bool(result.notes))
        self._fit_config_to(result)
        self._describe_dataset(result)
        self.statusMessage.emit(f"Loaded {result.name} from {result.source}")
        self._debounce.stop()
        self._start_prepare()

    def _show_table(self, table) -> None:
        """A table's preview (core.tables.TablePreview) with its columns as target choices;
        None hides it."""
        self.table_preview.set_preview(table)
        self.table_preview.setVisible(table is not None)
        if table is not None:
            self.chooser.set_columns(list(table.header), table.target)
            rows = f"{table.total_rows:,} rows × {len(table.header)} columns"
            self.table_caption.setText(f"{rows}; the first {len(table.rows)} shown. "
                                       "The target column is highlighted.")  # fmt: skip
        self.table_caption.setVisible(table is not None)

    def _set_source_text(self, main: str, detail: str) -> None:
        grey = self.palette().color(QPalette.ColorRole.PlaceholderText).name()
        small = f"<br><span style='color:{grey}'>{escape_html(detail)}</span>" if detail else ""
        self.source_label.setText(main + small)

    def _set_loading_enabled(self, enabled: bool) -> None:
        busy = self._loader is not None
        self.open_button.setEnabled(enabled and not busy)
        self.download_button.setEnabled(enabled and not busy)
        self.chooser.set_enabled(enabled)
