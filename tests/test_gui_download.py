"""Cancel and close during a download that never ends on its own (issue 13, section 2).

The mirror trickles one byte a second or never answers: before, Cancel stayed on "Cancelling..."
and closing the window did not return, because a blocked socket read was only ever checked
between chunks.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import pytest
from idx_fixtures import checksums_of, write_mnist_folder
from mirror_server import MirrorServer
from mlp_studio.app.main_window import MainWindow
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.panels.data.data_panel import DataPanel
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox

IMAGES = "train-images-idx3-ubyte.gz"
BOUND = 2.0  # seconds: a correctness bound, not a benchmark (it takes about 0.1 s)


@pytest.fixture
def served(tmp_path: Path) -> Path:
    return write_mnist_folder(tmp_path / "served", n_train=300, n_test=50)


def point_at(panel: DataPanel, mirror: MirrorServer, cache: Path, served: Path) -> None:
    panel.mirrors = (mirror.url,)
    panel.cache_dir = cache
    panel.checksums = checksums_of(served)


def no_download_threads() -> bool:
    return not any(t.name.startswith("download ") for t in threading.enumerate())


def test_cancel_ends_a_trickling_download_and_gives_the_controls_back(qtbot, tmp_path, served):
    panel = DataPanel(Experiment(), autoload=False)
    qtbot.addWidget(panel)
    panel.show()
    with MirrorServer(served) as mirror:
        mirror.misbehave[IMAGES] = "trickle"  # one byte a second
        point_at(panel, mirror, tmp_path / "cache", served)
        qtbot.mouseClick(panel.download_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: bool(mirror.gets(IMAGES)), timeout=10_000)  # the body is trickling
        assert not panel.download_button.isEnabled() and panel.cancel_button.isEnabled()

        start = time.monotonic()
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(panel.download_button.isEnabled, timeout=10_000)
        latency = time.monotonic() - start
        qtbot.waitUntil(no_download_threads, timeout=3_000)
    assert latency < BOUND, f"Cancel took {latency:.2f} s"
    assert panel.open_button.isEnabled() and panel.progress_row.isHidden()
    assert "Download cancelled" in panel.banner.text()
    # The pool thread that ran the download returns after its error was reported: on a busy
    # machine a moment later (this failed twice in full runs under load).
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=3_000)
    with qtbot.waitSignal(panel.state.dataChanged, timeout=20_000):
        panel.load_folder(served)  # the panel still works
    panel.shutdown()


@pytest.mark.parametrize("mode", ["trickle", "mute"])
def test_closing_the_window_mid_download_returns_promptly(qtbot, monkeypatch, tmp_path, served,
                                                          mode):  # fmt: skip
    monkeypatch.delenv("MLP_STUDIO_DATA", raising=False)
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *args, **kwargs: QMessageBox.StandardButton.Discard)  # fmt: skip
    recovery = Path(tempfile.mkdtemp()) / "recovery.mlps"
    window = MainWindow(QSettings(), autoload_data=False, recovery_path=recovery)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.engineLoaded, timeout=60_000):
        window.load_engine()
    panel = window.panels["dataset"]
    with MirrorServer(served) as mirror:
        mirror.misbehave[IMAGES] = mode  # "mute": even the HEAD request never gets an answer
        point_at(panel, mirror, tmp_path / "cache", served)
        panel.download()
        hangs_at = ("GET" if mode == "trickle" else "HEAD", IMAGES)
        qtbot.waitUntil(lambda: hangs_at in [r[:2] for r in mirror.requests], timeout=10_000)

        start = time.monotonic()
        window.close()
        elapsed = time.monotonic() - start
        qtbot.waitUntil(no_download_threads, timeout=3_000)
    assert elapsed < BOUND, f"closing took {elapsed:.2f} s"
    assert not window.isVisible() and not panel.is_busy()
