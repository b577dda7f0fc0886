"""The 2-D playground engine: generators, features, user points, CSV files, regression, grids."""

import math

import numpy as np
import pytest
import torch
from mlp_studio.core.activations import ActivationSpec
from mlp_studio.core.data import prepare_arrays
from mlp_studio.core.errors import DataFormatError, DataNotFoundError, SpecError
from mlp_studio.core.losses import loss_function
from mlp_studio.core.metrics import evaluate
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.playground import (
    DATASETS,
    EXTENT,
    FEATURES,
    MAX_CLASSES,
    REGRESSION_DATASETS,
    features,
    generate,
    make_data,
    split_points,
)
from mlp_studio.core.playground_files import fit_extent, load_points_csv, points_from_list
from mlp_studio.core.playground_grids import (
    decision_grid,
    feature_grids,
    grid_axes,
    grid_inputs,
    grid_points,
    network_grids,
    neuron_grids,
)
from mlp_studio.core.training import EpochEnd, TrainConfig, Trainer


def net(inputs=2, outputs=2, hidden=(8, 8), activation="tanh", seed=0):
    layers = [LayerSpec(h, ActivationSpec(activation)) for h in hidden]
    return build_model(NetworkSpec(inputs, layers, outputs, "xavier", seed))


# ---------------------------------------------------------------- generators


@pytest.mark.parametrize("name", DATASETS)
def test_every_generator_gives_points_in_the_plane(name):
    points = generate(name, 301, noise=0.1, seed=3, classes=3)
    assert points.xy.shape == (301, 2) and points.xy.dtype == np.float32
    assert points.labels.shape == (301,)
    assert np.isfinite(points.xy).all()
    assert np.abs(points.xy).max() < 9  # Playground's square, plus noise
    assert points.extent == EXTENT and points.source == name
    if name in REGRESSION_DATASETS:
        assert points.task == "regression" and points.labels.dtype == np.float32
        assert points.class_names == ("y",) and points.num_classes == 1
        assert -1.6 < points.labels.min() < 0 < points.labels.max() < 1.6
    else:
        assert points.task == "classification" and points.labels.dtype == np.int64
        classes = 3 if name == "spiral" else 2
        assert points.num_classes == classes
        counts = np.bincount(points.labels, minlength=classes)
        assert len(counts) == classes and counts.min() > 301 / classes / 2


@pytest.mark.parametrize("name", DATASETS)
def test_generators_are_reproducible_from_their_seed(name):
    a, b = generate(name, 200, 0.2, seed=5), generate(name, 200, 0.2, seed=5)
    np.testing.assert_array_equal(a.xy, b.xy)
    np.testing.assert_array_equal(a.labels, b.labels)
    c = generate(name, 200, 0.2, seed=6)
    assert not np.array_equal(a.xy, c.xy)


def test_generators_do_not_touch_the_global_random_state():
    np.random.seed(1)
    expected = np.random.rand()
    np.random.seed(1)
    generate("spiral", 100, 0.3)
    assert np.random.rand() == expected


def test_balanced_halves_and_spiral_arms():
    for name in ("circle", "gaussians"):
        assert np.bincount(generate(name, 301).labels).tolist() == [150, 151]
    for arms in range(2, 6):
        labels = generate("spiral", 503, classes=arms).labels
        counts = np.bincount(labels)
        assert len(counts) == arms and counts.max() - counts.min() <= 1 and counts.sum() == 503


def test_without_noise_labels_follow_the_textbook_rule():
    circle = generate("circle", 500, 0.0)
    radius = np.hypot(*circle.xy.T)
    assert ((radius < 2.5) == (circle.labels == 1)).all()
    xor = generate("xor", 500, 0.0)
    assert ((xor.xy[:, 0] * xor.xy[:, 1] >= 0) == (xor.labels == 1)).all()
    assert np.abs(xor.xy).min() >= 0.3  # pushed off the axes
    plane = generate("plane", 500, 0.0)
    np.testing.assert_allclose(plane.labels, plane.xy.sum(1) / 10, atol=1e-6)
    bumps = generate("gaussian_sum", 2000, 0.0)
    near = np.hypot(bumps.xy[:, 0] - 4, bumps.xy[:, 1] - 2.5) < 0.5  # a +1 bump
    assert near.any() and (bumps.labels[near] > 0.7).all()
    spiral = generate("spiral", 300, 0.0)
    np.testing.assert_allclose(np.hypot(*spiral.xy[:150].T), np.arange(150) / 150 * 5, atol=1e-5)


def test_noise_blurs_the_classes():
    def wrong_side(noise):
        circle = generate("circle", 2000, noise, seed=1)
        return ((np.hypot(*circle.xy.T) < 2.5) != (circle.labels == 1)).mean()

    assert wrong_side(0.0) == 0 < wrong_side(0.2) < wrong_side(0.5)
    spread = [generate("gaussians", 2000, n, seed=1).xy[:1000].std() for n in (0.0, 0.5)]
    assert spread[0] == pytest.approx(math.sqrt(0.5), rel=0.1)
    assert spread[1] == pytest.approx(2.0, rel=0.1)
    clean, noisy = generate("spiral", 400, 0.0), generate("spiral", 400, 0.5)
    offset = np.abs(noisy.xy - clean.xy)
    assert 0 < offset.max() <= 0.5 and offset.mean() > 0.1
    plane, noisy_plane = generate("plane", 500, 0.0), generate("plane", 500, 0.3)
    residual = noisy_plane.labels - noisy_plane.xy.sum(1) / 10
    assert np.abs(plane.labels - plane.xy.sum(1) / 10).max() < 1e-6 < np.abs(residual).max()


def test_generator_arguments_are_checked():
    with pytest.raises(SpecError, match="Unknown playground dataset 'moons'"):
        generate("moons")
    with pytest.raises(SpecError, match="from 2 to"):
        generate("xor", 1)
    with pytest.raises(SpecError, match="Noise 1.5"):
        generate("xor", 100, 1.5)
    with pytest.raises(SpecError, match="2 to 5 arms"):
        generate("spiral", 100, classes=6)


# ---------------------------------------------------------------- features, points, splits


def test_features_in_the_order_asked():
    p = np.array([[1.0, 2.0], [-3.0, 0.5]], np.float32)
    f = features(p, FEATURES)
    expected = [
        [1, 2, 1, 4, 2, math.sin(1), math.sin(2)],
        [-3, 0.5, 9, 0.25, -1.5, math.sin(-3), math.sin(0.5)],
    ]
    np.testing.assert_allclose(f, expected, rtol=1e-6)
    assert f.dtype == np.float32
    np.testing.assert_array_equal(features(p, ["x2", "x1"]), p[:, ::-1])
    with pytest.raises(SpecError, match="unknown: x3"):
        features(p, ["x1", "x3"])
    with pytest.raises(SpecError, match="at least one input feature"):
        features(p, [])


def test_points_from_a_drawing():
    points = points_from_list([(0.0, 1.0, 0), (2.0, -1.0, 2), (1.0, 1.0, 0)], classes=4)
    assert points.num_classes == 4 and points.labels.tolist() == [0, 2, 0]
    assert points.xy.dtype == np.float32 and points.source == "drawn"
    assert points_from_list([(0, 0, 1)]).num_classes == 2  # never fewer than two classes
    assert points_from_list([], classes=3).xy.shape == (0, 2)
    values = points_from_list([(0, 0, 0.25), (1, 1, -2.0)], task="regression")
    assert values.task == "regression" and values.labels.tolist() == [0.25, -2.0]
    with pytest.raises(SpecError, match="whole numbers"):
        points_from_list([(0, 0, 0.5)])
    with pytest.raises(SpecError, match="at most 10"):
        points_from_list([(0, 0, 10)])
    with pytest.raises(SpecError, match="finite"):
        points_from_list([(0, float("nan"), 1)])


def test_split_points_keeps_every_split_non_empty():
    train, val, test = split_points(10, 0.7, seed=1)
    assert len(train) == 7 and len(test) == 3 and val is test
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(10))
    train, val, test = split_points(10, 0.7, seed=1, val_fraction=0.3)
    assert (len(train), len(val), len(test)) == (5, 2, 3)
    assert len(set(train) | set(val) | set(test)) == 10
    assert [len(s) for s in split_points(2, 0.99)[::2]] == [1, 1]
    assert [len(s) for s in split_points(2, 0.01)[::2]] == [1, 1]
    with pytest.raises(SpecError, match="too few"):
        split_points(1, 0.5)
    with pytest.raises(SpecError, match="Training share"):
        split_points(10, 1.0)


def test_make_data_builds_normalized_features_for_the_trainer():
    points = generate("circle", 400, seed=2)
    pg = make_data(points, ["x1", "x2", "x1^2", "x2^2"], train_fraction=0.6, seed=4)
    data = pg.data
    assert data.x_train.shape == (240, 4) and data.x_test.shape == (160, 4)
    assert pg.val_is_test and torch.equal(data.x_val, data.x_test)
    assert (
        data.num_classes == 2 and data.class_names == ["A", "B"] and data.task == "classification"
    )
    assert data.raw_train is None and data.raw_test is None and data.input_shape == (4,)
    np.testing.assert_allclose(data.x_train.mean(0).numpy(), 0, atol=1e-5)
    np.testing.assert_allclose(data.x_train.std(0, unbiased=False).numpy(), 1, atol=1e-4)
    np.testing.assert_array_equal(data.y_train.numpy(), points.labels[pg.train])
    raw = features(points.xy[pg.test], pg.feature_names)
    np.testing.assert_allclose(data.normalization.apply(raw), data.x_test.numpy(), rtol=1e-6)
    assert data.class_counts()["train"].sum() == 240
    carved = make_data(points, ["x1", "x2"], 0.5, seed=4, val_fraction=0.2)
    assert not carved.val_is_test and len(carved.data.x_val) == 40


def test_regression_data_keeps_real_targets():
    pg = make_data(generate("plane", 100), ["x1", "x2"])
    data = pg.data
    assert data.task == "regression" and data.num_classes == 1 and data.class_names == ["y"]
    assert data.y_train.dtype == torch.float32
    assert data.class_counts() == {"train": [50], "val": [50], "test": [50]}
    with pytest.raises(SpecError, match="finite"):
        x = np.zeros((2, 2))
        prepare_arrays(x, [0.0, np.nan], x, [0, 0], x, [0, 0], "none", ["y"], task="regression")
    with pytest.raises(SpecError, match="one output"):
        prepare_arrays(x, [0, 1], x, [0, 0], x, [0, 0], "none", ["a", "b"], task="regression")


# ---------------------------------------------------------------- CSV files


def write(tmp_path, text, name="points.csv", binary=False):
    path = tmp_path / name
    path.write_bytes(text) if binary else path.write_text(text)
    return path


def test_csv_with_header_blank_lines_and_playground_labels(tmp_path):
    path = write(tmp_path, "x1,x2,label\n0.5, -1,1\n\n 2,3,-1\n-4.5,6e-1,1\n")
    points = load_points_csv(path)
    np.testing.assert_allclose(points.xy, [[0.5, -1], [2, 3], [-4.5, 0.6]])
    assert points.class_names == ("-1", "1") and points.labels.tolist() == [1, 0, 1]
    assert points.task == "classification" and points.extent == EXTENT
    assert points.source == str(path)
    no_header = load_points_csv(write(tmp_path, "0,0,0\n1,1,2.0\n", "b.csv"))
    assert no_header.class_names == ("0", "2") and no_header.labels.tolist() == [0, 1]
    bom = load_points_csv(write(tmp_path, "\ufeffx,y,c\n1,2,3\n".encode(), "c.csv", binary=True))
    assert bom.labels.tolist() == [0]


def test_csv_as_real_values_and_an_extent_that_fits(tmp_path):
    points = load_points_csv(write(tmp_path, "100,10,0.25\n120,30,-1.5\n"), task="regression")
    assert points.task == "regression" and points.labels.tolist() == [0.25, -1.5]
    x0, x1, y0, y1 = points.extent
    assert x1 - x0 == pytest.approx(y1 - y0) and x0 < 100 and x1 > 120 and y0 < 10 and y1 > 30
    assert fit_extent(np.array([[0, 0], [5, -5]], np.float32)) == EXTENT


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "x1,x2,label\n" + "0,0,0\n" * 5 + "1,2\n",
            "points.csv line 7: expected 3 comma-separated values x1,x2,label, got 2",
        ),
        (
            "0,0,0\n1,2,3,4\n",
            "points.csv line 2: expected 3 comma-separated values x1,x2,label, got 4",
        ),
        ("1;2;3\n", "points.csv line 1: expected 3 comma-separated values x1,x2,label, got 1"),
        ("0,0,0\n0,abc,1\n", "points.csv line 2: x2 'abc' is not a number"),
        ("0,0,0\n0,1,\n", "points.csv line 2: label '' is not a number"),
        ("0,0,0\nnan,1,1\n", "points.csv line 2: x1 'nan' is not a finite number"),
        ("0,0,0\n1,1,0.5\n", "points.csv line 2: label '0.5' is not a whole number"),
        ("", "points.csv has no points"),
        ("\n\n  \n", "points.csv has no points"),
        ("x1,x2,label\n", "points.csv has no points"),
        ("".join(f"{i},0,{i}\n" for i in range(11)), "points.csv has 11 different labels"),
    ],
)
def test_malformed_csv_files_name_the_file_and_line(tmp_path, text, message):
    with pytest.raises(DataFormatError) as info:
        load_points_csv(write(tmp_path, text))
    assert str(info.value).startswith(message)


def test_csv_files_that_cannot_be_read(tmp_path):
    with pytest.raises(DataNotFoundError, match="does not exist"):
        load_points_csv(tmp_path / "missing.csv")
    with pytest.raises(DataFormatError, match="is a folder"):
        load_points_csv(tmp_path)
    with pytest.raises(DataFormatError, match="not a text file"):
        load_points_csv(write(tmp_path, b"\x89PNG\r\n\x1a\n\xff\xfe\x00", "img.csv", binary=True))
    assert MAX_CLASSES == 10
    # ten classes is fine; real values accept any number of distinct labels
    ten = "".join(f"{i},0,{i}\n" for i in range(10))
    assert load_points_csv(write(tmp_path, ten, "ten.csv")).num_classes == 10
    many = "".join(f"{i},0,{i / 7}\n" for i in range(30))
    assert len(load_points_csv(write(tmp_path, many, "many.csv"), "regression")) == 30


# ---------------------------------------------------------------- regression training


def test_regression_losses_compare_raw_outputs_with_targets():
    out = torch.tensor([[0.5], [2.0], [-1.0]])
    y = torch.tensor([1.0, 2.0, 1.0])
    reg = {n: loss_function(n, 1, task="regression") for n in ("mse", "mae", "msle")}
    assert float(reg["mse"](out, y)) == pytest.approx((0.25 + 0 + 4) / 3)
    assert float(reg["mae"](out, y)) == pytest.approx((0.5 + 0 + 2) / 3)
    expected = ((math.log(1.5) - math.log(2)) ** 2 + 0 + (0 - math.log(2)) ** 2) / 3
    assert float(reg["msle"](out, y)) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(SpecError, match="needs class labels"):
        loss_function("categorical_cross_entropy", 1, task="regression")


def test_regression_training_lowers_the_loss_and_reports_no_accuracy():
    data = make_data(generate("gaussian_sum", 400, seed=1), ["x1", "x2"], 0.7).data
    model = net(outputs=1, hidden=(16, 16))
    events = []
    config = TrainConfig(loss="mse", lr=0.02, batch_size=16, epochs=25, restore_best=False)
    finished = Trainer(model, data, config, on_event=events.append).run()
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert epochs[-1].val.loss < 0.5 * epochs[0].val.loss
    assert epochs[-1].train_loss < 0.5 * epochs[0].train_loss
    assert all(math.isnan(e.train_accuracy) and math.isnan(e.val.accuracy) for e in epochs)
    assert epochs[-1].val.confusion.shape == (0, 0)
    assert finished.test is not None and finished.test.loss == pytest.approx(epochs[-1].val.loss)
    assert finished.history.epochs[-1].val_confusion == []


def test_a_classification_loss_is_refused_for_regression_data():
    data = make_data(generate("plane", 50), ["x1", "x2"]).data
    with pytest.raises(SpecError, match="choose mean squared error"):
        Trainer(net(outputs=1), data, TrainConfig())


def test_xor_is_learned_from_x1_and_x2():
    pg = make_data(generate("xor", 400, seed=0), ["x1", "x2"], 0.5)
    config = TrainConfig(lr=0.03, batch_size=10, epochs=15)
    finished = Trainer(net(), pg.data, config).run()
    assert finished.test.accuracy > 0.95


def test_evaluate_an_empty_split():
    x, y = torch.zeros(0, 2), torch.zeros(0, dtype=torch.long)
    loss = loss_function("sparse_categorical_cross_entropy", 2)
    metrics = evaluate(net(), x, y, loss, "sparse_categorical_cross_entropy", 2)
    assert math.isnan(metrics.loss) and metrics.confusion.sum() == 0


# ---------------------------------------------------------------- grids


def test_grid_rows_are_x2_and_columns_x1_at_cell_centres():
    xs, ys = grid_axes((0.0, 4.0, -2.0, 2.0), 4)
    np.testing.assert_allclose(xs, [0.5, 1.5, 2.5, 3.5])
    np.testing.assert_allclose(ys, [-1.5, -0.5, 0.5, 1.5])
    p = grid_points((0.0, 4.0, -2.0, 2.0), 4)
    np.testing.assert_allclose(p[1 * 4 + 3], [3.5, -0.5])
    f = feature_grids(["x1", "x2", "x1*x2"], (0.0, 4.0, -2.0, 2.0), 4)
    assert f.shape == (3, 4, 4)
    np.testing.assert_allclose(f[0][2], xs)
    np.testing.assert_allclose(f[1][:, 0], ys)
    np.testing.assert_allclose(f[2], np.outer(ys, xs))


def test_decision_grid_for_binary_multi_class_and_regression():
    points = generate("xor", 100)
    names = ["x1", "x2", "x1*x2"]
    norm = make_data(points, names).data.normalization
    binary = decision_grid(net(3, 2), names, norm, "sparse_categorical_cross_entropy", EXTENT, 20)
    assert binary.shape == (20, 20) and binary.dtype == np.float32
    assert 0 <= binary.min() and binary.max() <= 1 and binary.std() > 0
    multi = decision_grid(net(3, 4), names, norm, "categorical_cross_entropy", EXTENT, 20)
    assert multi.shape == (20, 20, 4)
    np.testing.assert_allclose(multi.sum(-1), 1, rtol=1e-5)
    model = net(3, 1)
    reg = decision_grid(model, names, norm, "mse", EXTENT, 20, task="regression")
    assert reg.shape == (20, 20)
    # the pixel (row 5, column 7) is the network's output at (xs[7], ys[5])
    xs, ys = grid_axes(EXTENT, 20)
    x = torch.from_numpy(norm.apply(features(np.array([[xs[7], ys[5]]]), names)))
    assert reg[5, 7] == pytest.approx(float(model(x)[0, 0].detach()), abs=1e-5)


def test_neuron_grids_show_each_hidden_neuron_in_eval_mode():
    names = ["x1", "x2"]
    norm = make_data(generate("circle", 60), names).data.normalization
    spec = NetworkSpec(
        2,
        [LayerSpec(5, ActivationSpec("relu"), dropout=0.5), LayerSpec(3, ActivationSpec("tanh"))],
        2,
        "he",
        1,
    )
    model = build_model(spec)
    model.train()
    grids = neuron_grids(model, names, norm, EXTENT, 16)
    assert model.training  # the mode is restored
    assert [g.shape for g in grids] == [(5, 16, 16), (3, 16, 16)]
    assert grids[0].min() >= 0 and np.abs(grids[1]).max() <= 1
    xs, ys = grid_axes(EXTENT, 16)
    x = torch.from_numpy(norm.apply(features(np.array([[xs[2], ys[9]]]), names)))
    model.eval()
    _, acts = model.forward_with_activations(x)
    np.testing.assert_allclose(grids[1][:, 9, 2], acts[1][0].detach().numpy(), atol=1e-6)
    np.testing.assert_array_equal(grids[0], neuron_grids(model, names, norm, EXTENT, 16)[0])


def test_network_grids_match_the_separate_grids():
    names = ["x1", "x2"]
    norm = make_data(generate("spiral", 90, classes=3), names).data.normalization
    model = net(2, 3)
    inputs = grid_inputs(names, norm, EXTENT, 30)
    loss = "sparse_categorical_cross_entropy"
    decision, neurons = network_grids(model, inputs, loss, "classification", 30, neuron_step=3)
    np.testing.assert_allclose(decision, decision_grid(model, names, norm, loss, EXTENT, 30))
    full = neuron_grids(model, names, norm, EXTENT, 30)
    assert neurons[0].shape == (8, 10, 10)
    np.testing.assert_allclose(neurons[1], full[1][:, ::3, ::3])
