"""The dataset panel: loading (folder, download, errors), settings -> PreparedData, views."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from idx_fixtures import NAMES, checksums_of, write_mnist_folder
from mirror_server import MirrorServer
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.panels.data.data_panel import DataPanel
from mlp_studio.app.panels.data.dataset_source import LAST_FOLDER_KEY
from mlp_studio.core.data import DataConfig, long_tail_fractions
from mlp_studio.core.mnist import ENV_VAR, FILES
from PySide6.QtCore import QSettings, Qt

TIMEOUT = 20_000  # ms; preparation of the small fixtures takes milliseconds


@pytest.fixture(autouse=True)
def fresh_settings(tmp_path: Path, qapp):
    """QSettings in a temporary folder, never the user's own."""
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "ini"))
    names = qapp.organizationName(), qapp.applicationName()
    qapp.setOrganizationName("mlp-studio-tests")
    qapp.setApplicationName("test-gui-dataset")
    yield
    QSettings().clear()
    qapp.setOrganizationName(names[0])
    qapp.setApplicationName(names[1])


@pytest.fixture
def small_mnist(tmp_path: Path) -> Path:
    return write_mnist_folder(tmp_path / "small", n_train=600, n_test=100)


@pytest.fixture
def panel(qtbot):
    state = Experiment()
    widget = DataPanel(state, autoload=False)
    qtbot.addWidget(widget)
    widget.resize(420, 900)
    widget.show()
    yield widget
    widget.shutdown()


def load(qtbot, panel: DataPanel, folder: Path) -> None:
    with qtbot.waitSignal(panel.state.dataChanged, timeout=TIMEOUT):
        panel.load_folder(folder)


def settle(qtbot, panel: DataPanel, check) -> None:
    """Wait until no work is pending and the state's data passes `check`."""
    qtbot.waitUntil(
        lambda: not panel.is_busy() and panel.state.data is not None and check(panel.state.data),
        timeout=TIMEOUT,
    )


def test_load_folder_shows_the_prepared_counts(qtbot, panel, small_mnist):
    load(qtbot, panel, small_mnist)
    data = panel.state.data
    counts = data.class_counts()
    shown = panel.balance_chart.shown()
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(shown[split], counts[split])
        np.testing.assert_array_equal(panel.balance_chart.heights()[split], counts[split])
    assert [counts[s].sum() for s in ("train", "val", "test")] == [540, 60, 100]
    assert "540 train · 60 validation · 100 test" in panel.split_counts.text()
    assert panel.state.data_config == panel.config() == DataConfig()
    assert str(small_mnist) in panel.source_label.text()
    assert QSettings().value(LAST_FOLDER_KEY) == str(small_mnist)
    # gallery: the first 48 training images with their labels
    labels = [data.class_names[y] for y in data.y_train[:48].tolist()]
    assert panel.gallery.grid.labels() == labels
    # histograms: raw pixels span 0-255; "unit" maps them into 0-1
    raw_edges, raw_counts = panel.raw_hist.shown()
    norm_edges, _ = panel.norm_hist.shown()
    assert raw_edges[0] == 0 and raw_edges[-1] == 255 and raw_counts.min() >= 1
    assert norm_edges[0] == 0 and norm_edges[-1] == pytest.approx(1.0)
    assert not panel.banner.isVisible()


def test_gallery_filters_by_split_and_class(qtbot, panel, small_mnist):
    load(qtbot, panel, small_mnist)
    gallery = panel.gallery
    gallery.split_combo.setCurrentIndex(gallery.split_combo.findData("test"))
    gallery.class_combo.setCurrentIndex(gallery.class_combo.findData(3))
    assert gallery.grid.labels() == ["3"] * 10  # the small test set holds ten of each digit
    assert "10 of 10" in gallery.count_label.text()
    gallery.split_combo.setCurrentIndex(gallery.split_combo.findData("train"))
    before = gallery.grid.labels()
    assert before == ["3"] * 48
    qtbot.mouseClick(gallery.shuffle_button, Qt.MouseButton.LeftButton)
    assert gallery.grid.labels() == ["3"] * 48


def test_normalization_choice_reprepares(qtbot, panel, small_mnist):
    load(qtbot, panel, small_mnist)
    combo = panel.normalization_combo
    combo.setCurrentIndex(combo.findData("standardize"))
    settle(qtbot, panel, lambda d: d.normalization.kind == "standardize")
    data = panel.state.data
    assert panel.state.data_config.normalization == "standardize"
    assert abs(float(data.x_train.mean())) < 1e-3  # standardized on the training split
    norm_edges, _ = panel.norm_hist.shown()
    assert norm_edges[0] < 0 < norm_edges[-1]
    assert "the mean and std of all training pixels" in panel.normalization_text.text()


def test_quick_edits_end_with_the_last_settings(qtbot, panel, small_mnist):
    load(qtbot, panel, small_mnist)
    combo = panel.normalization_combo
    for kind in ("symmetric", "per_pixel", "none", "standardize", "symmetric"):
        combo.setCurrentIndex(combo.findData(kind))
    panel.seed_spin.setValue(7)
    settle(qtbot, panel, lambda d: panel.state.data_config.split.seed == 7)
    assert panel.state.data.normalization.kind == "symmetric"
    assert panel.state.data_config == panel.config()


def test_official_split_by_count_and_subset(qtbot, panel, small_mnist):
    load(qtbot, panel, small_mnist)
    panel.val_unit.setCurrentIndex(panel.val_unit.findData("count"))
    panel.val_count.setValue(100)
    settle(qtbot, panel, lambda d: len(d.y_val) == 100)
    assert len(panel.state.data.y_train) == 500
    assert panel.state.data_config.split.val_count == 100
    panel.subset_check.setChecked(True)
    panel.subset_spin.setValue(50)
    settle(qtbot, panel, lambda d: len(d.y_train) == 50)
    assert panel.state.data_config.split.subset == 50
    assert "50 train · 100 validation · 100 test" in panel.split_counts.text()


def test_pooled_split_percentages_always_sum_to_100(qtbot, panel, small_mnist):
    load(qtbot, panel, small_mnist)
    qtbot.mouseClick(panel.pooled_radio, Qt.MouseButton.LeftButton)
    assert panel.mode_stack.currentIndex() == 1
    spins = panel.pooled_spins
    rng = np.random.default_rng(0)
    for _ in range(200):
        i = int(rng.integers(3))
        spins[i].setValue(int(rng.integers(-5, 110)))  # clamped to the spin's range
        values = [s.value() for s in spins]
        assert sum(values) == 100 and min(values) >= 1, values
        assert panel.config().split.percentages == tuple(float(v) for v in values)
    spins[0].setValue(60)
    spins[1].setValue(25)
    assert [s.value() for s in spins] == [60, 25, 15]
    settle(qtbot, panel, lambda d: panel.state.data_config.split.percentages == (60, 25, 15))
    data = panel.state.data
    assert panel.state.data_config.split.mode == "pooled"
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (420, 175, 105)
    np.testing.assert_array_equal(panel.balance_chart.shown()["test"], data.class_counts()["test"])


def test_long_tail_then_remedy_then_balanced(qtbot, panel, small_mnist):
    load(qtbot, panel, small_mnist)
    assert panel.hint_label.isHidden()
    qtbot.mouseClick(panel.long_tail_button, Qt.MouseButton.LeftButton)
    expected = tuple(round(100 * f) / 100 for f in long_tail_fractions())
    settle(qtbot, panel, lambda d: panel.state.data_config.balance.keep_fractions == expected)
    counts = panel.state.data.class_counts()
    assert counts["train"][0] == 54 and counts["train"][9] == 3  # 54 of each digit, 5% of 54
    assert (counts["val"] == 6).all() and (counts["test"] == 10).all()  # untouched
    np.testing.assert_array_equal(panel.balance_chart.shown()["train"], counts["train"])
    assert not panel.hint_label.isHidden()
    assert "only 5% of class 9" in panel.hint_label.text()

    panel.remedy_combo.setCurrentIndex(panel.remedy_combo.findData("oversample"))
    settle(qtbot, panel, lambda d: panel.state.data_config.balance.remedy == "oversample")
    assert (panel.state.data.class_counts()["train"] == 54).all()
    distinct = panel.balance_chart.distinct_shown()  # the darker bars
    assert distinct is not None and distinct[9] == 3
    assert "Oversampling repeats the rare samples" in panel.hint_label.text()

    qtbot.mouseClick(panel.balanced_button, Qt.MouseButton.LeftButton)
    settle(qtbot, panel, lambda d: min(panel.state.data_config.balance.keep_fractions) == 1.0)
    assert (panel.state.data.class_counts()["train"] == 54).all()
    assert panel.hint_label.isHidden()


def test_keep_slider_thins_one_digit(qtbot, panel, small_mnist):
    load(qtbot, panel, small_mnist)
    panel.keep_sliders.sliders[4].setValue(50)
    settle(qtbot, panel, lambda d: panel.state.data_config.balance.keep_fractions[4] == 0.5)
    assert panel.state.data.class_counts()["train"][4] == 27


def test_binary_task(qtbot, panel, small_mnist):
    load(qtbot, panel, small_mnist)
    panel.task_combo.setCurrentIndex(panel.task_combo.findData(3))
    settle(qtbot, panel, lambda d: d.num_classes == 2)
    data = panel.state.data
    assert data.class_names == ["not 3", "3"]
    assert panel.state.spec.output_size == 2
    np.testing.assert_array_equal(panel.balance_chart.shown()["test"], [90, 10])
    assert "90% of test samples are “not 3”" in panel.hint_label.text()


def test_invalid_settings_show_a_message_and_keep_the_data(qtbot, panel, small_mnist):
    load(qtbot, panel, small_mnist)
    good = panel.state.data
    for slider in panel.keep_sliders.sliders:
        slider.setValue(0)
    qtbot.waitUntil(lambda: panel.banner.isVisible(), timeout=TIMEOUT)
    assert "keep fractions are all 0" in panel.banner.text()
    assert panel.state.data is good
    qtbot.mouseClick(panel.balanced_button, Qt.MouseButton.LeftButton)
    settle(qtbot, panel, lambda d: d is not good)
    assert not panel.banner.isVisible()


def test_folder_without_mnist_shows_a_message_and_stays_usable(qtbot, panel, tmp_path, small_mnist):
    empty = tmp_path / "empty"
    empty.mkdir()
    panel.load_folder(empty)
    qtbot.waitUntil(lambda: panel.banner.isVisible() and panel.open_button.isEnabled())
    assert "No MNIST in" in panel.banner.text() and "folder" in panel.banner.text()
    assert panel.state.data is None
    assert QSettings().value(LAST_FOLDER_KEY) is None  # only folders that worked are remembered
    load(qtbot, panel, small_mnist)
    assert not panel.banner.isVisible()


def test_corrupt_file_shows_a_message_and_keeps_the_loaded_data(
    qtbot, panel, tmp_path, small_mnist
):
    load(qtbot, panel, small_mnist)
    good = panel.state.data
    broken = write_mnist_folder(tmp_path / "broken", n_train=60, n_test=10)
    (broken / f"{NAMES['train_images']}.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x07junk"))
    panel.load_folder(broken)
    qtbot.waitUntil(lambda: panel.banner.isVisible() and panel.open_button.isEnabled())
    assert "magic number" in panel.banner.text()
    assert "Still using MNIST from" in panel.banner.text()
    assert panel.state.data is good
    panel.normalization_combo.setCurrentIndex(panel.normalization_combo.findData("none"))
    settle(qtbot, panel, lambda d: d.normalization.kind == "none")  # still usable


def test_new_folder_while_preparing_uses_the_new_data(qtbot, panel, tmp_path, small_mnist):
    other = write_mnist_folder(tmp_path / "other", n_train=300, n_test=50, seed=3)
    load(qtbot, panel, small_mnist)
    panel.normalization_combo.setCurrentIndex(panel.normalization_combo.findData("none"))
    panel._debounce.timeout.emit()  # start that preparation now, then load other data at once
    panel.load_folder(other)
    settle(qtbot, panel, lambda d: len(d.y_test) == 50)
    assert panel.state.data.normalization.kind == "none"


def test_autoload_from_the_environment(qtbot, small_mnist, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(small_mnist))
    state = Experiment()
    with qtbot.waitSignal(state.dataChanged, timeout=TIMEOUT):
        widget = DataPanel(state)
        qtbot.addWidget(widget)
    assert len(state.data.y_test) == 100
    assert QSettings().value(LAST_FOLDER_KEY) is None  # not a folder the user chose
    widget.shutdown()


def test_settings_from_the_state_update_the_widgets(qtbot, panel, small_mnist):
    load(qtbot, panel, small_mnist)
    config = DataConfig(normalization="symmetric", target_digit=2)
    config.split.seed = 5
    panel.state.set_data_config(config)
    settle(qtbot, panel, lambda d: d.num_classes == 2)
    assert panel.normalization_combo.currentData() == "symmetric"
    assert panel.task_combo.currentData() == 2
    assert panel.seed_spin.value() == 5
    assert panel.config() == config == panel.state.data_config


def test_settings_are_locked_while_training(qtbot, panel, small_mnist):
    load(qtbot, panel, small_mnist)
    panel.state.set_training(True)
    for w in (panel.normalization_combo, panel.open_button, panel.download_button,
              panel.task_combo, panel.keep_sliders, panel.seed_spin):  # fmt: skip
        assert not w.isEnabled()
    assert panel.gallery.shuffle_button.isEnabled()  # looking is fine
    panel.state.set_training(False)
    assert panel.normalization_combo.isEnabled() and panel.open_button.isEnabled()


def test_result_finished_during_training_waits_for_the_end(qtbot, panel, small_mnist):
    load(qtbot, panel, small_mnist)
    good = panel.state.data
    panel.normalization_combo.setCurrentIndex(panel.normalization_combo.findData("symmetric"))
    panel.state.set_training(True)  # the preparation is still pending
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=TIMEOUT)
    assert panel.state.data is good
    with qtbot.waitSignal(panel.state.dataChanged, timeout=TIMEOUT):
        panel.state.set_training(False)
    assert panel.state.data.normalization.kind == "symmetric"


def test_download_from_a_loopback_mirror(qtbot, panel, tmp_path):
    served = write_mnist_folder(tmp_path / "served", n_train=300, n_test=50)
    panel.cache_dir = tmp_path / "cache"
    panel.checksums = checksums_of(served)
    progress: list[tuple[int, int]] = []
    panel.downloadProgress.connect(lambda done, total: progress.append((done, total)))
    with MirrorServer(served) as mirror:
        panel.mirrors = (mirror.url,)
        with qtbot.waitSignal(panel.state.dataChanged, timeout=TIMEOUT):
            qtbot.mouseClick(panel.download_button, Qt.MouseButton.LeftButton)
            assert panel.progress_row.isVisible()
    total = sum((served / f"{stem}.gz").stat().st_size for stem in FILES.values())
    assert progress and progress[-1] == (total, total)
    assert len(panel.state.data.y_test) == 50
    assert str(tmp_path / "cache") in panel.source_label.text()
    assert panel.progress_row.isHidden() and panel.download_button.isEnabled()


def test_shutdown_waits_for_running_work(qtbot, qapp, small_mnist):
    state = Experiment()
    widget = DataPanel(state, autoload=False)
    qtbot.addWidget(widget)
    widget.load_folder(small_mnist)
    widget.shutdown()
    assert not widget.is_busy()
    qapp.processEvents()  # deliver the finished worker's queued signal: it must be ignored
    assert state.data is None


def test_full_mnist(qtbot, panel, mnist_dir):
    with qtbot.waitSignal(panel.state.dataChanged, timeout=60_000):
        panel.load_folder(mnist_dir)
    counts = panel.state.data.class_counts()
    assert [int(counts[s].sum()) for s in ("train", "val", "test")] == [54_000, 6_000, 10_000]
    np.testing.assert_array_equal(panel.balance_chart.shown()["train"], counts["train"])
    assert "MNIST</b>: 60,000 training + 10,000 test images" in panel.source_label.text()
