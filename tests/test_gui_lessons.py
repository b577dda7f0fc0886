"""The Lessons dock in the main window: every lesson loads from a clean start and runs, with its
question's answer in the view it names (checked where a number shows it), and the user's own
work is saved or kept aside first, never lost."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import full_mnist_dir
from mlp_studio.app.files import lesson_actions
from mlp_studio.app.panels.lessons.lessons_panel import LessonsPanel
from mlp_studio.core.lessons import VIEWS, bundled_folder, load_lessons
from mlp_studio.core.model import LayerSpec
from mlp_studio.core.session import load_session
from test_gui_main import make_window, no_modal_questions  # noqa: F401

LESSONS = {lesson.id: lesson for lesson in load_lessons()[0]}
MNIST = full_mnist_dir()  # read before the window fixture hides it from the window


@pytest.fixture
def window(qtbot, monkeypatch, tmp_path):
    monkeypatch.delenv("MLP_STUDIO_DATA", raising=False)  # the window must not autoload MNIST
    window = make_window(qtbot, tmp_path / "recovery.mlps")
    window.lesson_actions.folder = tmp_path / "kept aside"
    answers = []
    monkeypatch.setattr(lesson_actions, "ask_unsaved",
                        lambda _parent: answers.pop(0) if answers else "keep")
    window.answers = answers  # what the next questions answer (default: keep aside)
    yield window
    window.close()


def load(window, lesson_id: str, variant: int = -1) -> None:
    panel = window.panels["lessons"]
    assert panel.select(lesson_id)
    (panel.load_button if variant < 0 else panel.variant_buttons[variant]).click()


def train(window, qtbot, **changes):
    state = window.state
    if changes:
        config = state.train_config
        for key, value in changes.items():
            setattr(config, key, value)
        state.set_train_config(config)
    with qtbot.waitSignal(window.controller.finished, timeout=90_000) as blocker:
        window.train_action.trigger()
    qtbot.waitUntil(lambda: not window.controller.running, timeout=30_000)
    return blocker.args[0]


def shown(window, key: str) -> bool:
    return not window.docks[key].visibleRegion().isEmpty()


def gradient_ratio(history) -> float:
    """Median over the run of |first layer's gradient| / |last layer's|."""
    norms = np.array([n for _, n in history.grad_norms], dtype=float)
    return float(np.median(norms[:, 0] / norms[:, -1]))


def test_lesson_2_no_hidden_layer_fails_on_xor_one_succeeds(window, qtbot):
    state, panel = window.state, window.panels["playground"]
    load(window, "why-layers")
    assert state.source == "playground" and panel.dataset == "xor" and panel.active
    assert state.spec.hidden == [] and state.model is None
    assert shown(window, "playground")
    assert not window.isWindowModified()  # a lesson loads as a new, unmodified session
    finished = train(window, qtbot)
    assert 0.4 <= finished.test.accuracy <= 0.75
    assert window.panels["lessons"].list.item(1).text().lstrip().startswith("○")

    load(window, "why-layers", variant=0)  # trained weights are work: kept aside first
    assert [(h.units, h.activation.name) for h in state.spec.hidden] == [(4, "tanh")]
    assert panel.dataset == "xor" and state.epochs_done == 0
    finished = train(window, qtbot)
    assert finished.test.accuracy > 0.9
    kept = list(window.lesson_actions.folder.glob("*.mlps"))
    assert len(kept) == 1 and load_session(kept[0]).epochs_done == 60


def test_lesson_6_gradients_vanish_with_sigmoid_not_with_relu(window, qtbot):
    load(window, "vanishing-gradients")
    training = window.panels["training"]
    assert shown(window, "training") and training.tabs.currentWidget() is training.gradients
    train(window, qtbot, epochs=6)
    sigmoid = gradient_ratio(window.state.history)
    assert training.gradients.grad_plot.plotItem.listDataItems()  # the view draws them
    load(window, "vanishing-gradients", variant=0)
    relu = train(window, qtbot, epochs=6)
    he = gradient_ratio(window.state.history)
    assert sigmoid < 1e-3 and 0.05 < he < 20 and he / sigmoid > 1e3
    assert relu.test.accuracy > 0.8


def test_lesson_6_as_a_paired_run_in_the_compare_dock(window, qtbot):
    compare, panel = window.panels["compare"], window.panels["lessons"]
    panel.select("vanishing-gradients")
    assert panel.pair_button.isVisible()
    assert panel.pair_button.text() == "Compare side by side: sigmoid against ReLU"
    with qtbot.waitSignal(compare.runs.pairFinished, timeout=120_000) as blocker:
        panel.pair_button.click()
        assert shown(window, "compare") and "side by side" in panel.note.text()
    result = blocker.args[0]
    assert result.same_start and result.same_order  # only the activation differs
    a, b = result.a.grad_norms(), result.b.grad_norms()
    assert (a[0] / a[-1]) * 1e3 < b[0] / b[-1]  # first vs last layer: orders of magnitude
    assert result.b.metric("accuracy") > 0.8 > result.a.metric("accuracy")
    qtbot.waitUntil(lambda: not compare.runs.running, timeout=30_000)


def test_every_playground_lesson_loads_and_runs_from_a_clean_start(window, qtbot):
    for view in VIEWS:  # every view a lesson may name exists
        key, _, tab = view.partition("/")
        window.raise_view(view)
        assert shown(window, key), view
        if tab:
            tabs = window.panels[key].tabs
            assert tabs.tabText(tabs.currentIndex()).lower() == tab
    state = window.state
    load(window, "backpropagation")  # lesson 5: the backward pass of one sample, step by step
    backprop = window.panels["backprop"]
    assert shown(window, "backprop")
    qtbot.waitUntil(lambda: backprop.passed is not None, timeout=10_000)
    assert len(backprop.passed.layers) == 4  # three hidden layers and the output
    backprop.check_gradient()
    assert "relative error" in backprop.check_result.text()
    for lesson in LESSONS.values():
        if lesson.setup.source != "playground":
            continue
        for variant in range(-1, len(lesson.variants)):
            setup = lesson.setup if variant < 0 else lesson.variants[variant].setup
            load(window, lesson.id, variant)
            assert state.spec == setup.spec
            assert state.source == ("playground" if setup.source == "playground" else "mnist")
            if setup.source != "playground":
                continue
            assert state.train_config == setup.train_config and state.model is None
            assert state.playground_settings.to_dict() == setup.playground.to_dict()
            assert state.data is window.panels["playground"].playground.data
        load(window, lesson.id)
        assert shown(window, lesson.views[0].partition("/")[0])
        finished = train(window, qtbot, epochs=2)
        assert finished.test is not None and finished.diverged is None, lesson.id


def test_lesson_9_house_prices_table_is_a_regression(window, qtbot):
    state = window.state
    load(window, "losses-by-task", variant=0)
    assert state.source == "mnist" and state.data_source.kind == "table"
    qtbot.waitUntil(lambda: state.data is not None and state.data.task == "regression"
                    and not window.panels["dataset"].is_busy(), timeout=60_000)
    assert state.data.x_train.shape[1] == state.spec.input_size == 9
    assert state.spec.output_size == 1
    finished = train(window, qtbot, epochs=30)
    assert finished.test.regression and finished.test.r2 > 0.8


def test_unsaved_work_is_kept_aside_saved_or_kept_on_cancel(window, qtbot, tmp_path):
    state, files = window.state, window.file_actions
    spec = state.spec
    spec.hidden = [LayerSpec(7)]
    state.edit_spec(spec, "Add layer")
    assert files.dirty
    window.answers.append("cancel")
    load(window, "neuron")
    assert state.spec.hidden == [LayerSpec(7)] and files.dirty  # nothing changed

    load(window, "neuron")  # keep aside
    kept = list(window.lesson_actions.folder.glob("Untitled *.mlps"))
    assert len(kept) == 1
    assert load_session(kept[0]).spec.hidden == [LayerSpec(7)]
    assert str(kept[0].resolve()) in files.recent_files()  # File > Open Recent opens it
    assert state.spec.hidden == [] and not files.dirty and files.path == ""
    assert "kept aside" in window.panels["lessons"].note.text()
    window.undo_action.trigger()  # one undo step gives the previous settings back
    assert state.spec.hidden == [LayerSpec(7)]

    path = tmp_path / "mine.mlps"
    assert files.save_to(path, wait=True)
    spec.hidden = [LayerSpec(9)]
    state.edit_spec(spec, "Wider")
    window.answers.append("save")  # an opened session saves to its own file
    load(window, "loss")
    assert load_session(path).spec.hidden == [LayerSpec(9)]
    assert len(list(window.lesson_actions.folder.glob("*.mlps"))) == 1


def test_progress_is_kept_and_shown(qtbot, tmp_path):
    from mlp_studio.app.model.experiment import Experiment
    from PySide6.QtCore import QSettings

    settings = QSettings(str(tmp_path / "progress.ini"), QSettings.Format.IniFormat)
    panel = LessonsPanel(Experiment(), settings=settings)
    qtbot.addWidget(panel)
    panel.select("loss")
    check = panel.current.check
    assert "0.25 under MSE" in check and "0.25 under MSE" not in panel.text.toPlainText()
    panel.answer_button.click()  # the answer only on request
    assert "0.25 under MSE" in panel.text.toPlainText()
    panel.select("neuron")
    assert not panel.answer_button.isChecked() and "Answer" not in panel.text.toPlainText()
    panel.select("loss")
    panel.on_loaded(panel.current, "Loaded")
    panel.done_box.setChecked(True)
    again = LessonsPanel(Experiment(), settings=settings)
    qtbot.addWidget(again)
    assert again.list.item(3).text().lstrip().startswith("✓")
    assert "1 of 12 done" in again.summary.text()
    assert again.list.item(0).text().strip().startswith("1.")  # not opened: no mark


def test_a_bad_lesson_file_is_named_and_the_panel_still_works(qtbot, tmp_path):
    from mlp_studio.app.model.experiment import Experiment

    (tmp_path / "01-neuron.json").write_bytes((bundled_folder() / "01-neuron.json").read_bytes())
    doc = json.loads((bundled_folder() / "02-layers.json").read_text())
    doc["experiment"]["training"]["lr"] = "fast"
    (tmp_path / "02-layers.json").write_text(json.dumps(doc))
    panel = LessonsPanel(Experiment(), folder=tmp_path)
    qtbot.addWidget(panel)
    text = panel.problems_label.text()
    assert "02-layers.json" in text and "experiment.training" in text
    assert panel.list.count() == 1 and panel.current.id == "neuron"


# ---------------------------------------------------------------- MNIST lessons


@pytest.fixture
def mnist_window(window, qtbot):
    folder = MNIST
    if folder is None:
        pytest.skip("the MNIST lessons need the full MNIST: set MLP_STUDIO_DATA to its folder")
    window.panels["dataset"].load_folder(folder)
    qtbot.waitUntil(lambda: window.state.data_location != "", timeout=60_000)
    return window


def load_mnist_lesson(window, qtbot, lesson_id, variant=-1, subset=None):
    load(window, lesson_id, variant)
    state, dataset = window.state, window.panels["dataset"]
    if subset is not None:  # a smaller training split, for time
        config = state.data_config
        config.split.subset = subset
        state.set_data_config(config)
    wanted = state.data_config
    qtbot.waitUntil(lambda: not dataset.is_busy() and state.data is not None
                    and state.data.raw_train is not None
                    and dataset._current.config == wanted, timeout=60_000)
    assert state.source == "mnist"


def test_mnist_lessons_and_lesson_10s_rare_class(mnist_window, qtbot):
    """Lesson 10: the accuracy looks fine while the rare digit's recall is near 0, until a
    remedy; then the other MNIST lessons load and run in the same window."""
    window = mnist_window
    load_mnist_lesson(window, qtbot, "imbalanced-data")
    assert shown(window, "training")
    training = window.panels["training"]
    assert training.tabs.currentWidget() is training.confusion
    plain = train(window, qtbot).test
    assert plain.accuracy > 0.75 and plain.recall[9] < 0.2
    table = training.confusion.table  # the view the lesson names shows the 9s' recall
    qtbot.waitUntil(lambda: table.item(9, 1) is not None
                    and table.item(9, 1).text() == f"{plain.recall[9]:.3f}", timeout=10_000)
    load_mnist_lesson(window, qtbot, "imbalanced-data", variant=0)
    weighted = train(window, qtbot).test
    assert weighted.recall[9] > 0.5 and weighted.accuracy > plain.accuracy


    mnist_lessons_load_and_run(window, qtbot)  # the same window: one MNIST load


def mnist_lessons_load_and_run(window, qtbot):
    for lesson_id in ("forward-propagation", "normalization", "splits-metrics"):
        load_mnist_lesson(window, qtbot, lesson_id, subset=5000)
        assert shown(window, LESSONS[lesson_id].views[0].partition("/")[0])
        finished = train(window, qtbot, epochs=1)
        if lesson_id == "normalization":  # raw pixels with SGD: diverges or learns little
            assert finished.diverged is not None or finished.test.accuracy < 0.5
        else:
            assert finished.test.accuracy > 0.7  # 40 steps of 128 images
    load_mnist_lesson(window, qtbot, "normalization", variant=0, subset=5000)
    assert train(window, qtbot, epochs=1).test.accuracy > 0.7
    load_mnist_lesson(window, qtbot, "losses-by-task", variant=1, subset=5000)  # is it a 7?
    assert window.state.spec.output_size == 2
    binary = train(window, qtbot, epochs=1).test
    assert binary.confusion.shape == (2, 2) and binary.accuracy > 0.9
