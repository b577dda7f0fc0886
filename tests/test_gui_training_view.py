"""The training view: live plots fed with engine events, confusion matrix, settings form."""

import csv

import numpy as np
import pytest
import torch
from idx_fixtures import mnist_like
from mlp_studio.app.dialogs.mistakes_dialog import MistakesDialog
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.panels.training.activations_view import ActivationsView
from mlp_studio.app.panels.training.confusion_view import ConfusionView
from mlp_studio.app.panels.training.hyperparameters import HyperparametersForm, ladder_step
from mlp_studio.app.panels.training.live_plots import CurvesPanel
from mlp_studio.app.panels.training.plot_export import export_plot, file_stem
from mlp_studio.app.panels.training.series_buffer import SeriesBuffer
from mlp_studio.app.panels.training.training_panel import TrainingPanel
from mlp_studio.app.panels.training.weights_grid import mosaic
from mlp_studio.core.activations import ActivationSpec
from mlp_studio.core.data import DataConfig, SplitConfig, prepare_arrays, prepare_mnist
from mlp_studio.core.metrics import metrics_from_probabilities
from mlp_studio.core.mnist import MnistArrays
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.training import (
    BatchProgress,
    Diverged,
    EpochEnd,
    Finished,
    LayerStats,
    Snapshot,
    TrainConfig,
    Trainer,
)
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication


def tiny_mnist(n_train=600, n_test=200):
    train_x, train_y = mnist_like(n_train, seed=1)
    test_x, test_y = mnist_like(n_test, seed=2)
    arrays = MnistArrays(train_x, train_y, test_x, test_y, "synthetic")
    return prepare_mnist(arrays, DataConfig(split=SplitConfig(val_count=100)))


def random_metrics(n=300, classes=10, seed=0, loss=0.5):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    probs = rng.dirichlet(np.ones(classes) * 0.3, n)
    probs[np.arange(n), labels] += rng.uniform(0, 1.2, n)  # mostly right, some confident mistakes
    probs /= probs.sum(1, keepdims=True)
    return metrics_from_probabilities(probs, labels, loss, classes)


def points(curve) -> int:
    x = curve.getOriginalDataset()[0]
    return 0 if x is None else len(x)


def progress(epoch, batch, bpe, step, losses):
    return BatchProgress(epoch, batch, bpe, step, np.asarray(losses, np.float32), 1000.0, 1e-3)


def epoch_end(epoch, metrics, train_loss=1.0, train_acc=0.5, epochs=3, best=True):
    return EpochEnd(epoch, epochs, train_loss, train_acc, metrics, 0.1, 1e-3, best)


@pytest.fixture
def state(qtbot):
    return Experiment()


@pytest.fixture
def view(qtbot, state):
    v = TrainingPanel(state)
    qtbot.addWidget(v)
    v.resize(900, 700)
    v.show()
    return v


# ---- live curves ----


def test_curves_show_exactly_the_fed_losses_in_epochs(view):
    view.on_progress(progress(1, 2, 4, 2, [2.0, 1.8]))
    view.on_progress(progress(1, 4, 4, 4, [1.6, 1.5]))
    val = random_metrics(loss=1.4)
    view.on_epoch_end(epoch_end(1, val, train_loss=1.7, train_acc=0.4))
    view.on_progress(progress(2, 3, 4, 7, [1.2, 1.1, 1.0]))
    view.flush()
    x, y = view.curves.raw_curve.getData()
    np.testing.assert_allclose(x, [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75])
    np.testing.assert_allclose(y, [2.0, 1.8, 1.6, 1.5, 1.2, 1.1, 1.0], rtol=1e-6)
    ex, ey = view.curves.ema_curve.getData()
    np.testing.assert_allclose(ex, x)
    assert ey[0] == pytest.approx(2.0)  # bias-corrected: starts at the first loss, not near 0
    assert np.all(np.diff(ey) < 0)  # smoothing a falling loss keeps it falling
    vx, vy = view.curves.val_loss_curve.getData()
    np.testing.assert_allclose(vx, [1.0])
    np.testing.assert_allclose(vy, [1.4])
    ax, ay = view.curves.val_acc_curve.getData()
    np.testing.assert_allclose(ay, [100 * val.accuracy])
    np.testing.assert_allclose(view.curves.train_acc_curve.getData()[1], [40.0])


def test_slots_only_append_and_the_timer_redraws_the_visible_tab(view, qtbot):
    view.tabs.setCurrentWidget(view.curves)
    view.on_progress(progress(1, 3, 10, 3, [1.0, 0.9, 0.8]))
    assert points(view.curves.raw_curve) == 0  # nothing drawn inside the slot
    qtbot.waitUntil(lambda: points(view.curves.raw_curve) == 3)
    view.on_layer_stats(LayerStats(4, np.array([0.1, 0.2]), np.zeros(2), np.ones(2),
                                   np.array([0.25]), np.array([0.0])))  # fmt: skip
    view.on_progress(progress(1, 5, 10, 5, [0.7, 0.6]))
    qtbot.waitUntil(lambda: points(view.curves.raw_curve) == 5)
    assert view.gradients.dirty  # a hidden tab waits until it is shown
    view.tabs.setCurrentWidget(view.gradients)
    assert not view.gradients.dirty
    assert points(view.gradients.grad_curves[0]) == 1
    # Stats of step 4 belong to batch 4 of epoch 1 (reported with the progress of batch 5).
    np.testing.assert_allclose(view.gradients.grads.column(0), [0.4])
    np.testing.assert_allclose(view.gradients.grads.column(1), [0.1])
    np.testing.assert_allclose(view.gradients.units.column(1), [25.0])


def test_history_decimation_keeps_the_count_bounded_and_the_whole_run():
    panel = CurvesPanel(max_points=1000)
    bpe = 500
    step = 0
    for epoch in range(1, 21):
        for batch in range(50, bpe + 1, 50):
            step += 50
            panel.add_progress(progress(epoch, batch, bpe, step, np.linspace(2, 1, 50)))
    panel.redraw()
    x, y = panel.raw_curve.xData, panel.raw_curve.yData
    assert 500 <= len(x) <= 1000  # 10,000 losses offered
    assert x[0] == pytest.approx(1 / bpe)  # the start of the run is kept...
    assert x[-1] > 19.9  # ...and so is the end
    assert np.all(np.diff(x) > 0)
    assert panel.batches.stride == 16
    assert len(y) == len(x) and 1.0 <= y.min() and y.max() <= 2.0


def test_series_buffer_grows_and_decimates_consistently():
    buf = SeriesBuffer(2, max_points=8, capacity=2)
    for i in range(20):
        buf.append(np.array([[i], [10 * i]]))
    assert len(buf) <= 8
    np.testing.assert_array_equal(buf.column(1), 10 * buf.column(0))
    assert np.all(buf.column(0) % buf.stride == 0)  # every stride-th row, from the first


def test_divergence_is_marked_on_the_loss_plot(view):
    view.on_progress(progress(2, 3, 10, 13, [1.0, 1.0, 1.0]))
    view.on_diverged(Diverged("Training diverged ...", 2, 4))
    view.on_finished(Finished(None, None, None, False, Diverged("Training diverged ...", 2, 4)))
    assert [line.value() for line in view.curves.markers] == [pytest.approx(1.4)]
    assert "Diverged" in view.status.text()
    # The label sits low on the line: the legend takes the top right, where a run that
    # diverged ends (the label was hidden behind it at 0.9 of the height).
    assert view.curves.markers[0].label.orthoPos < 0.5


def test_divergence_found_at_an_epoch_end_is_marked_there(view):
    # A NaN validation loss or weights is found after the epoch's last batch (batch 0).
    view.on_progress(progress(2, 10, 10, 20, [1.0] * 10))
    view.on_diverged(Diverged("Training diverged ...", 2, 0, "validation"))
    assert [line.value() for line in view.curves.markers] == [pytest.approx(2.0)]
    assert "at epoch 2, its end" in view.status.text()
    view.on_finished(Finished(None, None, None, False,
                              Diverged("... the gradients became NaN ...", 1, 1, "gradients")))
    assert "activation formula" in view.status.text()


# ---- confusion matrix and mistakes ----


def test_confusion_view_shows_the_engines_matrix_and_scores(view, qtbot):
    metrics = random_metrics()
    view.on_epoch_end(epoch_end(1, metrics))
    view.flush()
    widget = view.confusion.matrix
    n = len(metrics.confusion)
    assert [[widget.cell_text(r, c) for c in range(n)] for r in range(n)] == [
        [str(v) for v in row] for row in metrics.confusion
    ]
    table = view.confusion.table
    assert table.rowCount() == n + 2
    for i in range(n):
        got = [float(table.item(i, c).text()) for c in range(3)]
        want = [metrics.precision[i], metrics.recall[i], metrics.f1[i]]
        np.testing.assert_allclose(got, want, atol=5e-4)
        assert int(table.item(i, 3).text()) == metrics.support[i]
    assert float(table.item(n, 2).text()) == pytest.approx(metrics.macro["f1"], abs=5e-4)
    assert float(table.item(n + 1, 0).text()) == pytest.approx(
        metrics.weighted["precision"], abs=5e-4
    )
    assert f"{metrics.accuracy:.2%}" in view.confusion.summary.text()


def test_test_metrics_replace_validation_after_finishing(view):
    val, test = random_metrics(seed=1), random_metrics(seed=2, n=500)
    view.on_epoch_end(epoch_end(1, val))
    view.on_finished(Finished(None, test, 1, False, None))
    assert view.confusion.source.currentData() == "test"
    np.testing.assert_array_equal(view.confusion.matrix.matrix, test.confusion)
    view.confusion.show_split("validation")
    np.testing.assert_array_equal(view.confusion.matrix.matrix, val.confusion)


def test_the_best_epoch_readout_counts_the_last_epoch_when_the_run_ends_at_once(view):
    """The last epoch's figures and the end of the run arrive in one delivery: the header's
    'best' must not stay at the epoch before (it said epoch 4 while the status bar said the
    run kept epoch 5, the highest validation accuracy)."""
    view.on_progress(progress(1, 10, 10, 10, [0.5]))
    view.on_epoch_end(epoch_end(1, random_metrics(seed=1), epochs=2))
    view.flush()
    assert "(epoch 1)" in view.best.text()
    view.on_progress(progress(2, 10, 10, 20, [0.4]))
    view.on_epoch_end(epoch_end(2, random_metrics(seed=3), epochs=2))
    view.on_finished(Finished(None, random_metrics(seed=2), 2, False, None))
    assert "(epoch 2)" in view.best.text()
    # Beside "Test accuracy", a bare "best 99.17%" read as a better test figure.
    assert view.best.text().startswith("best val. ")


def test_a_divergence_before_the_first_report_is_marked_where_it_happened(view, state):
    """Diverged at batch 3 of epoch 1 with no progress report yet: the marker was drawn at
    epoch 3 (3 batches of 1 per epoch), and the plot showed only that empty spot."""
    state.set_data(tiny_mnist())  # 500 training samples
    config = state.train_config
    config.batch_size = 100
    state.set_train_config(config)
    view.on_diverged(Diverged("Training diverged ...", 1, 3))
    assert [round(m.value(), 6) for m in view.curves.markers] == [0.6]


def _dialogs():
    return [w for w in QApplication.topLevelWidgets()
            if isinstance(w, MistakesDialog) and w.isVisible()]  # fmt: skip


def test_clicking_a_cell_opens_its_mistakes_most_confident_first(view, state, qtbot):
    data = tiny_mnist()
    state.set_data(data)
    n_val = len(data.y_val)
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(10), n_val)
    metrics = metrics_from_probabilities(probs, data.y_val.numpy(), 2.0, 10)
    view.tabs.setCurrentWidget(view.confusion)
    view.on_epoch_end(epoch_end(1, metrics))
    view.flush()
    off = metrics.confusion.copy()
    np.fill_diagonal(off, 0)
    t, p = np.unravel_index(off.argmax(), off.shape)
    assert off[t, p] >= 2
    widget = view.confusion.matrix
    for dialog in _dialogs():
        dialog.close()
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=widget.cell_rect(t, p).center())
    dialogs = _dialogs()
    assert len(dialogs) == 1
    dialog = dialogs[0]
    expected = metrics.mistakes(t, p)
    np.testing.assert_array_equal(dialog.indices, expected)
    assert dialog.shown_indices() == expected.tolist()
    assert np.all(np.diff(metrics.confidence[expected]) <= 0)
    assert np.all(metrics.labels[expected] == t) and np.all(metrics.predictions[expected] == p)
    dialog.close()
    # The diagonal holds no mistakes: clicking it opens nothing.
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=widget.cell_rect(t, t).center())
    assert _dialogs() == []


def test_mistakes_of_2d_data_show_features(qtbot):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    data = prepare_arrays(x[:60], y[:60], x[60:], y[60:], x[60:], y[60:], "none", ["a", "b"])
    probs = np.stack([np.full(30, 0.8), np.full(30, 0.2)], 1)  # always "a": b's are mistakes
    metrics = metrics_from_probabilities(probs, y[60:], 0.7, 2)
    view = ConfusionView()
    qtbot.addWidget(view)
    view.set_metrics("validation", metrics, data)
    view.redraw()
    dialog = view.open_mistakes(1, 0)
    qtbot.addWidget(dialog)
    expected = metrics.mistakes(1, 0)
    assert dialog.shown_indices() == expected.tolist()
    first = expected[0]
    assert dialog.view.item(0, 1).text() == f"{data.x_val[first, 0].item():.4g}"
    dialog.close()


# ---- a real (tiny) training run ----


def test_a_real_training_run_fills_every_view(view, state, qtbot):
    data = tiny_mnist()
    state.set_data(data)
    spec = NetworkSpec(784, [LayerSpec(32, ActivationSpec("relu")),
                             LayerSpec(16, ActivationSpec("sigmoid"))], 10)  # fmt: skip
    state.replace_spec(spec)
    config = TrainConfig(epochs=3, batch_size=50, lr=3e-3, stats_every=3)
    state.set_train_config(config)
    model = build_model(spec)
    state.set_model(model)
    state.set_training(True)
    view.reset()
    handlers = {BatchProgress: view.on_progress, LayerStats: view.on_layer_stats,
                Snapshot: view.on_snapshot, EpochEnd: view.on_epoch_end,
                Diverged: view.on_diverged, Finished: view.on_finished}  # fmt: skip
    events = []

    def on_event(event):
        events.append(event)
        handlers[type(event)](event)

    trainer = Trainer(model, data, config, on_event, report_interval=0.0, snapshot_interval=1e-9)
    probes = []
    state.probeChanged.connect(probes.append)
    view.activations.set_index(7)
    assert probes[-1] == 7 and state.probe().shape == (1, 784)
    trainer.set_probe(torch.from_numpy(state.probe()))
    finished = trainer.run()
    state.set_training(False)
    view.flush()

    batches = int(np.ceil(len(data.y_train) / 50))
    x, y = view.curves.raw_curve.getData()
    assert len(x) == 3 * batches == len(finished.history.batch_losses)
    np.testing.assert_allclose(y, finished.history.batch_losses, rtol=1e-6)
    assert x[-1] == pytest.approx(3.0)
    vx, vy = view.curves.val_loss_curve.getData()
    np.testing.assert_allclose(vx, [1, 2, 3])
    np.testing.assert_allclose(vy, [r.val_loss for r in finished.history.epochs], rtol=1e-6)
    stats = [e for e in events if isinstance(e, LayerStats)]
    assert len(view.gradients.grads) == len(stats)
    assert len(view.gradients.grad_curves) == 3  # two hidden layers and the output
    assert view.gradients.unit_kinds == ["dead", "saturated"]
    assert view.weights.image.image.shape == (6 * 29 - 1, 6 * 29 - 1)  # 32 tiles in 6x6
    np.testing.assert_array_equal(view.confusion.matrix.matrix, finished.test.confusion)
    assert view.activations._acts is not None
    assert [len(a) for a in view.activations._acts] == [32, 16, 10]
    assert "Finished" in view.status.text()


# ---- export ----


@pytest.mark.parametrize("suffix", ["png", "svg", "csv"])
def test_plot_export_writes_a_nonempty_file(view, tmp_path, suffix):
    view.on_progress(progress(1, 4, 4, 4, [1.0, 0.8, 0.7, 0.6]))
    view.on_epoch_end(epoch_end(1, random_metrics(loss=0.9)))
    view.flush()
    path = export_plot(view.curves.loss_plot, tmp_path / f"loss.{suffix}")
    assert path.stat().st_size > 100
    if suffix == "csv":
        rows = list(csv.reader(path.open()))
        assert len(rows) == 1 + 4  # header and one row per batch
        assert float(rows[1][1]) == pytest.approx(1.0)
    if suffix == "svg":
        assert "<svg" in path.read_text()


def test_every_tab_offers_working_exports(view, state, tmp_path):
    state.set_model(build_model(state.spec))
    view.on_progress(progress(1, 2, 2, 2, [1.0, 0.5]))
    view.on_layer_stats(LayerStats(1, np.array([0.1, 0.2]), np.zeros(2), np.ones(2),
                                   np.array([0.0]), np.array([0.0])))  # fmt: skip
    view.on_epoch_end(epoch_end(1, random_metrics()))
    view.on_finished(Finished(None, random_metrics(seed=4), 1, False, None))
    written = 0
    for i in range(view.tabs.count()):
        if not view.tabs.isTabVisible(i):  # a classifier has no Predictions tab
            continue
        view.tabs.setCurrentIndex(i)
        view.flush()
        for target in view.export_button.targets():
            for fmt in target.formats:
                path = tmp_path / f"{i}_{file_stem(target.name)}.{fmt}"
                target.write(path)
                assert path.stat().st_size > 50, path
                written += 1
    assert written >= 12


# ---- weights and activations ----


def test_mosaic_places_each_unit_in_its_tile():
    w = np.arange(5 * 784, dtype=np.float32).reshape(5, 784)
    image = mosaic(w)
    assert image.shape == (2 * 29 - 1, 3 * 29 - 1)
    np.testing.assert_array_equal(image[:28, 29:57], w[1].reshape(28, 28))
    np.testing.assert_array_equal(image[29:, 29:57], w[4].reshape(28, 28))
    assert np.isnan(image[28, :]).all() and np.isnan(image[29:, 58:]).all()


def test_weights_levels_are_symmetric_and_only_grow_within_a_run(view, state):
    w = np.random.default_rng(0).normal(0, 0.1, (20, 784)).astype(np.float32)
    view.on_snapshot(Snapshot(1, [w], [np.zeros(20)], None))
    view.flush()
    low, high = view.weights.image.levels
    assert low == -high and high > 0
    view.on_snapshot(Snapshot(2, [w / 10], [np.zeros(20)], None))
    view.flush()
    assert tuple(view.weights.image.levels) == (low, high)
    view.reset()
    view.on_snapshot(Snapshot(1, [w / 10], [np.zeros(20)], None))
    view.flush()
    assert view.weights.image.levels[1] < high


def test_activations_outside_training_come_from_the_model(qtbot, state):
    data = tiny_mnist()
    state.set_data(data)
    model = build_model(state.spec)
    state.set_model(model)
    view = ActivationsView(state)
    qtbot.addWidget(view)
    with qtbot.waitSignal(state.probeChanged) as blocker:
        view.set_index(5)
    assert blocker.args[0] == 5
    np.testing.assert_array_equal(state.probe(), data.x_val[5:6].numpy())
    with torch.no_grad():
        out, acts = model.forward_with_activations(data.x_val[5:6])
    np.testing.assert_allclose(view._acts[0], acts[0][0].numpy(), rtol=1e-5)
    np.testing.assert_allclose(view._acts[-1], out[0].numpy(), rtol=1e-5)
    heights = view.output_bars.opts["height"]
    assert heights.sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_array_equal(view.input_image.image, data.raw_val[5])
    with qtbot.waitSignal(state.probeChanged):
        view.random_button.click()
    assert view.index.value() != 5


def test_random_always_shows_another_sample(qtbot, state):
    """Random drew the sample already shown 1 time in 100 (tiny_mnist's 100): nothing moved."""
    state.set_data(tiny_mnist())
    state.set_model(build_model(state.spec))
    view = ActivationsView(state)
    qtbot.addWidget(view)
    view.set_index(5)

    class Repeats:  # a generator that draws what is shown, then the last index it may
        def __init__(self):
            self.draws = iter([5, 98, 0])

        def integers(self, high):
            return min(next(self.draws), high - 1)

    view._rng = Repeats()
    shown = []
    for _ in range(3):
        view.random_button.click()
        shown.append(view.index.value())
    assert shown == [6, 99, 0]  # never the sample before it, every index reachable


# ---- hyperparameters ----


@pytest.fixture
def form(qtbot, state):
    f = HyperparametersForm(state)
    qtbot.addWidget(f)
    f.show()
    return f


def test_form_writes_the_train_config(form, state):
    form.optimizer.setCurrentIndex(form.optimizer.findData("nesterov"))
    form.momentum.setValue(0.8)
    form.lr.setValue(0.05)
    form.schedule.setCurrentIndex(form.schedule.findData("step"))
    form.step_epochs.setValue(3)
    form.gamma.setValue(0.25)
    form.batch_size.setValue(256)
    form.epochs.setValue(7)
    form.weight_decay.setValue(1e-4)
    form.l1.setValue(2e-5)
    form.seed.setValue(42)
    form.loss.setCurrentIndex(form.loss.findData("mse"))
    form.restore_best.setChecked(False)
    c = state.train_config
    assert (c.optimizer, c.momentum, c.lr, c.schedule, c.step_epochs, c.gamma) == (
        "nesterov",
        pytest.approx(0.8),
        pytest.approx(0.05),
        "step",
        3,
        pytest.approx(0.25),
    )
    assert (c.batch_size, c.epochs, c.weight_decay, c.l1, c.seed, c.loss, c.restore_best) == (
        256,
        7,
        pytest.approx(1e-4),
        pytest.approx(2e-5),
        42,
        "mse",
        False,
    )
    assert c.problems() == []


def test_form_chooses_what_picks_the_best_epoch(form, state):
    assert form.best_by.currentData() == "accuracy" and form.best_by.isEnabled()
    form.best_by.setCurrentIndex(form.best_by.findData("loss"))
    assert state.train_config.best_by == "loss"
    form.restore_best.setChecked(False)  # the last epoch: no criterion to choose
    assert not form.best_by.isEnabled()
    config = state.train_config
    config.restore_best, config.best_by = True, "accuracy"
    state.set_train_config(config)  # e.g. a session opened
    assert form.best_by.currentData() == "accuracy" and form.best_by.isEnabled()


def test_form_follows_the_state_without_echo(form, state):
    writes = []
    state.trainConfigChanged.connect(writes.append)
    config = state.train_config
    config.loss, config.optimizer, config.lr, config.epochs = "hinge", "sgd", 0.1, 9
    state.set_train_config(config)  # e.g. the designer changed the loss pairing
    assert len(writes) == 1  # updating the widgets wrote nothing back
    assert form.loss.currentData() == "hinge"
    assert form.optimizer.currentData() == "sgd"
    assert form.lr.value() == pytest.approx(0.1)
    assert form.epochs.value() == 9
    assert "raw scores, ±1 targets" in form.pairing.text()
    assert not form.momentum.isEnabled()
    form.optimizer.setCurrentIndex(form.optimizer.findData("momentum"))
    assert form.momentum.isEnabled()


def test_step_fields_only_show_for_the_step_schedule(form):
    form.schedule.setCurrentIndex(form.schedule.findData("cosine"))
    assert not form.gamma.isVisible() and not form.step_epochs.isVisible()
    form.schedule.setCurrentIndex(form.schedule.findData("step"))
    assert form.gamma.isVisible() and form.step_epochs.isVisible()


def test_typed_learning_rate_and_invalid_value_message(form, state, qtbot):
    form.lr.lineEdit().selectAll()
    qtbot.keyClicks(form.lr, "3e-4")
    qtbot.keyClick(form.lr, Qt.Key.Key_Return)
    assert state.train_config.lr == pytest.approx(3e-4)
    assert form.problem_text() == ""
    form.lr.lineEdit().selectAll()
    qtbot.keyClicks(form.lr, "0")
    qtbot.keyClick(form.lr, Qt.Key.Key_Return)
    assert state.train_config.lr == pytest.approx(3e-4)  # not taken, and it says why
    assert form.range_notes["lr"].text() == "Out of range: use 1e-6 to 10."
    assert form.range_notes["lr"].isVisibleTo(form)
    form.lr.stepBy(1)  # the arrows go on from the rate kept
    assert state.train_config.lr == pytest.approx(5e-4)
    assert not form.range_notes["lr"].isVisibleTo(form) and form.problem_text() == ""


def test_learning_rate_arrows_step_one_two_five():
    assert ladder_step(0.001, 1, 1e-6, False) == pytest.approx(0.002)
    assert ladder_step(0.002, 1, 1e-6, False) == pytest.approx(0.005)
    assert ladder_step(0.005, 1, 1e-6, False) == pytest.approx(0.01)
    assert ladder_step(0.001, -1, 1e-6, False) == pytest.approx(0.0005)
    assert ladder_step(0.003, 1, 1e-6, False) == pytest.approx(0.005)
    assert ladder_step(0.003, -1, 1e-6, False) == pytest.approx(0.002)
    assert ladder_step(1e-6, -1, 1e-6, True) == 0.0
    assert ladder_step(1e-6, -1, 1e-6, False) == pytest.approx(1e-6)
    assert ladder_step(0.0, 1, 1e-6, True) == pytest.approx(1e-6)
    assert ladder_step(0.001, 3, 1e-6, False) == pytest.approx(0.01)


def test_batch_size_arrows_double_and_halve(form, state):
    form.batch_size.setValue(100)
    form.batch_size.stepBy(1)
    assert state.train_config.batch_size == 128
    form.batch_size.stepBy(-2)
    assert state.train_config.batch_size == 32


def test_form_is_locked_while_training(form, state):
    state.set_training(True)
    assert not form.lr.isEnabled() and not form.loss.isEnabled()
    assert form.locked.isVisible()
    state.set_training(False)
    assert form.lr.isEnabled() and not form.locked.isVisible()


def test_unavailable_device_is_reported(form, state):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    config = state.train_config
    config.device = "cuda"
    state.set_train_config(config)
    assert form.device.currentData() == "cuda"
    assert "not available" in form.problem_text()
    assert form.device.findData("auto") >= 0 and form.device.findData("cpu") >= 0


def test_probe_points_at_the_activations_sample(view, state):
    data = tiny_mnist()
    state.set_data(data)
    view.activations.set_index(3)
    np.testing.assert_array_equal(view.probe(), data.x_val[3:4].numpy())


def test_cell_rect_and_cell_at_agree(qtbot):
    view = ConfusionView()
    qtbot.addWidget(view)
    view.resize(700, 500)
    view.show()
    view.set_metrics("validation", random_metrics(), None)
    view.redraw()
    widget = view.matrix
    for r, c in [(0, 0), (3, 7), (9, 9)]:
        assert widget.cell_at(widget.cell_rect(r, c).center()) == (r, c)
    assert widget.cell_at(QPoint(1, 1)) is None


def test_right_click_export_writes_the_plot(view, tmp_path, monkeypatch):
    view.on_progress(progress(1, 2, 2, 2, [1.0, 0.5]))
    view.flush()
    target = tmp_path / "from_menu"  # no suffix: the chosen filter decides
    monkeypatch.setattr(
        "mlp_studio.app.panels.training.plot_export.QFileDialog.getSaveFileName",
        lambda *args, **kw: (str(target), "CSV data (*.csv)"),
    )
    view.curves.loss_plot.scene().contextMenu[0].trigger()  # the view's "Export..." entry
    written = tmp_path / "from_menu.csv"
    assert written.exists()
    assert len(list(csv.reader(written.open()))) == 3
