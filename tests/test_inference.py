import numpy as np
import pytest
import torch
from mlp_studio.core.activations import ActivationSpec
from mlp_studio.core.data import fit_normalization
from mlp_studio.core.errors import DataFormatError
from mlp_studio.core.inference import DigitPrediction, predict_digit
from mlp_studio.core.losses import LOSSES, probabilities
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model


def network(hidden=(32, 16), activation="relu", dropout=0.0, batch_norm=False, seed=0):
    layers = [LayerSpec(h, ActivationSpec(activation), dropout, batch_norm) for h in hidden]
    return build_model(NetworkSpec(784, layers, 10, "he", seed))


def raw_digit(seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.zeros((28, 28), np.float32)
    img[6:22, 10:18] = rng.uniform(0, 255, (16, 8))
    return img.reshape(784)


def normalization(kind="standardize"):
    rng = np.random.default_rng(1)
    return fit_normalization(kind, rng.integers(0, 256, (50, 784)).astype(np.uint8))


def test_matches_a_hand_written_forward_pass():
    model, norm, x = network(), normalization(), raw_digit()
    pred = predict_digit(model, norm, "sparse_categorical_cross_entropy", x)
    assert isinstance(pred, DigitPrediction)
    with torch.no_grad():
        h = torch.from_numpy((x - norm.mean) / norm.std).unsqueeze(0)
        hidden = []
        for linear in model.linears[:-1]:
            h = torch.relu(linear(h))
            hidden.append(h[0].numpy())
        expected = torch.softmax(model.linears[-1](h), 1)[0].numpy()
    np.testing.assert_allclose(pred.probabilities, expected, rtol=1e-5, atol=1e-6)
    assert pred.probabilities.dtype == np.float32 and pred.probabilities.shape == (10,)
    assert [a.shape for a in pred.activations] == [(32,), (16,)]
    for got, want in zip(pred.activations, hidden, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert pred.saliency is None
    assert pred.top == int(np.argmax(expected))


@pytest.mark.parametrize("loss", list(LOSSES))
def test_every_loss_gives_its_own_probabilities(loss):
    model, norm, x = network(), normalization("unit"), raw_digit(3)
    pred = predict_digit(model, norm, loss, x.reshape(28, 28))
    with torch.no_grad():
        outputs = model(norm.apply(torch.from_numpy(x).unsqueeze(0)))
    np.testing.assert_allclose(
        pred.probabilities, probabilities(loss, outputs)[0].numpy(), rtol=1e-5, atol=1e-7
    )
    assert pred.probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_dropout_is_off_and_the_training_mode_is_restored():
    model, norm, x = network(dropout=0.5), normalization(), raw_digit()
    model.train()
    first = predict_digit(model, norm, "cross_entropy", x)
    second = predict_digit(model, norm, "cross_entropy", x)
    np.testing.assert_array_equal(first.probabilities, second.probabilities)  # no dropout noise
    assert model.training
    model.eval()
    predict_digit(model, norm, "cross_entropy", x, saliency=True)
    assert not model.training


def test_batch_norm_uses_running_statistics_and_leaves_them_alone():
    model, norm, x = network(batch_norm=True), normalization(), raw_digit()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()  # one sample in training mode would fail in BatchNorm1d
    pred = predict_digit(model, norm, "cross_entropy", x, saliency=True)
    assert np.isfinite(pred.probabilities).all()
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)


def test_saliency_is_the_input_gradient_of_the_top_probability():
    model, norm, x = network(activation="tanh"), normalization(), raw_digit(5)
    pred = predict_digit(model, norm, "cross_entropy", x, saliency=True)
    assert pred.saliency is not None and pred.saliency.shape == (784,)
    assert pred.saliency.dtype == np.float32
    top = pred.top

    def p_top(pixels: np.ndarray) -> float:
        return float(predict_digit(model, norm, "cross_entropy", pixels).probabilities[top])

    # Central differences on the pixels with the largest gradients (float64 would be exact;
    # float32 and a step of 1 grey level agree to a few percent).
    for i in np.argsort(-np.abs(pred.saliency))[:5]:
        up, down = x.copy(), x.copy()
        up[i] += 1.0
        down[i] -= 1.0
        numeric = (p_top(up) - p_top(down)) / 2.0
        assert numeric == pytest.approx(float(pred.saliency[i]), rel=0.05, abs=1e-6)
    # The weights' gradients stay untouched.
    assert all(p.grad is None for p in model.parameters())


def test_saliency_probabilities_equal_the_plain_ones():
    model, norm, x = network(), normalization("per_pixel"), raw_digit(2)
    plain = predict_digit(model, norm, "kl_divergence", x)
    with_saliency = predict_digit(model, norm, "kl_divergence", x, saliency=True)
    np.testing.assert_allclose(plain.probabilities, with_saliency.probabilities, rtol=1e-6)


def test_blank_image_still_predicts():
    pred = predict_digit(network(), normalization(), "cross_entropy", np.zeros(784), True)
    assert np.isfinite(pred.probabilities).all() and np.isfinite(pred.saliency).all()


def test_wrong_sizes_are_reported():
    model, norm = network(), normalization()
    with pytest.raises(DataFormatError, match="784 inputs"):
        predict_digit(model, norm, "cross_entropy", np.zeros(100))
    small_norm = fit_normalization("unit", np.zeros((1, 100)))
    with pytest.raises(DataFormatError, match="normalization 100"):
        predict_digit(model, small_norm, "cross_entropy", np.zeros(784))


def test_maxout_layers_report_their_units():
    spec = NetworkSpec(784, [LayerSpec(12, ActivationSpec("maxout", pieces=3))], 10, "he", 0)
    pred = predict_digit(build_model(spec), normalization(), "cross_entropy", raw_digit())
    assert [a.shape for a in pred.activations] == [(12,)]
