"""What a newcomer met using the app in a real window: each test names the slip it guards."""

from __future__ import annotations

import pytest
from mlp_studio.app.files import lesson_actions
from test_gui_main import make_window, no_modal_questions  # noqa: F401


@pytest.fixture
def window(qtbot, monkeypatch, tmp_path):
    monkeypatch.delenv("MLP_STUDIO_DATA", raising=False)
    window = make_window(qtbot, tmp_path / "recovery.mlps")
    window.lesson_actions.folder = tmp_path / "kept aside"
    monkeypatch.setattr(lesson_actions, "ask_unsaved", lambda _parent: "keep")
    yield window
    window.close()


def test_a_step_in_the_playground_shows_the_loss_of_the_weights_as_they_are(window, qtbot):
    """Lesson 4 says: press Step once, the Playground shows the loss of the weights as they
    are. The label stayed empty."""
    lessons, playground = window.panels["lessons"], window.panels["playground"]
    assert lessons.select("loss")
    lessons.load_button.click()
    window.step_action.trigger()
    qtbot.waitUntil(lambda: window.state.run_state == "paused" and window.state.epochs_done == 0
                    and "after step" in playground.live.losses.text(), timeout=30_000)
    qtbot.wait(500)  # the frames that follow must not wipe it
    assert "after step 1" in playground.live.losses.text()
    # Stopped before any epoch ended: the loss of the weights left stays shown (it went blank)
    window.controller.stop()
    qtbot.waitUntil(lambda: not window.state.training, timeout=30_000)
    qtbot.wait(500)
    assert "after step 1" in playground.live.losses.text()


def test_a_deep_networks_legends_fit_their_plots_and_follow_the_theme(qtbot):
    """Lesson 6 (eight sigmoid layers): the dead/saturated legend, one tall column of 'hidden
    N saturated (sigmoid)', ran off the bottom of its plot and covered the curves; and legend
    entries kept their first colour when the palette turned dark."""
    from mlp_studio.app.panels.training.gradients_panel import GradientsPanel
    from mlp_studio.app.preview.common import dark_palette

    panel = GradientsPanel()
    qtbot.addWidget(panel)
    panel.resize(510, 560)
    panel.show()
    panel.set_layers(["sigmoid"] * 8)
    panel.set_layers(["sigmoid"] * 8)  # again: no rows left over from the first legend
    qtbot.wait(50)
    for plot in panel.plots:
        item = plot.getPlotItem()
        legend, view = item.legend.sceneBoundingRect(), item.vb.sceneBoundingRect()
        assert legend.bottom() <= view.bottom() and legend.height() <= 0.75 * view.height()
        assert legend.width() <= 0.7 * view.width()
    assert "sigmoid" in panel.unit_plot.getPlotItem().getAxis("left").labelText

    panel.setPalette(dark_palette())
    text = panel.palette().color(panel.palette().ColorRole.Text).name()
    for plot in panel.plots:
        for _sample, label in plot.getPlotItem().legend.items:
            assert text in label.item.toHtml()


@pytest.mark.parametrize("width", [560, 380])  # the plot beside the fields, or under them
def test_a_long_formula_error_does_not_run_under_the_activation_plot(qtbot, width):
    """Lesson 7, a newcomer types nonsense into f(x): the wrapped error (four lines) was given
    the height of one line, and the splitter squeezed it over the plot's axis."""
    from mlp_studio.app.panels.network.layer_editor import LayerEditor
    from mlp_studio.core.activations import ActivationSpec
    from mlp_studio.core.model import LayerSpec
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QLabel, QSplitter

    splitter = QSplitter(Qt.Orientation.Vertical)  # as in the Network panel
    qtbot.addWidget(splitter)
    editor = LayerEditor()
    splitter.addWidget(QLabel("the diagram"))
    splitter.addWidget(editor)
    splitter.setStretchFactor(0, 1)
    splitter.resize(width, 420)
    splitter.show()
    editor.set_layer(0, LayerSpec(4, ActivationSpec("custom", formula="x * sigmoid(x)")))
    editor.formula.setText("__import__('os')")
    editor.formula.textEdited.emit(editor.formula.text())
    qtbot.wait(50)
    status = editor.formula_status
    assert "Unknown function '__import__'" in status.text() and status.isVisible()
    top = status.mapTo(editor, status.rect().topLeft()).y()
    plot = editor.plot.mapTo(editor, editor.plot.rect().bottomLeft()).y()
    assert top > plot, (top, plot)
    assert status.height() >= status.heightForWidth(status.width())


@pytest.mark.parametrize("size", [(1280, 720), (1440, 900)])
def test_the_spirals_arms_fit_the_playground_without_a_scroll_bar(qtbot, monkeypatch, size):
    """Lesson 8 (a spiral): the Arms box widened the Playground's top row past the column the
    window had given the panel, and a horizontal scroll bar cut off Regenerate, the losses and
    Pin this run."""
    import tempfile
    from pathlib import Path

    from mlp_studio.app.main_window import MainWindow
    from PySide6.QtCore import QSettings

    monkeypatch.delenv("MLP_STUDIO_DATA", raising=False)
    monkeypatch.setattr(lesson_actions, "ask_unsaved", lambda _parent: "keep")
    window = MainWindow(QSettings(), autoload_data=False,
                        recovery_path=Path(tempfile.mkdtemp()) / "recovery.mlps")
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    with qtbot.waitSignal(window.engineLoaded, timeout=60_000):
        window.load_engine()
    window.lesson_actions.folder = Path(tempfile.mkdtemp())
    lessons, playground = window.panels["lessons"], window.panels["playground"]
    window.docks["playground"].raise_()
    for lesson in ("activation-functions", "optimizers"):  # a circle, then a spiral
        assert lessons.select(lesson)
        lessons.load_button.click()
        qtbot.wait(100)
        area = playground.parentWidget().parentWidget()
        assert not area.horizontalScrollBar().isVisible(), (lesson, playground.width(),
                                                            area.width())
    assert playground.classes_spin.isVisible() and playground.dataset == "spiral"
    # Pin this run, with its losses: two views side by side, on one line each the losses
    # widened the panel past its column as well.
    playground.live.set_curves([(99, 0.184, 0.170), (100, 0.1841, 0.1702)])
    playground.toggle_pin()
    playground.live.show_losses_now(0.1841, 0.1702, "weights edited by hand")
    qtbot.wait(100)
    assert playground.pinned.isVisible()
    assert not area.horizontalScrollBar().isVisible(), (playground.width(), area.width())
    window.close()


def test_the_loss_axis_shows_the_loss_itself_not_thousandths(qtbot):
    """A reopened binary session: losses below 1 were drawn as 0-800 under 'loss (x0.001)'."""
    import numpy as np
    from mlp_studio.app.panels.training.live_plots import CurvesPanel
    from mlp_studio.core.training import BatchProgress

    panel = CurvesPanel()
    qtbot.addWidget(panel)
    panel.resize(500, 500)
    panel.show()
    losses = np.linspace(0.8, 0.02, 200).astype(np.float32)
    panel.add_progress(BatchProgress(1, 200, 200, 200, losses, 1000.0, 0.001))
    panel.redraw()
    qtbot.wait(50)
    axis = panel.loss_plot.getPlotItem().getAxis("left")
    assert axis.autoSIPrefixScale == 1.0 and "x0.001" not in axis.labelString()


def test_emptied_plots_forget_the_axes_of_the_last_run(qtbot):
    """A new table after a regression run: 'Not trained yet', but the empty loss plot kept the
    old run's axes (110000-140000 over epochs 0.5-2) and the accuracy plot its 98-99 %."""
    import numpy as np
    from mlp_studio.app.panels.training.live_plots import CurvesPanel
    from mlp_studio.core.training import BatchProgress

    panel = CurvesPanel()
    qtbot.addWidget(panel)
    panel.resize(500, 500)
    panel.show()
    losses = np.linspace(140_000, 110_000, 30).astype(np.float32)
    panel.add_progress(BatchProgress(2, 30, 30, 30, losses, 1000.0, 0.001))
    panel.redraw()
    qtbot.wait(50)
    assert panel.loss_plot.getPlotItem().viewRange()[1][1] > 100_000
    panel.clear()
    qtbot.wait(50)
    for plot in panel.plots:
        (x0, x1), (y0, y1) = plot.getPlotItem().viewRange()
        assert x1 <= 1.5 and y1 <= 1.5, plot.getPlotItem().titleLabel.text


def test_a_banner_in_a_narrow_column_shows_its_whole_message(window, qtbot, tmp_path):
    """Draw > Open image... on a file that is not a picture: the banner above the canvas (a
    third of the window wide) got one line's height, so 'give a PNG or JPEG picture' was cut."""
    window.resize(1440, 900)
    window.docks["canvas"].raise_()
    draw = window.panels["canvas"]
    fake = tmp_path / "notes.png"
    fake.write_text("not an image")
    with qtbot.waitSignal(draw.imageOpened, timeout=10_000):
        draw.open_image_file(fake)
    qtbot.wait(100)
    banner = next(b for b in draw.findChildren(type(window.banner)) if b.text())
    assert "it is not a picture" in banner.text()
    assert banner.width() < window.width() // 2  # the case: a column narrower than half
    label = banner.label
    assert label.height() >= label.heightForWidth(label.width()), (label.height(),
                                                                  label.heightForWidth(label.width()))


def test_exporting_a_picture_folders_model_describes_pictures_not_digits(qtbot):
    """Export of a cat/dog image folder's network (28x28 grayscale): the dialog said the file
    takes 'digits prepared like MNIST', the Python example 'digits fitted into 20x20 and
    centred by mass', and it offered the Keras script, which trains on MNIST."""
    import numpy as np
    from mlp_studio.app.dialogs.export_dialog import FORMATS, ExportDialog
    from mlp_studio.core import export
    from mlp_studio.core.data import Normalization
    from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
    from PySide6.QtCore import QSettings

    spec = NetworkSpec(784, [LayerSpec(8)], 2)
    normalization = Normalization("unit", np.zeros(784), np.full(784, 255.0))
    bundle = export.ModelBundle(spec, normalization, "cross-entropy", ["cat", "dog"],
                                build_model(spec).state_dict(), image_shape=(28, 28))
    dialog = ExportDialog(bundle, np.zeros((4, 784), np.float32), settings=QSettings(),
                          script=lambda path: path)
    qtbot.addWidget(dialog)
    shown = dialog.intro_text() + export.usage_snippet("m.onnx", bundle)
    assert "MNIST" not in shown and "digit" not in shown
    assert "28x28 pictures (grayscale)" in shown and "centred square and resized" in shown
    keras_script = next(i for i, f in enumerate(FORMATS) if f.suffix == ".py")
    assert not dialog.format_buttons.button(keras_script).isEnabled()

    one = ExportDialog(bundle, np.zeros((1, 784), np.float32), settings=QSettings())
    qtbot.addWidget(one)
    assert "on 1 test image." in one.status_text()  # a tiny folder: not "1 test images"


@pytest.mark.parametrize("target", ["box", "line edit"])
def test_a_digit_the_box_drops_says_why(qtbot, target):
    """Typing 20000 neurons into a box of at most 9,999: the spin box dropped the last key
    without a word and kept 2000, a tenth of what was typed."""
    from mlp_studio.app.widgets.range_note import bind_range
    from mlp_studio.core.setting_ranges import MAX_UNITS
    from PySide6.QtWidgets import QFormLayout, QSpinBox, QWidget

    form = QWidget()
    qtbot.addWidget(form)
    layout = QFormLayout(form)
    box = QSpinBox()
    layout.addRow("Neurons", box)
    note = bind_range(box, "units")
    form.show()
    box.lineEdit().selectAll()
    typed = str(2 * MAX_UNITS + 2)
    qtbot.keyClicks(box if target == "box" else box.lineEdit(), typed)
    assert note.isVisibleTo(form) and note.text() == f"Out of range: use 1 to {MAX_UNITS:,}."


def test_one_epoch_is_one_epoch(qtbot):
    """A branch from epoch 1: the header said 'Trained 1 epochs'."""
    from mlp_studio.app.model.experiment import Experiment
    from mlp_studio.app.panels.training.training_panel import TrainingPanel
    from mlp_studio.core.training_events import EpochRecord, History

    panel = TrainingPanel(Experiment())
    qtbot.addWidget(panel)
    history = History()
    history.epochs.append(EpochRecord(1, 0.5, 0.9, 0.4, 0.95, 1.0, 0.001,
                                      [[5, 0], [1, 4]]))
    panel.show_history(history)
    assert "<b>Trained</b> 1 epoch;" in panel.status.text()


def test_the_rate_finder_reads_in_rates_and_says_why_trained_weights_give_nothing(qtbot,
                                                                                  monkeypatch):
    """The LR finder on weights trained for an epoch: the rate axis read 'learning rate
    (x0.001)' (its '1' meant 0.001), and 'no rate suggested: try a lower start rate' left out
    why: trained weights leave the loss nothing to fall from."""
    import numpy as np
    from mlp_studio.app.dialogs.lr_finder_dialog import LrFinderDialog
    from mlp_studio.app.model.experiment import Experiment
    from mlp_studio.core.lr_finder import LrFinding

    state = Experiment()
    monkeypatch.setattr(Experiment, "epochs_done", property(lambda self: 1))
    dialog = LrFinderDialog(state)  # no data: it does not start
    qtbot.addWidget(dialog)
    dialog.show()
    lrs = list(np.geomspace(1e-7, 0.0376, 70))
    losses = [0.15] * 60 + list(np.linspace(0.2, 3.5, 10))
    dialog._done(LrFinding(lrs, losses, losses, None, None, None, True, False,
                           "70 batches. No rate suggested: the loss did not fall before it "
                           "rose."))
    qtbot.wait(50)
    axis = dialog.plot.getAxis("bottom")
    assert axis.autoSIPrefixScale == 1.0 and "x0.001" not in axis.labelString()
    assert "trained already (1 epoch)" in dialog.status.text()
    assert "Reset weights" in dialog.status.text()


def test_getting_started_says_what_decides_the_data():
    """Help > Getting started said 'raising the Data or the Playground tab decides which data
    the next run trains on'; the app trains on the Data panel's Train on choice, never on
    the tab in front. It also left out the Lessons, other data sources and Keras export."""
    from mlp_studio.app.dialogs.help_dialog import load_topics

    text = next(t for t in load_topics() if t.title == "Getting started").markdown
    assert "Raising the" not in text and "**Train on**" in text
    assert "the tab in front never does" in text and "**Lessons**" in text
    assert "CSV table" in text and "Keras" in text


def test_the_playgrounds_loss_strip_has_no_scale_before_it_has_curves(qtbot):
    """Before training, the strip above the plane showed an empty 0-1 scale crammed into 78
    pixels (six labels, '1.0' cut off)."""
    from mlp_studio.app.panels.playground.run_view import RunView

    view = RunView("This run")
    qtbot.addWidget(view)
    view.show()
    axis = view.plot.getPlotItem().getAxis("left")
    assert not axis.isVisible()
    view.set_curves([(1, 0.7, 0.72), (2, 0.5, 0.55)])
    assert axis.isVisible()
    view.set_curves([])
    assert not axis.isVisible()


def test_the_data_panels_number_boxes_say_why_a_digit_was_dropped(qtbot, monkeypatch):
    """Split > Validation: typing 95 into a box of at most 90 % left 9 % without a word."""
    from mlp_studio.app.model.experiment import Experiment
    from mlp_studio.app.panels.data.data_panel import DataPanel
    from PySide6.QtWidgets import QToolTip

    shown = []
    monkeypatch.setattr(QToolTip, "showText", lambda _at, text, *_a: shown.append(text))
    panel = DataPanel(Experiment(), autoload=False)
    qtbot.addWidget(panel)
    panel.show()
    box = panel.val_pct
    box.lineEdit().selectAll()
    qtbot.keyClicks(box, "95")
    panel.shutdown()
    assert shown and shown[-1] == "Out of range: use 0.1 to 90 %."


def test_the_lessons_note_does_not_push_the_buttons_over_the_text(qtbot, tmp_path):
    """Lesson 8 at 1280x720 after a variant was loaded: the three-line note ('Your work is
    kept aside in ...') was given one line, and 'Load this experiment' was drawn over the
    lesson's text."""
    from mlp_studio.app.model.experiment import Experiment
    from mlp_studio.app.panels.lessons.lessons_panel import LessonsPanel
    from PySide6.QtCore import QSettings

    settings = QSettings(str(tmp_path / "progress.ini"), QSettings.Format.IniFormat)
    panel = LessonsPanel(Experiment(), settings=settings)
    qtbot.addWidget(panel)
    panel.resize(360, 480)
    panel.show()
    assert panel.select("optimizers")
    panel.on_loaded(panel.current, "Loaded “momentum 0.9”: press Train, then look and answer "
                    "the question. Your work is kept aside in /root/.local/share/mlp-studio/"
                    "kept aside/Untitled 2026-12-06 13-09-31.mlps (File > Open Recent opens it).")
    qtbot.wait(100)
    note = panel.note
    assert note.isVisible() and note.height() >= note.heightForWidth(note.width())
    text_bottom = panel.text.mapTo(panel, panel.text.rect().bottomLeft()).y()
    button_top = panel.load_button.mapTo(panel, panel.load_button.rect().topLeft()).y()
    assert text_bottom < button_top, (text_bottom, button_top)


def test_a_lessons_half_percent_is_shown_and_kept_when_another_slider_moves(qtbot):
    """Lesson 10 keeps 0.5 % of the 9s: the slider and the hint said '0%' (none at all), and
    moving any other slider rounded the 9s' 0.5 % to 0 %, every 9 gone from training."""
    from mlp_studio.app.panels.data.balance_chart import KeepFractionSliders

    sliders = KeepFractionSliders()
    qtbot.addWidget(sliders)
    emitted = []
    sliders.changed.connect(emitted.append)
    lesson = (1.0, 1.0, 1.0, 1.0, 1.0, 0.7, 0.5, 0.3, 0.15, 0.005)
    sliders.set_fractions_silently(lesson)
    assert sliders._values[9].text() == "0.5%" and sliders._values[5].text() == "70%"
    sliders.sliders[0].setValue(50)  # the student moves the 0s
    assert emitted[-1][9] == 0.005 and emitted[-1][0] == 0.5
    sliders.sliders[9].setValue(3)  # and now the 9s themselves
    assert emitted[-1][9] == 0.03 and sliders._values[9].text() == "3%"
