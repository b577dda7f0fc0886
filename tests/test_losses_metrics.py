import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mlp_studio.core.errors import SpecError
from mlp_studio.core.losses import LOSSES, canonical_loss, loss_function, probabilities
from mlp_studio.core.metrics import confusion_matrix, metrics_from_probabilities, per_class_scores


def test_every_lecture_loss_is_offered():
    assert set(LOSSES) == {
        "mse", "msle", "mae", "binary_cross_entropy", "hinge", "squared_hinge",
        "categorical_cross_entropy", "sparse_categorical_cross_entropy", "kl_divergence",
    }


@pytest.mark.parametrize("alias,name", [("cross-entropy", "sparse_categorical_cross_entropy"),
                                        ("BCE", "binary_cross_entropy"), ("kl", "kl_divergence"),
                                        ("squared-hinge", "squared_hinge")])
def test_aliases(alias, name):
    assert canonical_loss(alias) == name


def test_unknown_loss_is_a_clear_error():
    with pytest.raises(SpecError, match="Unknown loss 'l7'.*Choose one of"):
        canonical_loss("l7")


def test_losses_match_their_textbook_definitions():
    torch.manual_seed(0)
    out = torch.randn(6, 4)
    y = torch.tensor([0, 1, 2, 3, 1, 0])
    onehot = F.one_hot(y, 4).float()
    p = out.softmax(1)
    pm = 2 * onehot - 1
    expected = {
        "mse": ((p - onehot) ** 2).mean(),
        "msle": ((torch.log(1 + p) - torch.log(1 + onehot)) ** 2).mean(),
        "mae": (p - onehot).abs().mean(),
        "binary_cross_entropy": -(onehot * out.sigmoid().log()
                                  + (1 - onehot) * (1 - out.sigmoid()).log()).mean(),
        "hinge": torch.clamp(1 - pm * out, min=0).mean(),
        "squared_hinge": (torch.clamp(1 - pm * out, min=0) ** 2).mean(),
        "categorical_cross_entropy": -(onehot * p.log()).sum(1).mean(),
        "sparse_categorical_cross_entropy": -p[torch.arange(6), y].log().mean(),
        "kl_divergence": (onehot.clamp(1e-7, 1) * (onehot.clamp(1e-7, 1).log() - p.log()))
        .sum(1).mean(),
    }
    for name, value in expected.items():
        got = loss_function(name, 4)(out, y)
        assert torch.allclose(got, value, atol=1e-5), name


@pytest.mark.parametrize("name", list(LOSSES))
def test_class_weights_weight_each_sample(name):
    out = torch.randn(5, 3)
    y = torch.tensor([0, 0, 1, 2, 2])
    equal = loss_function(name, 3, torch.ones(3))(out, y)
    assert torch.allclose(equal, loss_function(name, 3)(out, y), atol=1e-6)
    only_class_1 = loss_function(name, 3, torch.tensor([0.0, 1.0, 0.0]))(out, y)
    assert torch.allclose(only_class_1, loss_function(name, 3)(out[2:3], y[2:3]), atol=1e-6)


@pytest.mark.parametrize("name", list(LOSSES))
def test_probabilities_sum_to_one_and_keep_the_argmax(name):
    out = torch.randn(7, 10)
    p = probabilities(name, out)
    assert torch.allclose(p.sum(1), torch.ones(7), atol=1e-5)
    assert torch.equal(p.argmax(1), out.argmax(1))


def test_confusion_matrix_rows_are_true_classes():
    m = confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 1]), 3)
    assert m.tolist() == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]


def test_per_class_scores_and_undefined_cases():
    conf = np.array([[5, 0, 0], [2, 3, 0], [0, 0, 0]])
    precision, recall, f1 = per_class_scores(conf)
    assert precision.tolist() == pytest.approx([5 / 7, 1.0, 0.0])
    assert recall.tolist() == pytest.approx([1.0, 3 / 5, 0.0])
    assert f1[0] == pytest.approx(2 * (5 / 7) / (5 / 7 + 1))


def test_metrics_from_probabilities_sorts_mistakes_by_confidence():
    probs = np.array([
        [0.9, 0.1],  # true 0, right
        [0.6, 0.4],  # true 1, wrong (0.6)
        [0.95, 0.05],  # true 1, wrong (0.95)
        [0.2, 0.8],  # true 0, wrong (0.8)
    ])
    m = metrics_from_probabilities(probs, np.array([0, 1, 1, 0]), 0.5, 2)
    assert m.accuracy == 0.25
    assert m.misclassified.tolist() == [2, 3, 1]
    assert m.mistakes(1, 0).tolist() == [2, 1]
    assert m.mistakes(0, 1).tolist() == [3]
    assert m.support.tolist() == [2, 2]
    d = m.to_dict(["a", "b"])
    assert d["confusion_matrix"] == [[1, 1], [2, 0]]
    assert d["per_class"]["a"]["support"] == 2
    assert m.macro["recall"] == pytest.approx(0.25)
