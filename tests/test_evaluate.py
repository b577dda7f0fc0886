"""Evaluating model files on the MNIST test split (core.evaluation)."""

import numpy as np
import pytest
from idx_fixtures import write_mnist_folder
from mlp_studio.core.data import DataConfig, Normalization, prepare_mnist
from mlp_studio.core.errors import SpecError
from mlp_studio.core.evaluation import evaluate_bundle, evaluation_report
from mlp_studio.core.export import ModelBundle
from mlp_studio.core.mnist import load_folder
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.training import TrainConfig, Trainer

DIGITS = [str(d) for d in range(10)]


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    return load_folder(write_mnist_folder(tmp_path_factory.mktemp("mnist"), 600, 120))


@pytest.fixture(scope="module")
def trained(mnist):
    data = prepare_mnist(mnist, DataConfig(normalization="per_pixel"))
    model = build_model(NetworkSpec(784, [LayerSpec(24)], 10))
    finished = Trainer(model, data, TrainConfig(epochs=2, lr=0.01, batch_size=32)).run()
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    bundle = ModelBundle(model.spec, data.normalization, "cross-entropy", DIGITS, state)
    return bundle, finished


def test_evaluation_equals_the_trainers_test_metrics(mnist, trained):
    bundle, finished = trained
    metrics, names = evaluate_bundle(bundle, mnist)
    assert names == DIGITS
    assert metrics.accuracy == pytest.approx(finished.test.accuracy, abs=1e-9)
    assert metrics.loss == pytest.approx(finished.test.loss, rel=1e-5)
    np.testing.assert_array_equal(metrics.confusion, finished.test.confusion)
    report = evaluation_report(metrics, names, "m.keras", bundle)
    assert report["confusion_matrix"] == finished.test.confusion.tolist()
    assert report["epochs"] == [] and report["network"] == "784-24(relu)-10"


def test_a_binary_model_is_evaluated_on_its_digit(mnist):
    spec = NetworkSpec(784, [LayerSpec(8)], 2)
    bundle = ModelBundle(spec, Normalization("unit", np.zeros(784), np.full(784, 255.0)),
                         "cross-entropy", ["not 3", "3"], build_model(spec).state_dict())
    metrics, names = evaluate_bundle(bundle, mnist)
    assert names == ["not 3", "3"] and metrics.confusion.sum() == 120


@pytest.mark.parametrize(("inputs", "outputs", "names", "match"), [
    (2, 2, ["a", "b"], "takes 2 input features"),
    (784, 3, ["x", "y", "z"], "has 3 outputs"),
])
def test_models_that_do_not_fit_mnist_are_refused(mnist, inputs, outputs, names, match):
    spec = NetworkSpec(inputs, [LayerSpec(4)], outputs)
    bundle = ModelBundle(spec, Normalization("none", np.zeros(inputs), np.ones(inputs)),
                         "cross-entropy", names, build_model(spec).state_dict())
    with pytest.raises(SpecError, match=match):
        evaluate_bundle(bundle, mnist)
