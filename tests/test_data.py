"""core.data: normalization, splits, imbalance and remedies, binary task, config validation."""

import json

import numpy as np
import pytest
import torch
from mlp_studio.core.data import (
    NORMALIZATIONS,
    BalanceConfig,
    DataConfig,
    Normalization,
    SplitConfig,
    class_weights,
    fit_normalization,
    long_tail_fractions,
    pixel_histogram,
    prepare_arrays,
    prepare_mnist,
)
from mlp_studio.core.errors import SpecError
from mlp_studio.core.mnist import MnistArrays, load_folder

# Unequal class sizes, so stratification has something to preserve: 600 train, 100 test.
TRAIN_SIZES = np.array([90, 80, 70, 66, 60, 54, 50, 50, 40, 40])
TEST_SIZES = np.array([15, 13, 12, 11, 10, 9, 8, 8, 7, 7])


def synthetic_mnist(seed: int = 0) -> MnistArrays:
    """Random 28x28 uint8 images; a 2-pixel border is always 0, as in MNIST."""
    rng = np.random.default_rng(seed)

    def part(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.permutation(np.repeat(np.arange(10), sizes)).astype(np.uint8)
        images = np.zeros((len(labels), 28, 28), np.uint8)
        images[:, 2:-2, 2:-2] = rng.integers(0, 256, (len(labels), 24, 24), dtype=np.uint8)
        return images, labels

    (tri, trl), (tei, tel) = part(TRAIN_SIZES), part(TEST_SIZES)
    return MnistArrays(tri, trl, tei, tel, source="synthetic")


@pytest.fixture
def mnist() -> MnistArrays:
    return synthetic_mnist()


def pooled_labels(m: MnistArrays) -> np.ndarray:
    return np.concatenate([m.train_labels, m.test_labels]).astype(np.int64)


# ---------------------------------------------------------------- normalization


@pytest.mark.parametrize(
    ("kind", "mean", "std", "lo", "hi"),
    [("none", 0.0, 1.0, 0.0, 255.0), ("unit", 0.0, 255.0, 0.0, 1.0),
     ("symmetric", 127.5, 127.5, -1.0, 1.0)],
)  # fmt: skip
def test_fixed_normalizations_have_their_constants_and_range(kind, mean, std, lo, hi):
    x = np.random.default_rng(0).integers(0, 256, (50, 784)).astype(np.uint8)
    x[0, :2] = (0, 255)
    norm = fit_normalization(kind, x)
    assert norm.mean.dtype == norm.std.dtype == np.float32
    assert norm.mean.shape == norm.std.shape == (784,)
    np.testing.assert_array_equal(norm.mean, mean)
    np.testing.assert_array_equal(norm.std, std)
    out = norm.apply(x)
    assert out.dtype == np.float32 and out.min() == lo and out.max() == hi


def test_standardize_uses_one_global_mean_and_std():
    x = np.random.default_rng(1).integers(0, 256, (300, 784)).astype(np.uint8)
    x[:, :50] = 0
    norm = fit_normalization("standardize", x)
    np.testing.assert_allclose(norm.mean, x.mean(), rtol=1e-6)
    np.testing.assert_allclose(norm.std, x.std(), rtol=1e-6)
    out = norm.apply(x)
    assert abs(out.mean()) < 1e-4 and abs(out.std() - 1) < 1e-4


def test_per_pixel_standardizes_each_pixel_and_guards_constant_pixels():
    x = np.random.default_rng(2).integers(0, 256, (300, 784)).astype(np.float64)
    x[:, 0] = 0.0  # never inked, like MNIST's border
    x[:, 1] = 7.0  # constant but not 0
    norm = fit_normalization("per_pixel", x)
    np.testing.assert_allclose(norm.mean, x.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(norm.std[2:], x.std(axis=0)[2:], rtol=1e-5)
    assert norm.std[0] == norm.std[1] == 1.0 and norm.mean[1] == 7.0
    out = norm.apply(x)
    assert np.isfinite(out).all()
    assert (out[:, :2] == 0).all()  # constant training pixels map to exactly 0
    np.testing.assert_allclose(out[:, 2:].mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(out[:, 2:].std(axis=0), 1, atol=1e-4)
    # an unseen image with ink at a constant pixel gets raw units, not a huge value
    assert norm.apply(np.full((1, 784), 255.0))[0, 0] == 255.0


@pytest.mark.parametrize("kind", ["standardize", "per_pixel"])
def test_statistics_come_from_the_training_split_only(mnist, kind):
    config = DataConfig(normalization=kind)
    first = prepare_mnist(mnist, config)
    changed_train = mnist.train_images.copy()
    changed_train[first.indices["val"]] = 255  # validation images are carved from training
    changed = MnistArrays(changed_train, mnist.train_labels, np.full_like(mnist.test_images, 9),
                          mnist.test_labels, "changed")  # fmt: skip
    second = prepare_mnist(changed, config)
    np.testing.assert_array_equal(second.indices["train"], first.indices["train"])
    np.testing.assert_array_equal(second.normalization.mean, first.normalization.mean)
    np.testing.assert_array_equal(second.normalization.std, first.normalization.std)
    train_raw = mnist.train_images[first.indices["train"]].reshape(-1, 784)
    expected = fit_normalization(kind, train_raw)
    np.testing.assert_allclose(first.normalization.mean, expected.mean)
    assert not torch.equal(second.x_test, first.x_test)  # the change did reach the data


def test_statistics_skip_oversampled_duplicates(mnist):
    keep = long_tail_fractions(10, 0.1)
    plain = prepare_mnist(mnist, DataConfig("per_pixel", balance=BalanceConfig(keep)))
    over = prepare_mnist(mnist, DataConfig("per_pixel", balance=BalanceConfig(keep, "oversample")))
    assert len(over.y_train) > len(plain.y_train)
    np.testing.assert_array_equal(over.normalization.mean, plain.normalization.mean)


def test_apply_agrees_for_numpy_and_torch_and_keeps_the_type():
    x = np.random.default_rng(3).integers(0, 256, (40, 28, 28)).astype(np.uint8)
    for kind in NORMALIZATIONS:
        norm = fit_normalization(kind, x.reshape(40, -1))
        a = norm.apply(x)
        b = norm.apply(torch.from_numpy(x))
        assert isinstance(a, np.ndarray) and isinstance(b, torch.Tensor)
        assert a.shape == (40, 784) and b.dtype == torch.float32 and b.is_contiguous()
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-6, atol=1e-6)


def test_normalization_round_trips_through_json():
    x = np.random.default_rng(4).integers(0, 256, (30, 784)).astype(np.uint8)
    for kind in NORMALIZATIONS:
        norm = fit_normalization(kind, x)
        back = Normalization.from_dict(json.loads(json.dumps(norm.to_dict())))
        assert back.kind == kind
        np.testing.assert_array_equal(back.mean, norm.mean)
        np.testing.assert_array_equal(back.std, norm.std)
        np.testing.assert_array_equal(back.apply(x), norm.apply(x))


@pytest.mark.parametrize(
    ("data", "message"),
    [({"kind": "zscore", "mean": [0.0], "std": [1.0]}, "unknown normalization"),
     ({"kind": "unit", "mean": [0.0], "std": [0.0]}, "std must be > 0"),
     ({"kind": "unit", "mean": [0.0, 1.0], "std": [1.0]}, "equal length"),
     ({"kind": "unit", "mean": [0.0]}, "incomplete")],
)  # fmt: skip
def test_bad_normalization_data_raises_spec_error(data, message):
    with pytest.raises(SpecError, match=message):
        Normalization.from_dict(data)


def test_normalization_vectors_are_read_only():
    norm = fit_normalization("unit", np.zeros((2, 4), np.uint8))
    with pytest.raises(ValueError):
        norm.mean[0] = 1.0


# ---------------------------------------------------------------- splits


def assert_disjoint(indices: dict[str, np.ndarray]) -> None:
    names = list(indices)
    for i, a in enumerate(names):
        assert len(np.unique(indices[a])) == len(indices[a])
        for b in names[i + 1 :]:
            assert np.intersect1d(indices[a], indices[b]).size == 0, (a, b)


def split_counts(data, labels: np.ndarray) -> dict[str, np.ndarray]:
    return {k: np.bincount(labels[v], minlength=10) for k, v in data.indices.items()}


@pytest.mark.parametrize("stratified", [True, False])
def test_official_split_by_fraction_and_by_count(mnist, stratified):
    data = prepare_mnist(mnist, DataConfig(split=SplitConfig(stratified=stratified)))
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (540, 60, 100)
    assert data.x_train.shape == (540, 784) and data.raw_train.shape == (540, 28, 28)
    np.testing.assert_array_equal(np.sort(data.indices["test"]), np.arange(600, 700))
    assert data.indices["train"].max() < 600 and data.indices["val"].max() < 600
    assert_disjoint(data.indices)
    by_count = prepare_mnist(mnist, DataConfig(split=SplitConfig(val_count=75)))
    assert (len(by_count.y_train), len(by_count.y_val), len(by_count.y_test)) == (525, 75, 100)
    assert_disjoint(by_count.indices)


def test_split_rows_match_their_pooled_images_and_labels(mnist):
    data = prepare_mnist(mnist, DataConfig(split=SplitConfig(mode="pooled")))
    images = np.concatenate([mnist.train_images, mnist.test_images])
    for name, raw, y in (("train", data.raw_train, data.y_train), ("test", data.raw_test,
                         data.y_test)):  # fmt: skip
        np.testing.assert_array_equal(raw, images[data.indices[name]])
        np.testing.assert_array_equal(y.numpy(), pooled_labels(mnist)[data.indices[name]])
    np.testing.assert_allclose(data.x_train.numpy(), data.raw_train.reshape(-1, 784) / 255.0,
                               rtol=1e-6)  # fmt: skip


@pytest.mark.parametrize(
    ("percentages", "sizes"),
    [((70, 20, 10), (490, 140, 70)), ((80, 0, 20), (560, 0, 140)), ((100, 0, 0), (700, 0, 0))],
)
def test_pooled_split_by_percentages(mnist, percentages, sizes):
    split = SplitConfig(mode="pooled", percentages=percentages)
    data = prepare_mnist(mnist, DataConfig(split=split))
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == sizes
    assert_disjoint(data.indices)
    everything = np.concatenate(list(data.indices.values()))
    np.testing.assert_array_equal(np.sort(everything), np.arange(700))


@pytest.mark.parametrize("mode", ["official", "pooled"])
def test_stratified_split_keeps_class_proportions_within_one_sample(mnist, mode):
    data = prepare_mnist(mnist, DataConfig(split=SplitConfig(mode=mode, seed=5)))
    labels = pooled_labels(mnist)
    pool = np.arange(600) if mode == "official" else np.arange(700)
    pool_counts = np.bincount(labels[pool], minlength=10)
    for name, counts in split_counts(data, labels).items():
        if mode == "official" and name == "test":
            continue  # MNIST's own test set, not split
        share = pool_counts * counts.sum() / len(pool)
        assert np.abs(counts - share).max() <= 1, (name, counts, share)


def test_random_split_is_not_forced_to_proportions(mnist):
    deviations = []
    for seed in range(5):
        data = prepare_mnist(mnist, DataConfig(split=SplitConfig(stratified=False, seed=seed)))
        counts = split_counts(data, pooled_labels(mnist))["val"]
        deviations.append(np.abs(counts - TRAIN_SIZES * 0.1).max())
    assert max(deviations) > 1


def test_splits_are_seeded(mnist):
    def indices(seed: int, mode: str) -> dict[str, np.ndarray]:
        return prepare_mnist(mnist, DataConfig(split=SplitConfig(mode=mode, seed=seed))).indices

    for mode in ("official", "pooled"):
        a, b, c = indices(1, mode), indices(1, mode), indices(2, mode)
        for name in ("train", "val"):
            np.testing.assert_array_equal(a[name], b[name])
            assert not np.array_equal(np.sort(a[name]), np.sort(c[name]))


@pytest.mark.parametrize("stratified", [True, False])
def test_subset_caps_training_only(mnist, stratified):
    full = prepare_mnist(mnist, DataConfig(split=SplitConfig(stratified=stratified)))
    small = prepare_mnist(mnist, DataConfig(split=SplitConfig(stratified=stratified, subset=100)))
    assert len(small.y_train) == 100
    assert np.isin(small.indices["train"], full.indices["train"]).all()
    np.testing.assert_array_equal(small.indices["val"], full.indices["val"])
    np.testing.assert_array_equal(small.indices["test"], full.indices["test"])
    if stratified:
        share = full.class_counts()["train"] * 100 / 540
        assert np.abs(small.class_counts()["train"] - share).max() <= 1
    bigger = prepare_mnist(mnist, DataConfig(split=SplitConfig(subset=10_000)))
    assert len(bigger.y_train) == 540


# ---------------------------------------------------------------- class balance


def test_keep_fractions_give_the_expected_counts(mnist):
    keep = (1.0, 0.5, 0.0, 0.25, 0.001, 1.0, 1.0, 0.1, 1.0, 0.5)
    base = prepare_mnist(mnist, DataConfig()).class_counts()["train"]
    data = prepare_mnist(mnist, DataConfig(balance=BalanceConfig(keep)))
    expected = np.maximum(np.round(np.array(keep) * base), 1)
    expected[2] = 0  # fraction 0 drops the digit
    np.testing.assert_array_equal(data.class_counts()["train"], expected)
    np.testing.assert_array_equal(data.class_counts()["val"], prepare_mnist(
        mnist, DataConfig()).class_counts()["val"])  # fmt: skip


def test_long_tail_fractions_are_geometric_and_monotone():
    tail = long_tail_fractions(10, 0.05)
    assert len(tail) == 10 and tail[0] == 1.0 and tail[-1] == pytest.approx(0.05)
    assert all(a > b for a, b in zip(tail, tail[1:], strict=False))
    ratios = np.array(tail[1:]) / np.array(tail[:-1])
    np.testing.assert_allclose(ratios, ratios[0])
    assert long_tail_fractions(1) == (1.0,)
    with pytest.raises(SpecError, match="smallest"):
        long_tail_fractions(10, 0.0)


def test_long_tail_training_counts_fall_class_by_class():
    m = synthetic_mnist()
    labels = np.repeat(np.arange(10), 60).astype(np.uint8)  # 60 of each digit
    even = MnistArrays(m.train_images, labels, m.test_images, m.test_labels, "even")
    data = prepare_mnist(even, DataConfig(balance=BalanceConfig(long_tail_fractions(10, 0.1))))
    counts = data.class_counts()["train"]
    assert counts[0] == 54 and (np.diff(counts) <= 0).all() and counts[-1] >= 1


@pytest.mark.parametrize("remedy", ["oversample", "undersample"])
def test_resampling_equalizes_present_classes(mnist, remedy):
    keep = (1.0, 0.5, 0.0, 0.25, 1.0, 1.0, 1.0, 0.1, 1.0, 0.5)
    before = prepare_mnist(mnist, DataConfig(balance=BalanceConfig(keep))).class_counts()["train"]
    data = prepare_mnist(mnist, DataConfig(balance=BalanceConfig(keep, remedy)))
    counts = data.class_counts()["train"]
    target = before.max() if remedy == "oversample" else before[before > 0].min()
    np.testing.assert_array_equal(counts, np.where(before > 0, target, 0))
    assert data.raw_train.shape[0] == data.x_train.shape[0] == len(data.indices["train"])
    selected = prepare_mnist(mnist, DataConfig(balance=BalanceConfig(keep))).indices["train"]
    assert np.isin(data.indices["train"], selected).all()  # duplicates come from training only
    assert_disjoint({"train": np.unique(data.indices["train"]), "val": data.indices["val"]})


def test_class_weights_formula():
    labels = np.array([0, 0, 0, 1, 2, 2])  # class 3 absent
    weights = class_weights(labels, 4)
    assert weights.dtype == torch.float32
    np.testing.assert_allclose(weights.numpy(), [6 / (4 * 3), 6 / (4 * 1), 6 / (4 * 2), 0.0])


def test_class_weights_remedy_in_prepared_data(mnist):
    keep = long_tail_fractions(10, 0.2)
    data = prepare_mnist(mnist, DataConfig(balance=BalanceConfig(keep, "class_weights")))
    counts = data.class_counts()["train"]
    np.testing.assert_allclose(data.class_weights.numpy(), counts.sum() / (10 * counts),
                               rtol=1e-6)  # fmt: skip
    assert prepare_mnist(mnist, DataConfig()).class_weights is None


# ---------------------------------------------------------------- binary task


def test_binary_task_relabels_and_names_classes(mnist):
    data = prepare_mnist(mnist, DataConfig(target_digit=7))
    assert data.num_classes == 2 and data.class_names == ["not 7", "7"]
    for name, y in (("train", data.y_train), ("val", data.y_val), ("test", data.y_test)):
        digits = pooled_labels(mnist)[data.indices[name]]
        np.testing.assert_array_equal(y.numpy(), (digits == 7).astype(np.int64))
    assert data.class_counts()["test"].tolist() == [100 - 8, 8]


def test_binary_keep_fractions_refer_to_the_ten_digits(mnist):
    keep = (1.0,) * 5 + (0.0,) + (1.0,) * 4  # drop digit 5 from "is it a 3?"
    data = prepare_mnist(mnist, DataConfig(target_digit=3, balance=BalanceConfig(keep)))
    digits = pooled_labels(mnist)[data.indices["train"]]
    assert 5 not in digits and 3 in digits
    balanced = prepare_mnist(
        mnist, DataConfig(target_digit=3, balance=BalanceConfig(keep, "undersample")))  # fmt: skip
    assert balanced.class_counts()["train"][0] == balanced.class_counts()["train"][1] > 0


# ---------------------------------------------------------------- configuration


def test_data_config_round_trips_through_json():
    config = DataConfig(
        normalization="per_pixel",
        split=SplitConfig(mode="pooled", percentages=(60.0, 25.0, 15.0), seed=3, subset=200),
        balance=BalanceConfig(long_tail_fractions(), "class_weights"),
        target_digit=4,
    )
    back = DataConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert back == config
    assert DataConfig.from_dict({}) == DataConfig()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (DataConfig(normalization="zscore"), "unknown normalization 'zscore'"),
        (DataConfig(split=SplitConfig(mode="kfold")), "unknown split mode 'kfold'"),
        (DataConfig(balance=BalanceConfig(remedy="smote")), "unknown imbalance remedy 'smote'"),
        (DataConfig(split=SplitConfig(val_fraction=0.0)), "validation fraction"),
        (DataConfig(split=SplitConfig(val_fraction=1.0)), "validation fraction"),
        (DataConfig(split=SplitConfig(val_count=0)), "validation count"),
        (DataConfig(split=SplitConfig(val_count=2.5)), "validation count"),
        (DataConfig(split=SplitConfig(seed=-1)), "seed must be a whole number"),
        (DataConfig(split=SplitConfig(subset=10.5)), "subset size"),
        (DataConfig(split=SplitConfig(subset=0)), "subset size must be a whole number >= 1"),
        (DataConfig(target_digit=-1), "target class must be a whole number >= 0"),
        (DataConfig(target_digit=True), "target class must be a whole number >= 0"),
        (DataConfig(split=SplitConfig(percentages=(70, 20, 5))), r"sum to 100.*\(sum 95\)"),
        (DataConfig(split=SplitConfig(percentages=(110, -20, 10))), "each be >= 0"),
        (DataConfig(split=SplitConfig(percentages=(0, 50, 50))), "train > 0"),
        (DataConfig(balance=BalanceConfig(())), "one value per class"),
        (DataConfig(balance=BalanceConfig((1.5,) + (1.0,) * 9)), "between 0 and 1"),
        (DataConfig(balance=BalanceConfig((0.0,) * 10)), "all 0"),
    ],
)
def test_bad_configs_raise_spec_error(mnist, config, message):
    with pytest.raises(SpecError, match=message):
        config.validate()
    with pytest.raises(SpecError, match=message):
        prepare_mnist(mnist, config)
    with pytest.raises(SpecError, match=message):
        DataConfig.from_dict(json.loads(json.dumps(config.to_dict())))


@pytest.mark.parametrize(
    "config, message",
    [
        (DataConfig(target_digit=10), "target class 10 does not exist: MNIST has classes 0-9"),
        (DataConfig(balance=BalanceConfig((0.5,) * 9)), "9 values but MNIST has 10 classes"),
    ],
)
def test_settings_that_do_not_fit_the_datas_classes(mnist, config, message):
    config.validate()  # fine on their own: how many classes there are depends on the data
    with pytest.raises(SpecError, match=message):
        prepare_mnist(mnist, config)


def test_problems_lists_every_problem():
    config = DataConfig(normalization="x", target_digit=-1, split=SplitConfig(subset=0))
    assert len(config.problems()) == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [({"normalisation": "unit"}, "unknown data setting"),
     ({"split": {"seeds": 1}}, "unknown split setting"),
     ({"split": [1, 2]}, "must be a mapping"),
     ({"balance": {"keep_fractions": "abc"}}, "malformed")],
)  # fmt: skip
def test_bad_config_dicts_raise_spec_error(data, message):
    with pytest.raises(SpecError, match=message):
        DataConfig.from_dict(data)


def test_impossible_sizes_for_the_data_raise_spec_error(mnist):
    with pytest.raises(SpecError, match="fewer than 600"):
        prepare_mnist(mnist, DataConfig(split=SplitConfig(val_count=600)))
    tiny_train = SplitConfig(mode="pooled", percentages=(0.01, 49.995, 49.995))
    with pytest.raises(SpecError, match="training split is empty"):
        prepare_mnist(mnist, DataConfig(split=tiny_train))


# ---------------------------------------------------------------- generic arrays, histogram


def test_prepare_arrays_for_two_dimensional_data():
    rng = np.random.default_rng(6)
    xs = [rng.normal(5.0, 3.0, (n, 2)) for n in (200, 50, 50)]
    ys = [rng.integers(0, 3, n) for n in (200, 50, 50)]
    data = prepare_arrays(xs[0], ys[0], xs[1], ys[1], xs[2], ys[2], "per_pixel", list("abc"))
    assert data.input_shape == (2,) and data.num_classes == 3 and data.raw_train is None
    assert data.x_train.dtype == torch.float32 and data.y_val.dtype == torch.int64
    np.testing.assert_allclose(data.x_train.mean(0).numpy(), 0, atol=1e-5)
    np.testing.assert_allclose(data.normalization.mean, xs[0].mean(0), rtol=1e-6)
    assert data.class_counts()["train"].sum() == 200
    with pytest.raises(SpecError, match="labels must be in 0..1"):
        prepare_arrays(xs[0], ys[0], xs[1], ys[1], xs[2], ys[2], "none", ["a", "b"])
    with pytest.raises(SpecError, match="one D for all splits"):
        prepare_arrays(xs[0], ys[0], xs[1][:, :1], ys[1], xs[2], ys[2], "none", list("abc"))


def test_pixel_histogram_samples_rows_and_handles_constant_data():
    x = np.random.default_rng(7).integers(0, 256, (25_000, 784)).astype(np.uint8)
    counts, edges = pixel_histogram(x, bins=32)
    assert counts.shape == (32,) and edges.shape == (33,)
    assert counts.sum() == 10_000 * 784 and edges[0] == 0 and edges[-1] == 255
    t_counts, _ = pixel_histogram(torch.from_numpy(x[:100]).float() / 255, bins=32)
    assert t_counts.sum() == 100 * 784
    c_counts, c_edges = pixel_histogram(np.zeros((5, 3)))
    assert c_counts.sum() == 15 and c_edges[0] < 0 < c_edges[-1]


# ---------------------------------------------------------------- full MNIST


@pytest.mark.mnist
def test_full_mnist_official_split(mnist_dir):
    mnist = load_folder(mnist_dir)
    data = prepare_mnist(mnist, DataConfig(normalization="per_pixel"))
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (54000, 6000, 10000)
    assert data.x_train.shape == (54000, 784) and data.x_train.is_contiguous()
    assert data.x_train.dtype == torch.float32 and data.raw_test.shape == (10000, 28, 28)
    assert_disjoint(data.indices)
