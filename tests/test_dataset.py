"""core.dataset (one Dataset whatever the source) and core.data.prepare_dataset (issue 10)."""

import numpy as np
import pytest
from idx_fixtures import write_mnist_folder
from mlp_studio.core.data import BalanceConfig, DataConfig, SplitConfig, prepare_dataset
from mlp_studio.core.dataset import Dataset, load_data
from mlp_studio.core.errors import DataNotFoundError, SpecError, StudioError


def image_dataset(n=200, classes=4, shape=(12, 10), seed=0) -> Dataset:
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % classes).astype(np.int64)
    x = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
    # Something learnable, and a way to check that rows keep their labels.
    x[:, 0, 0] = (y * 60)[:, None] if x.ndim == 4 else y * 60
    names = [f"class {c}" for c in range(classes)]
    return Dataset("shapes", "images", "classification", x, y, None, None, names, "/tmp/shapes",
                   [])  # fmt: skip


def table_dataset(n=300, d=3, seed=0) -> Dataset:
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, d)) * [1.0, 100.0, 0.01] + [0.0, 5000.0, -3.0]).astype(np.float32)
    y = (x[:, 0] * 2 + x[:, 1] / 100).astype(np.float32)
    return Dataset("house.csv", "table", "regression", x, y, None, None, ["price"],
                   "/tmp/house.csv", ["a", "b", "c"])  # fmt: skip


def test_load_data_reads_an_mnist_folder_and_names_its_family(tmp_path):
    folder = write_mnist_folder(tmp_path / "m", n_train=60, n_test=20)
    ds = load_data(folder)
    assert (ds.name, ds.kind, ds.task, ds.input_shape) == ("MNIST", "mnist", "classification",
                                                          (28, 28))  # fmt: skip
    assert ds.class_names == [str(d) for d in range(10)] and ds.source == str(folder)
    assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.int64
    assert len(ds.x_test) == 20 and ds.notes == ()
    fashion = load_data(folder, dataset="fashion-mnist")
    assert fashion.name == "Fashion-MNIST"
    assert fashion.class_names[:2] == ["T-shirt/top", "Trouser"]
    assert fashion.class_names[-1] == "Ankle boot"
    kmnist = load_data(folder, dataset="KMNIST")
    assert kmnist.class_names == ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]


def test_load_data_reads_an_npz(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=rng.integers(0, 255, (30, 28, 28), dtype=np.uint8),
             y_train=np.arange(30) % 10, x_test=np.zeros((5, 28, 28), np.uint8),
             y_test=np.arange(5))  # fmt: skip
    ds = load_data(path)
    assert ds.kind == "mnist" and len(ds.x_train) == 30 and ds.y_test.tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("name", ["cifar", "mnist2"])
def test_an_unknown_dataset_name_lists_the_known_ones(tmp_path, name):
    with pytest.raises(StudioError, match="choose one of mnist, fashion-mnist, kmnist"):
        load_data(None, dataset=name)


def test_a_missing_path_says_what_to_give(tmp_path):
    with pytest.raises(DataNotFoundError, match="does not exist"):
        load_data(tmp_path / "nope")


def test_prepare_dataset_pools_data_without_a_test_split(tmp_path):
    ds = image_dataset()
    config = DataConfig(split=SplitConfig(mode="official", percentages=(60.0, 20.0, 20.0)))
    data = prepare_dataset(ds, config)  # no official test split: split by the percentages
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (120, 40, 40)
    assert data.input_shape == (12, 10) and data.x_train.shape == (120, 120)
    assert data.class_names == ds.class_names and data.num_classes == 4
    assert data.raw_train.shape == (120, 12, 10)
    # stratified: each class has a quarter of each split
    for y in (data.y_train, data.y_val, data.y_test):
        assert np.bincount(y.numpy(), minlength=4).tolist() == [len(y) // 4] * 4
    # rows keep their labels, and the splits are disjoint
    assert (data.raw_train[:, 0, 0] == data.y_train.numpy() * 60).all()
    every = np.concatenate(list(data.indices.values()))
    assert len(np.unique(every)) == 200
    again = prepare_dataset(ds, config)
    assert all((again.indices[k] == data.indices[k]).all() for k in data.indices)


def test_prepare_dataset_rgb_images_keep_their_shape():
    ds = image_dataset(n=40, classes=2, shape=(8, 8, 3))
    data = prepare_dataset(ds, DataConfig())
    assert data.input_shape == (8, 8, 3) and data.x_train.shape[1] == 192


def test_prepare_dataset_class_settings_follow_the_data():
    ds = image_dataset(n=400, classes=4)
    data = prepare_dataset(ds, DataConfig(balance=BalanceConfig((1.0, 0.5, 0.25, 0.1))))
    counts = np.bincount(data.y_train.numpy(), minlength=4)
    assert counts[0] > counts[1] > counts[2] > counts[3] > 0
    binary = prepare_dataset(ds, DataConfig(target_digit=2))
    assert binary.class_names == ["not class 2", "class 2"] and binary.num_classes == 2
    with pytest.raises(SpecError, match="10 values but shapes has 4 classes"):
        prepare_dataset(ds, DataConfig(balance=BalanceConfig((0.5,) * 10)))
    with pytest.raises(SpecError, match="target class 4 does not exist"):
        prepare_dataset(ds, DataConfig(target_digit=4))


def test_prepare_dataset_regression_table():
    ds = table_dataset()
    data = prepare_dataset(ds, DataConfig())  # "unit" assumes pixels: tables go per feature
    assert data.task == "regression" and data.num_classes == 1 and data.class_names == ["price"]
    assert data.y_train.dtype.is_floating_point and data.input_shape == (3,)
    assert data.raw_train is None and data.normalization.kind == "per_pixel"
    x = data.x_train.numpy()
    assert np.allclose(x.mean(axis=0), 0, atol=1e-4) and np.allclose(x.std(axis=0), 1, atol=1e-3)
    # statistics from the training split only
    train_rows = ds.x_train[data.indices["train"]]
    assert np.allclose(data.normalization.mean, train_rows.mean(axis=0), rtol=1e-5)
    # targets stay real values, row by row
    assert np.allclose(data.y_test.numpy(), ds.y_train[data.indices["test"]])
    with pytest.raises(SpecError, match="regression has no classes"):
        prepare_dataset(ds, DataConfig(balance=BalanceConfig(remedy="oversample")))


def test_dataset_checks_its_own_shape():
    with pytest.raises(StudioError, match="unknown data kind"):
        Dataset("x", "video", "classification", np.zeros((2, 2)), np.zeros(2), None, None, [],
                "", [])  # fmt: skip
    with pytest.raises(StudioError, match="3 inputs but targets of shape"):
        Dataset("x", "table", "classification", np.zeros((3, 2)), np.zeros(2), None, None, [],
                "", [])  # fmt: skip
