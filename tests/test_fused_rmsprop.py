import copy

import pytest
import torch
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.optimizers import FusedRMSprop, make_optimizer
from mlp_studio.core.train_config import TrainConfig


@pytest.mark.parametrize("weight_decay", [0.0, 1e-2])
def test_fused_rmsprop_steps_as_torchs_rmsprop(weight_decay):
    torch.manual_seed(0)
    ours = [torch.randn(20, 7), torch.randn(7)]
    theirs = [p.clone() for p in ours]
    fused = FusedRMSprop(ours, lr=1e-2, weight_decay=weight_decay)
    plain = torch.optim.RMSprop(theirs, lr=1e-2, weight_decay=weight_decay)
    for _ in range(200):
        for a, b in zip(ours, theirs, strict=True):
            a.grad = torch.randn_like(a)
            b.grad = a.grad.clone()
        fused.step()
        plain.step()
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(fused.state[a]["square_avg"], plain.state[b]["square_avg"])
        assert float(fused.state[a]["step"]) == 200


def test_fused_rmsprop_continues_from_torchs_state():
    torch.manual_seed(1)
    theirs = [torch.randn(5, 3)]
    plain = torch.optim.RMSprop(theirs, lr=1e-2)
    for _ in range(3):
        theirs[0].grad = torch.randn(5, 3)
        plain.step()
    ours = [theirs[0].clone()]
    fused = make_optimizer(ours, TrainConfig(optimizer="rmsprop", lr=1e-2))
    assert isinstance(fused, FusedRMSprop)
    fused.load_state_dict(copy.deepcopy(plain.state_dict()))  # torch shares its tensors
    grad = torch.randn(5, 3)
    theirs[0].grad, ours[0].grad = grad, grad.clone()
    plain.step()
    fused.step()
    torch.testing.assert_close(ours[0], theirs[0])


def test_fused_rmsprop_trains_a_network_as_torchs_rmsprop():
    """On a real network's gradients (dead units give exact zeros), step after step."""
    spec = NetworkSpec(30, [LayerSpec(40), LayerSpec(20)], 5)
    ours, theirs = build_model(spec), build_model(spec)
    fused = FusedRMSprop(list(ours.parameters()), lr=1e-3, weight_decay=1e-3)
    plain = torch.optim.RMSprop(list(theirs.parameters()), lr=1e-3, weight_decay=1e-3)
    torch.manual_seed(2)
    for _ in range(30):
        x, y = torch.randn(64, 30), torch.randint(0, 5, (64,))
        for model, optimizer in ((ours, fused), (theirs, plain)):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert bool(torch.isfinite(a).all())
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
