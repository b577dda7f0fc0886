"""The one message banner: it shows its text, and is hidden when it has none."""

import pytest
from mlp_studio.app.widgets.banner import Banner, Level
from PySide6.QtWidgets import QMainWindow, QToolBar


@pytest.fixture
def banner(qtbot):
    banner = Banner()
    qtbot.addWidget(banner)
    banner.resize(500, 40)
    return banner


def test_a_new_banner_is_hidden(banner):
    banner.show()  # a parent showing it must not make an empty strip appear
    banner.show_message("")
    assert banner.isHidden() and banner.text() == ""


@pytest.mark.parametrize("level", list(Level))
def test_a_message_shows_its_text_at_every_level(qtbot, banner, level):
    banner.show_message("Batch size 0 must be a whole number of at least 1.", level)
    assert not banner.isHidden() and banner.level is level
    assert banner.text() == banner.label.text() == (
        "Batch size 0 must be a whole number of at least 1."
    )


def test_closing_hides_it_and_says_so(qtbot, banner):
    banner.show_message("Download cancelled", "info")
    with qtbot.waitSignal(banner.dismissed):
        banner.close_button.click()
    assert banner.isHidden() and banner.text() == ""


def test_an_empty_message_hides_a_shown_banner(banner):
    banner.show_message("Something went wrong", "error")
    with_text = banner.text()
    banner.show_message("")
    assert with_text and banner.isHidden() and banner.text() == ""


def test_text_is_plain(banner):
    banner.show_message("<b>5 < 7</b> & co", "warning")
    assert banner.label.text() == "<b>5 < 7</b> & co"
    assert banner.label.textFormat().name == "PlainText"


def test_in_a_toolbar_the_text_is_on_screen_with_its_full_height(qtbot):
    """The window's banner lives in a toolbar, which lays out by size hint: the wrapped text
    must get its lines there, and the strip must not be shown without it."""
    window = QMainWindow()
    qtbot.addWidget(window)
    bar = QToolBar()
    banner = Banner()
    bar.addWidget(banner).setVisible(True)
    banner.textChanged.connect(lambda text: bar.setVisible(bool(text)))
    window.addToolBar(bar)
    window.resize(400, 300)
    window.show()
    qtbot.waitExposed(window)
    long = "Training diverged at epoch 1: the loss became NaN. Lower the learning rate. " * 3
    banner.show_message(long, "error")
    qtbot.waitUntil(lambda: banner.label.height() >= banner.label.heightForWidth(
        banner.label.width()) > 2 * banner.label.fontMetrics().height())
    assert bar.isVisible() and banner.isVisible() and banner.label.isVisible()
    assert banner.label.width() > 200
    banner.show_message("")
    assert not bar.isVisible()


def test_the_window_banner_shows_its_message_on_screen(qtbot, tmp_path, monkeypatch):
    """It rendered as an empty strip: the toolbar showed, its banner did not."""
    from mlp_studio.app.main_window import MainWindow
    from PySide6.QtCore import QSettings

    monkeypatch.delenv("MLP_STUDIO_DATA", raising=False)
    window = MainWindow(QSettings(), autoload_data=False, recovery_path=tmp_path / "r.mlps")
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    with qtbot.waitSignal(window.engineLoaded, timeout=60_000):
        window.load_engine()
    assert not window.banner_bar.isVisible()
    window.train_action.trigger()  # no data yet: says what to do
    label = window.banner.label
    assert "load MNIST" in label.text()
    qtbot.waitUntil(lambda: label.isVisible() and label.width() > 600)
    assert window.banner.window() is window and window.banner_bar.isVisible()
    assert label.height() >= label.fontMetrics().height()
    window.banner.close_button.click()
    assert not window.banner_bar.isVisible() and window.message_text() == ""
    window.file_actions.maybe_save = lambda: True
    window.close()


def test_building_a_banner_opens_no_window(qtbot):
    """Its close button once showed as a window of its own, taking the focus from the app's."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication

    windows = []

    class Watch(QObject):
        def eventFilter(self, watched, event):
            if event.type() == QEvent.Type.Show and watched.isWidgetType() and watched.isWindow():
                windows.append(watched)
            return False

    watch = Watch()
    QApplication.instance().installEventFilter(watch)
    try:
        banners = [Banner(), Banner(closable=False)]
    finally:
        QApplication.instance().removeEventFilter(watch)
    for banner in banners:
        qtbot.addWidget(banner)
    assert windows == []


def test_a_long_message_asks_for_a_few_lines_at_the_windows_width(qtbot):
    """Shown in a toolbar before it is laid out, a long message made the banner ask for the
    height of its text wrapped at a narrow guess of its width: under X11 the window grew past
    a 720-pixel-high screen."""
    from mlp_studio.app.widgets.banner import Banner
    from PySide6.QtWidgets import QMainWindow, QToolBar

    window = QMainWindow()
    qtbot.addWidget(window)
    window.resize(1200, 600)
    bar = QToolBar(window)
    banner = Banner(window)
    bar.addWidget(banner)
    window.addToolBar(bar)
    window.show()
    banner.show_message("The network took 784 inputs and gave 10 outputs; Playground points "
                        "have 2 values per sample and 2 classes, so it now fits them, with "
                        "fresh weights (Edit > Undo restores the previous network).", "info")
    lines = banner.label.fontMetrics().lineSpacing()
    assert banner.sizeHint().height() <= 3 * lines + 16  # two lines at 1200 px, not twenty
