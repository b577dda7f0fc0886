"""Paired runs (core.paired, core.run_settings, core.seed_summary): same start, same order,
one change, and the seed-noise rule."""

import math

import numpy as np
import pytest
import torch
from mlp_studio.core.activations import ActivationSpec
from mlp_studio.core.data import DataConfig, prepare_arrays
from mlp_studio.core.errors import SpecError
from mlp_studio.core.model import LayerSpec, NetworkSpec
from mlp_studio.core.paired import (
    first_epoch_order,
    initial_models,
    parse_change,
    plan_pair,
    repeat_pair,
    run_pair,
    summarize,
    weights_hash,
)
from mlp_studio.core.run_settings import SETTINGS, RunSettings, setting
from mlp_studio.core.seed_summary import SeedSummary
from mlp_studio.core.training import TrainConfig, Trainer


def blob_data(n=300, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (classes, d))
    y = rng.integers(0, classes, n)
    x = (centers[y] + rng.normal(0, 1, (n, d))).astype(np.float32)
    a, b = int(n * 0.7), int(n * 0.85)
    return prepare_arrays(x[:a], y[:a], x[a:b], y[a:b], x[b:], y[b:], "standardize",
                          [str(c) for c in range(classes)])


def base(hidden=(16, 16), activation="relu", **train) -> RunSettings:
    spec = NetworkSpec(6, [LayerSpec(h, ActivationSpec(activation)) for h in hidden], 3, "he", 3)
    config = TrainConfig(**{"epochs": 2, "batch_size": 32, "seed": 3, "stats_every": 2, **train})
    return RunSettings(spec, config)


def recording(model):
    """The inputs of every training batch the model sees (a hook on its first layer)."""
    seen = []
    model.net[0].register_forward_pre_hook(
        lambda module, args: seen.append(args[0].detach().clone()) if module.training else None)
    return seen


@pytest.mark.parametrize("change", ["activation=sigmoid", "optimizer=sgd", "lr=0.01",
                                    "dropout=0.3", "loss=mse", "weight-decay=0.001",
                                    "epochs=3", "leaky-slope=0.2"])
def test_paired_runs_start_from_identical_weights_and_see_identical_batches(change):
    plan = plan_pair(base(), *parse_change(change))
    a, b = initial_models(plan)
    for la, lb in zip(a.linears, b.linears, strict=True):
        assert torch.equal(la.weight, lb.weight) and torch.equal(la.bias, lb.bias)
    assert weights_hash(a) == weights_hash(b)
    data = blob_data()
    seen_a, seen_b = recording(a), recording(b)
    Trainer(a, data, plan.base.train).run()
    Trainer(b, data, plan.changed.train).run()
    batches = math.ceil(len(data.x_train) / 32)
    # The first two epochs (B may train longer): the same samples in the same batches.
    for xa, xb in zip(seen_a[:2 * batches], seen_b[:2 * batches], strict=True):
        assert torch.equal(xa, xb)
    # ... and the order the fingerprint hashes is the one the trainer really used.
    first = torch.cat(seen_a[:batches])
    assert torch.equal(first, data.x_train[first_epoch_order(plan.seed, len(data.x_train))])


def test_run_pair_fingerprints_match_and_results_differ():
    result = run_pair(plan_pair(base(), "activation", "sigmoid"), lambda s: blob_data())
    assert result.same_start and result.same_order
    assert result.a.fingerprint == result.b.fingerprint
    assert len(result.a.fingerprint.weights) == 12
    assert result.a.history.epochs[-1].val_loss != result.b.history.epochs[-1].val_loss
    assert result.f1_difference().shape == (3,)
    grads_a, grads_b = result.a.grad_norms(), result.b.grad_norms()
    assert grads_a.shape == grads_b.shape == (3,) and not np.allclose(grads_a, grads_b)
    assert result.plan.label_a == "A: activation=relu"
    assert result.plan.label_b == "B: activation=sigmoid"
    assert result.plan.notes() == []


def test_a_shape_change_keeps_the_seed_and_says_the_weights_differ():
    plan = plan_pair(base(), "hidden", "32,16")
    a, b = initial_models(plan)
    assert weights_hash(a) != weights_hash(b)
    assert plan.changed.spec.seed == plan.base.spec.seed
    assert "cannot be identical" in plan.notes()[0]
    # Deeper: the added layer copies the base's last layer (activation and all).
    deeper = plan_pair(base(activation="tanh"), "hidden", "16,16,16").changed.spec
    assert [layer.activation.name for layer in deeper.hidden] == ["tanh"] * 3
    init = plan_pair(base(), "init", "xavier")
    assert not init.same_weights and "by design" in init.notes()[0]


def test_batch_norm_pairs_keep_the_linear_weights():
    plan = plan_pair(base(), "batch-norm", "on")
    a, b = initial_models(plan)
    assert weights_hash(a) == weights_hash(b)
    assert all(layer.batch_norm for layer in plan.changed.spec.hidden)


@pytest.mark.parametrize("name, value, words", [
    ("colour", "red", "Unknown setting 'colour': choose one of hidden, activation"),
    ("activation", "relu", "activation is already relu in the base run"),
    ("lr", "0.001", "lr is already 0.001 in the base run"),
    ("lr", "fast", "lr=fast: argument --lr: invalid float value: 'fast'"),
    ("optimizer", "adamax", "invalid choice: 'adamax'"),
    ("lr", "-1", "Learning rate"),
    ("seed", "4", "repeat the comparison over several seeds"),
    ("hidden", "16,0", "Hidden layer 2 has 0 neurons"),
    ("activation", "relu,tanh,relu", "3 values for 2 hidden layers"),
    ("batch-norm", "maybe", "write batch-norm=on or batch-norm=off"),
    ("normalization", "none", "data setting"),
])
def test_bad_changes_say_what_is_wrong(name, value, words):
    with pytest.raises(SpecError, match=None) as err:
        plan_pair(base(), name, value)
    assert words in str(err.value)


def test_parse_change_needs_name_equals_value():
    assert parse_change(" lr = 0.1 ") == ("lr", "0.1")
    with pytest.raises(SpecError, match="is not NAME=VALUE"):
        parse_change("lr")


def test_data_settings_change_the_data_config():
    settings = RunSettings(base().spec, base().train, DataConfig())
    plan = plan_pair(settings, "remedy", "class_weights")
    assert plan.changed.data.balance.remedy == "class_weights"
    assert plan.base.data.balance.remedy == "none"
    assert plan_pair(settings, "normalization", "none").new == "none"


def test_every_setting_reads_and_names_itself():
    settings = RunSettings(base().spec, base().train, DataConfig())
    for name, item in SETTINGS.items():
        assert item.show(settings) != ""
        assert setting(f"--{name}") is item
    assert setting("batch_size").name == "batch-size"


def test_with_seed_moves_both_seeds_of_both_runs():
    plan = plan_pair(base(), "lr", "0.01").with_seed(2)
    assert (plan.base.spec.seed, plan.base.train.seed) == (5, 5)
    assert (plan.changed.spec.seed, plan.changed.train.seed) == (5, 5)


def test_seed_summary_rule():
    clear = SeedSummary("accuracy", (0, 1, 2), (0.90, 0.91, 0.92), (0.95, 0.955, 0.965))
    assert clear.beyond_noise is True
    assert "larger than seed noise" in clear.verdict()
    noisy = SeedSummary("accuracy", (0, 1, 2), (0.90, 0.95, 0.92), (0.93, 0.92, 0.925))
    # differences +0.03, -0.03, +0.005: mean 0.0017, std 0.030, 2 x SE 0.035
    assert noisy.beyond_noise is False and "within seed noise" in noisy.verdict()
    assert SeedSummary("accuracy", (0,), (0.9,), (0.95,)).beyond_noise is None
    assert SeedSummary("loss", (0, 1), (0.3, math.nan), (0.2, 0.1)).beyond_noise is None
    d = clear.to_dict()
    assert d["beyond_noise"] is True and d["mean_difference"] == pytest.approx(0.04667, abs=1e-4)
    assert clear.verdict() == (
        "B - A = +4.67 pp ± 0.29 pp (mean ± std over 3 seeds): larger than seed noise "
        "(|mean| > 2 × std / √3 = 0.33 pp).")
    assert d["rule"] == "|mean difference| > 2 * std(difference) / sqrt(n)"


def test_repeat_pair_moves_the_seed_and_summarizes():
    seen = []
    results = repeat_pair(plan_pair(base(epochs=1), "activation", "sigmoid"), 3,
                          lambda s: blob_data(), on_pair=lambda i, r: seen.append(i))
    assert seen == [0, 1, 2]
    assert [r.plan.seed for r in results] == [3, 4, 5]
    assert all(r.same_start and r.same_order for r in results)
    assert len({r.a.fingerprint.weights for r in results}) == 3  # each seed its own weights
    summary = summarize(results)
    assert summary.seeds == (3, 4, 5) and summary.n == 3
    assert summary.a == tuple(r.a.test.accuracy for r in results)
    assert summary.beyond_noise in (True, False)


def test_notes_say_why_the_order_cannot_match():
    settings = RunSettings(base().spec, base().train, DataConfig())
    assert "change the training set itself" in plan_pair(settings, "remedy",
                                                         "oversample").notes()[0]
    batch = plan_pair(base(), "batch-size", "64")
    assert "cut it into batches of different sizes" in batch.notes()[0]
    a, b = initial_models(batch)
    assert weights_hash(a) == weights_hash(b)
