import numpy as np
import pytest
import torch
from mlp_studio.core.activations import ActivationSpec
from mlp_studio.core.data import prepare_arrays
from mlp_studio.core.errors import SpecError
from mlp_studio.core.lr_finder import (
    RULE,
    RangeTest,
    find_lr,
    lowest_point,
    steepest_point,
)
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.train_config import TrainConfig
from mlp_studio.core.training import Trainer


def _blobs(n=600, seed=0, spread=0.7):
    """Three 2-D clusters (separable at the default spread): a rate in the useful range learns
    them."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = np.array([[0, 3], [3, -2], [-3, -2]], np.float32)
    x = (centers[y] + rng.normal(0, spread, (n, 2))).astype(np.float32)
    half = n // 2
    return prepare_arrays(x[:half], y[:half], x[half:], y[half:], x[half:], y[half:],
                          "standardize", ["a", "b", "c"])


def _spec(**layer):
    return NetworkSpec(input_size=2, hidden=[LayerSpec(16, **layer), LayerSpec(8)],
                       output_size=3, seed=3)


def test_weights_buffers_mode_and_optimizer_state_are_exactly_as_before():
    data = _blobs()
    config = TrainConfig(optimizer="adam", epochs=1, batch_size=32, lr=0.01)
    # Batch norm (running statistics are buffers) and dropout (draws random numbers).
    model = build_model(_spec(batch_norm=True, dropout=0.3))
    trainer = Trainer(model, data, config)
    trainer.run()
    state = trainer.optimizer_state
    assert state is not None and state.state_dict["state"]  # Adam's moments exist
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt_before = _flat(state.state_dict)
    rng_before = torch.get_rng_state()

    finding = find_lr(model, data, config, RangeTest(end_lr=1e3), optimizer_state=state)

    assert len(finding.lrs) > 10  # it trained, so the weights really moved in between
    after = model.state_dict()
    assert before.keys() == after.keys()
    for key in before:
        assert torch.equal(before[key], after[key]), key
    opt_after = _flat(state.state_dict)
    assert opt_before.keys() == opt_after.keys()
    for key in opt_before:
        a, b = opt_before[key], opt_after[key]
        assert torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b, key
    assert not model.training
    assert torch.equal(torch.get_rng_state(), rng_before)


def _flat(state: dict) -> dict:
    out = {}
    for index, values in state["state"].items():
        for name, value in values.items():
            out[(index, name)] = value.clone() if isinstance(value, torch.Tensor) else value
    for number, group in enumerate(state["param_groups"]):
        for name, value in group.items():
            out[("group", number, name)] = list(value) if name == "params" else value
    return out


def test_rates_grow_exponentially_and_the_loss_is_a_bias_corrected_average():
    data = _blobs()
    test = RangeTest(start_lr=1e-5, end_lr=1e-1, steps=40, smoothing=0.8)
    finding = find_lr(build_model(_spec()), data, TrainConfig(optimizer="sgd", batch_size=16),
                      test)
    assert len(finding.lrs) == 40 and not finding.diverged
    assert finding.lrs[0] == pytest.approx(1e-5) and finding.lrs[-1] == pytest.approx(1e-1)
    ratios = np.diff(np.log(finding.lrs))
    assert np.allclose(ratios, ratios[0])
    avg, expected = 0.0, []
    for t, value in enumerate(finding.raw_losses, start=1):
        avg = 0.8 * avg + 0.2 * value
        expected.append(avg / (1 - 0.8**t))
    assert np.allclose(finding.losses, expected)
    assert finding.losses[0] == pytest.approx(finding.raw_losses[0])  # no pull towards 0


def test_stops_when_the_smoothed_loss_passes_four_times_its_lowest():
    data = _blobs(spread=3.0)  # overlapping: the loss cannot reach 0, so big steps cost
    test = RangeTest(start_lr=1e-4, end_lr=1e6, steps=200)
    finding = find_lr(build_model(_spec()), data, TrainConfig(optimizer="sgd", momentum=0.0),
                      test)
    assert finding.diverged and len(finding.lrs) < 200
    assert finding.losses[-1] > 4 * min(finding.losses[:-1])  # the point that stopped it
    assert all(v <= 4 * min(finding.losses[:i + 1]) for i, v in enumerate(finding.losses[:-1]))
    assert "blew up" in finding.note


def test_suggests_the_steepest_descent_before_the_lowest_smoothed_loss():
    finding = find_lr(build_model(_spec()), _blobs(), TrainConfig(optimizer="sgd",
                                                                   batch_size=16))
    losses, low, pick = finding.losses, finding.lowest_index, finding.suggested_index
    assert low == int(np.argmin(losses)) and pick is not None and pick < low
    assert finding.suggested_lr == finding.lrs[pick]
    skip = RangeTest().settled  # the first batches' average is mostly their noise
    assert skip == 10 and pick >= skip
    drops = np.diff(losses[skip:low + 1])  # the rates are evenly spaced in log
    assert drops[pick - skip] == drops.min() < 0
    assert RULE in finding.note and finding.to_dict()["rule"] == RULE
    # The suggestion trains: 3 epochs at it beat the untrained network by far.
    config = TrainConfig(optimizer="sgd", batch_size=16, lr=finding.suggested_lr, epochs=3)
    result = Trainer(build_model(_spec()), _blobs(), config).run()
    assert result.test.accuracy > 0.9


def _range_test_curve(fall_at: int, fall_width: float, low_at: int, steps: int = 100):
    """A smoothed range-test curve over 1e-7..10: flat at 2.3 (rates too small to learn), a
    fall to 0.3 centred on `fall_at`, a slow decline to the lowest point `low_at`, then a
    blow-up."""
    lrs = RangeTest(steps=steps).rate
    i = np.arange(steps, dtype=float)
    loss = 0.3 + 2.0 / (1 + np.exp((i - fall_at) / fall_width))
    loss -= 0.002 * np.clip(i - fall_at, 0, None)  # the slow decline after the fall
    loss[low_at + 1:] = loss[low_at] * 1.3 ** np.arange(1, steps - low_at)
    return [lrs(k) for k in range(steps)], loss.tolist()


def test_a_fall_just_before_the_blow_up_is_suggested_not_the_flat_part_below_it():
    # The loss falls sharply only at the end: a tenth of the rate at the lowest point (the old
    # rule) lies a decade below, where the loss had not moved, so that rate would not learn.
    lrs, losses = _range_test_curve(fall_at=80, fall_width=1.0, low_at=84)
    pick = steepest_point(lrs, losses)
    assert losses[pick] - losses[pick + 1] > 0.4  # on the fall itself
    old = lrs[int(np.argmin(losses))] / 10
    flat = [lr for lr, v in zip(lrs[:pick], losses[:pick], strict=True) if v > 2.29]
    assert old <= max(flat) < lrs[pick]  # the old rule's rate is on the flat part


def test_a_gentle_fall_is_suggested_where_it_is_steepest():
    lrs, losses = _range_test_curve(fall_at=55, fall_width=3.0, low_at=75)
    assert steepest_point(lrs, losses) in (54, 55)  # the sigmoid's steepest step


def test_a_drop_back_after_a_spike_past_the_lowest_point_is_not_suggested():
    lrs, losses = _range_test_curve(fall_at=55, fall_width=3.0, low_at=75)
    # A spike (under the 4x that stops the test) and a steep drop back, past the lowest point:
    # steeper than the fall, so the steepest step of the whole curve would be this one.
    losses[78], losses[79] = 0.9, losses[75] + 0.05
    assert int(np.argmin(np.diff(losses))) == 78
    assert steepest_point(lrs, losses) in (54, 55)


def test_slopes_are_per_decade_of_rate_when_the_rates_are_unevenly_spaced():
    # 0.8 lost over a decade is gentler than 0.5 lost over a tenth of one.
    lrs = [1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1.26e-3, 1e-2, 1e-1, 1.0, 10.0]
    losses = [2.3, 2.3, 2.3, 2.3, 1.5, 1.0, 0.9, 0.85, 0.8, 5.0]
    assert steepest_point(lrs, losses, skip=1) == 4


def test_no_suggestion_when_the_lowest_point_is_among_the_first():
    lrs, losses = _range_test_curve(fall_at=2, fall_width=0.5, low_at=3)
    assert lowest_point(losses) is None and steepest_point(lrs, losses) is None


def test_a_loss_that_only_rises_gets_no_suggestion():
    # Starting far above a stable rate: the loss rises from the first batch.
    test = RangeTest(start_lr=1e3, end_lr=1e6, steps=30)
    finding = find_lr(build_model(_spec(activation=ActivationSpec("sigmoid"))), _blobs(),
                      TrainConfig(optimizer="sgd", momentum=0.0), test)
    assert finding.suggested_lr is None
    assert "No rate suggested" in finding.note and "lower start rate" in finding.note


def test_cancel_stops_and_restores():
    model = build_model(_spec())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    seen = []
    finding = find_lr(model, _blobs(), TrainConfig(), on_step=lambda *a: seen.append(a),
                      should_stop=lambda: len(seen) >= 7)
    assert finding.cancelled and len(finding.lrs) == 7
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


@pytest.mark.parametrize("test,text", [
    (RangeTest(start_lr=1.0, end_lr=1e-3), "must be below the end rate"),
    (RangeTest(start_lr=0.0), "must be positive"),
    (RangeTest(steps=3), "use 10 to"),
    (RangeTest(smoothing=1.0), "smoothing"),
    (RangeTest(diverge_factor=1.0), "divergence factor"),
])
def test_impossible_ranges_are_refused_with_what_to_do(test, text):
    with pytest.raises(SpecError, match=text):
        find_lr(build_model(_spec()), _blobs(), TrainConfig(), test)
