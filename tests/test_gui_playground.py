"""The playground panel: live boundary, drawing, CSV import, features, weight editing, pinning."""

import numpy as np
import pytest
import torch
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.model.training_controller import TrainingController
from mlp_studio.app.panels.playground.playground_colors import diverging
from mlp_studio.app.panels.playground.playground_panel import PlaygroundPanel
from mlp_studio.app.widgets.suggestion_bar import SuggestionBar
from mlp_studio.core.data import prepare_arrays
from mlp_studio.core.playground_grids import neuron_grids
from mlp_studio.core.suggestions import SUGGESTIONS
from mlp_studio.core.training import Snapshot, Trainer
from PySide6.QtCore import QPoint, Qt


@pytest.fixture
def panel(qtbot):
    state = Experiment()
    state.set_source("playground")  # what trains: these tests are about the playground's data
    state.apply_suggestion(SUGGESTIONS["playground"], "playground settings")
    widget = PlaygroundPanel(state)
    widget.resize(1300, 700)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def train_directly(panel, epochs=15, snapshot_interval=0.0):
    """Train state.model on state.data with the core Trainer, as the controller would."""
    state = panel.state
    model = state.ensure_model()
    state.set_training(True)
    events = []
    trainer = Trainer(
        model, state.data, state.train_config, events.append, snapshot_interval=snapshot_interval
    )
    finished = trainer.run()
    return finished, events


def finish(panel, events):
    for event in events:
        if type(event).__name__ == "EpochEnd":
            panel.on_epoch_end(event)
    panel.state.set_training(False)
    panel.state.set_model(panel.state.model)
    panel.refresh()


def train_xor(panel, epochs=3):
    """XOR trained for `epochs`, shown in the panel as after a run."""
    panel.select_dataset("xor")
    config = panel.state.train_config
    config.epochs = epochs
    panel.state.set_train_config(config)
    _, events = train_directly(panel)
    finish(panel, events)


def dominant(rgb) -> str:
    r, _, b = (int(v) for v in rgb)
    return "blue" if b > r + 30 else "orange" if r > b + 30 else "neutral"


def test_xor_is_learned_and_the_boundary_follows_the_snapshots(panel):
    state = panel.state
    panel.select_dataset("xor")
    assert panel.active and state.data is panel.playground.data
    spec = state.spec  # fitted to the points
    assert (spec.input_size, spec.output_size) == (2, 2)
    assert [(h.units, h.activation.name) for h in spec.hidden] == [(8, "tanh"), (8, "tanh")]
    config = state.train_config
    assert (config.lr, config.batch_size, config.optimizer) == (0.03, 10, "adam")
    config.epochs = 15
    state.set_train_config(config)
    panel.refresh()
    before = panel.live.boundary.image().copy()
    assert before.shape == (100, 100, 3)

    finished, events = train_directly(panel, snapshot_interval=1e-9)
    assert finished.test.accuracy > 0.95
    snapshots = [e for e in events if isinstance(e, Snapshot)]
    # while training, the panel draws from snapshots into its private copy
    panel.on_snapshot(snapshots[len(snapshots) // 2])
    panel.refresh()
    middle = panel.live.boundary.image().copy()
    assert np.abs(middle.astype(int) - before).mean() > 5
    finish(panel, events)
    after = panel.live.boundary.image()
    assert np.abs(after.astype(int) - before).mean() > 10
    # XOR: class 1 (blue) where x1 and x2 share a sign, class 0 (orange) elsewhere
    assert dominant(after[80, 80]) == dominant(after[20, 20]) == "blue"
    assert dominant(after[80, 20]) == dominant(after[20, 80]) == "orange"
    assert len(panel.live.curves) == 15 and panel.live.losses.text().startswith("Test loss")
    # every hidden neuron has its tile, links carry the model's weights
    columns = panel.network.columns
    assert [c.tiles.shape[0] for c in columns] == [2, 8, 8, 2]
    np.testing.assert_array_equal(
        panel.network.weights[1], state.model.linears[1].weight.detach().numpy()
    )


def test_the_controller_drives_the_live_view(panel, qtbot):
    state = panel.state
    panel.select_dataset("circle")
    config = state.train_config
    config.epochs = 100_000  # stopped once the view has drawn enough, however busy the machine
    state.set_train_config(config)
    controller = TrainingController(state, snapshot_interval=0.02)
    controller.snapshot.connect(panel.on_snapshot)
    controller.epochEnded.connect(panel.on_epoch_end)
    controller.progress.connect(panel.on_progress)
    epochs = []
    controller.epochEnded.connect(epochs.append)
    frames = panel.frames_drawn
    images = []
    controller.snapshot.connect(lambda _s: images.append(panel.live.boundary.image()))

    def distinct() -> int:
        return len({img.tobytes() for img in images if img is not None})

    assert controller.start()
    assert not panel.dataset_combo.isEnabled()  # no data edits during a run
    # The boundary moves while training, drawn frame after frame.
    qtbot.waitUntil(lambda: panel.frames_drawn - frames >= 5 and distinct() >= 3,
                    timeout=120_000)
    with qtbot.waitSignal(controller.finished, timeout=60_000):
        controller.stop()
    controller.shutdown()
    assert len(panel._curves) == len(epochs) >= 1 and panel.dataset_combo.isEnabled()
    assert panel.live.caption.text().startswith("Epoch")


def test_clicking_in_draw_mode_adds_and_removes_points(panel, qtbot):
    panel.start_drawing()
    assert panel.draw_bar.isVisible() and panel.state.data is None
    view = panel.live.boundary
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.pixel_of(2.0, 3.0))
    assert len(panel.drawn) == 1
    x1, x2, label = panel.drawn[0]
    assert (x1, x2, label) == (pytest.approx(2.0, abs=0.1), pytest.approx(3.0, abs=0.1), 0)
    assert "at least one training and one test point" in panel.message.text()
    panel.class_buttons[1].click()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.pixel_of(-4.0, -1.0))
    assert [p[2] for p in panel.drawn] == [0, 1]
    assert panel.state.data is panel.playground.data  # one training and one test point
    assert len(panel.state.data.x_train) == 1 and len(panel.state.data.x_test) == 1
    assert view.point_counts() == (1, 1)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.RightButton, pos=view.pixel_of(2.3, 3.1))
    assert [p[2] for p in panel.drawn] == [1]
    panel.clear_button.click()
    assert panel.drawn == [] and view.point_counts() == (0, 0)


def test_a_malformed_csv_file_is_explained_in_the_panel(panel, tmp_path):
    panel.select_dataset("circle")
    data = panel.state.data
    bad = tmp_path / "points.csv"
    bad.write_text("x1,x2,label\n0,0,1\n1,2\n")
    assert not panel.import_csv(str(bad))
    assert panel.message.isVisible()
    assert panel.message.text().startswith(
        "points.csv line 3: expected 3 comma-separated values x1,x2,label, got 2"
    )
    assert panel.state.data is data and panel.mode == "dataset"
    good = tmp_path / "good.csv"
    good.write_text(
        "".join(f"{x},{y},{int(x * y > 0) * 2 - 1}\n" for x in range(-3, 4) for y in (-2.5, 1.5))
    )
    assert panel.import_csv(str(good))
    assert not panel.message.isVisible() or "Playground" in panel.message.text()
    assert panel.state.data.class_names == ["-1", "1"] and len(panel.playground.points) == 14
    assert panel.dataset_combo.currentText() == "File: good.csv"


def test_feature_toggles_change_the_input_size(panel, qtbot):
    panel.select_dataset("circle")
    state = panel.state
    assert state.data.x_train.shape[1] == 2
    box = panel.feature_boxes["x1^2"]
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(6, box.height() // 2))
    assert box.isChecked() and state.data.x_train.shape[1] == 3
    assert state.spec.input_size == 3 and panel.playground.feature_names == ("x1", "x2", "x1^2")
    panel.feature_boxes["x1"].setChecked(False)
    panel.feature_boxes["x2"].setChecked(False)
    assert state.data.x_train.shape[1] == 1
    panel.feature_boxes["x1^2"].setChecked(False)  # the last one stays
    assert panel.feature_boxes["x1^2"].isChecked() and state.data.x_train.shape[1] == 1
    assert "at least one" in panel.feature_hint.text()
    panel.refresh()
    assert [c.tiles.shape[0] for c in panel.network.columns][0] == 1


def test_clicking_a_link_edits_that_weight(panel, qtbot):
    panel.select_dataset("gaussians")
    panel.refresh()
    view = panel.network
    point = view.link_point(1, 3, 5).toPoint()  # layer 1 -> 2, neuron 4 <- neuron 6
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=point)
    assert view.editor is not None and "Weight from neuron 6 of layer 1" in view.describe(
        view.hit(view.link_point(1, 3, 5))
    )
    for layer, w in enumerate(view.weights):  # every link can be picked along its length
        for row, col in np.ndindex(*w.shape):
            for t in (0.2, 0.7):
                hit = view.hit(view.link_point(layer, row, col, t))
                assert (hit.kind, hit.layer, hit.row, hit.col) == ("weight", layer, row, col)
    view.editor.spin.setValue(2.5)
    view.editor.accept()
    model = panel.state.model
    assert float(model.linears[1].weight[3, 5].detach()) == pytest.approx(2.5)
    assert view.weights[1][3, 5] == pytest.approx(2.5)
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=view.tile_center(2, 0).toPoint())
    view.editor.spin.setValue(-1.25)
    view.editor.accept()
    assert float(model.linears[1].bias[0].detach()) == pytest.approx(-1.25)
    panel.state.set_training(True)  # no edits while the worker owns the weights
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=point)
    assert view.editor is None


def test_pin_keeps_a_run_beside_the_live_one(panel):
    train_xor(panel)
    pinned_image = panel.live.boundary.image().copy()
    panel.pin_button.click()
    assert panel.pinned.isVisible() and panel.pin_button.text() == "Unpin"
    np.testing.assert_array_equal(panel.pinned.boundary.image(), pinned_image)
    assert len(panel.pinned.curves) == 3 and "8(tanh)" in panel.pinned.caption.text()
    # a different network: the live view changes, the pinned one does not
    spec = panel.state.spec
    spec.hidden = spec.hidden[:1]
    panel.state.edit_spec(spec, "smaller")
    panel.refresh()
    assert not np.array_equal(panel.live.boundary.image(), pinned_image)
    np.testing.assert_array_equal(panel.pinned.boundary.image(), pinned_image)
    assert panel.pinned.boundary.point_counts() == panel.live.boundary.point_counts()
    panel.pin_button.click()
    assert not panel.pinned.isVisible()


def test_regression_uses_mse_and_shows_the_surface(panel):
    panel.select_dataset("gaussian_sum")
    state = panel.state
    assert state.data.task == "regression" and state.spec.output_size == 1
    assert state.train_config.loss == "mse"
    config = state.train_config
    config.epochs = 10
    state.set_train_config(config)
    panel.refresh()
    before = panel.live.boundary.image().copy()
    finished, events = train_directly(panel)
    finish(panel, events)
    assert panel.live.curves[-1, 2] < panel.live.curves[0, 2]
    assert np.abs(panel.live.boundary.image().astype(int) - before).mean() > 5
    assert [c.title for c in panel.network.columns][-1] == "Output"
    panel.select_dataset("spiral")  # back to classes: back to cross-entropy
    assert state.train_config.loss == "sparse_categorical_cross_entropy"
    assert state.spec.output_size == 3


def test_other_data_makes_the_panel_step_aside(panel):
    panel.select_dataset("circle")
    rng = np.random.default_rng(0)
    x, y = rng.random((20, 784)) * 255, rng.integers(0, 10, 20)
    mnist_like = prepare_arrays(x, y, x, y, x, y, "unit", [str(d) for d in range(10)])
    panel.state.set_source("mnist")  # as the Data panel's Train on does, then it publishes
    panel.state.set_data(mnist_like)
    assert not panel.active and panel.banner.isVisible()
    panel.select_dataset("xor")  # previewed here, not trained: no hidden switch
    assert panel.state.data is mnist_like and panel.state.source == "mnist"
    panel.refresh()
    assert panel.live.boundary.image() is None and panel.network.columns == []
    panel.use_button.click()
    assert panel.active and panel.state.data is panel.playground.data
    assert not panel.banner.isVisible()


def test_spiral_arms_and_noise_regenerate_the_data(panel):
    panel.select_dataset("spiral")
    assert panel.classes_spin.isVisible() and not panel.points_spin.isHidden()
    panel.classes_spin.setValue(5)
    assert panel.state.data.num_classes == 5 and panel.state.spec.output_size == 5
    first = panel.playground.points.xy.copy()
    panel.noise_slider.setValue(30)
    assert panel.noise_value.text() == "30"
    assert not np.array_equal(panel.playground.points.xy, first)
    panel.regenerate_button.click()
    assert panel.seed == 1
    panel.ratio_slider.setValue(80)
    assert len(panel.state.data.x_train) == 400
    panel.refresh()
    assert panel.live.boundary.image().shape == (100, 100, 3)
    assert panel.network.columns[-1].tiles.shape[0] == 5
    assert torch.equal(panel.state.data.x_val, panel.state.data.x_test)


def test_resting_on_a_neuron_shows_it_in_the_big_view(panel, qtbot):
    panel.select_dataset("circle")
    panel.refresh()
    decision = panel.live.boundary.image().copy()
    view = panel.network
    qtbot.mouseMove(view, view.tile_center(1, 2).toPoint())
    qtbot.waitUntil(lambda: view.hovered == (1, 2))
    panel.refresh()
    shown = panel.live.boundary.image()
    assert "showing neuron 3 of layer 1" in panel.live.caption.text()
    assert not np.array_equal(shown, decision)
    # that neuron's output over the plane, at the big view's resolution
    pg = panel.playground
    grids = neuron_grids(
        panel.display_model(), pg.feature_names, pg.data.normalization, pg.points.extent, 100
    )
    expected = diverging(grids[0][2], max(1.0, float(np.abs(grids[0]).max())), pale=True)
    assert np.abs(shown.astype(int) - expected).max() <= 1
    qtbot.mouseMove(view, view.tile_center(0, 1).toPoint())
    qtbot.waitUntil(lambda: view.hovered == (0, 1))
    panel.refresh()
    x2 = panel.live.boundary.image()
    assert dominant(x2[90, 50]) == "blue" and dominant(x2[10, 50]) == "orange"  # x2 rises
    view._set_hovered(None)  # the mouse left the view
    panel.refresh()
    np.testing.assert_array_equal(panel.live.boundary.image(), decision)


def test_suggested_settings_are_offered_not_forced(qtbot):
    state = Experiment()
    state.set_source("playground")
    panel = PlaygroundPanel(state)
    qtbot.addWidget(panel)
    panel.show()
    panel.select_dataset("xor")
    spec = state.spec  # fitted to the points, its hidden layers the user's own
    assert (spec.input_size, spec.output_size) == (2, 2)
    assert [(h.units, h.activation.name) for h in spec.hidden] == [(128, "relu")]
    assert state.train_config.lr == 1e-3
    bar = panel.findChild(SuggestionBar)
    assert bar.isVisible() and "8 tanh" in bar.label.text()
    bar.button.click()
    assert not bar.isVisible()
    assert [(h.units, h.activation.name) for h in state.spec.hidden] == [(8, "tanh")] * 2
    assert state.train_config.lr == 0.03 and state.train_config.batch_size == 10
    state.undo_stack.undo()  # one undo entry brings the user's settings back
    assert [(h.units, h.activation.name) for h in state.spec.hidden] == [(128, "relu")]
    assert state.train_config.lr == 1e-3 and bar.isVisible()
    bar.close_button.click()  # keep mine: no more offers until the data source changes
    assert not bar.isVisible()
    state.set_source("mnist")
    state.set_source("playground")
    assert bar.isVisible()


def test_new_points_start_from_fresh_weights(panel):
    train_xor(panel)
    panel.state.set_lineage(panel.state.lineage)  # (train_directly bypasses the controller)
    assert panel.live.curves.shape[0] == 3
    panel.select_dataset("circle")  # other points: the old weights learned XOR
    assert panel.state.model is None and panel.state.epochs_done == 0
    panel.refresh()
    assert panel.live.curves.shape[0] == 0
    assert "Epoch" not in panel.live.caption.text()


def test_a_hand_edit_shows_the_loss_of_the_weights_as_they_are(panel):
    train_xor(panel)
    before = panel.live.losses.text()
    assert "now" not in before
    panel._on_weight_edited(1, 0, 0, 5.0)
    after = panel.live.losses.text()
    assert "now" in after and "edited by hand" in after and after != before


def test_while_other_data_trains_the_playground_shows_no_curves(panel):
    train_xor(panel)
    assert panel.live.curves.shape[0] == 3
    panel.state.set_source("mnist")  # the Data panel's Train on
    panel.refresh()
    assert panel.live.curves.shape[0] == 0 and "epochs trained" not in panel.live.caption.text()
