"""Settings suggested for each data source: offered to the user, never forced over theirs.

MNIST's are the engine's defaults (784-128-10 ReLU, Adam 1e-3, batches of 128, 5 epochs:
about 97% test accuracy in a few seconds an epoch); the Playground's are TensorFlow
Playground's (two hidden layers of 8 tanh neurons, Adam 0.03, batches of 10, 200 epochs).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from mlp_studio.core.activations import ActivationSpec
from mlp_studio.core.model import LayerSpec, NetworkSpec
from mlp_studio.core.train_config import TrainConfig


@dataclass(frozen=True)
class Suggestion:
    hidden: tuple[tuple[int, str], ...]  # (units, activation) per hidden layer
    init: str
    training: tuple[tuple[str, object], ...]  # TrainConfig fields and their values
    text: str  # what it is, in words

    def spec(self, current: NetworkSpec) -> NetworkSpec:
        """`current` with the suggested hidden layers (input and output sizes kept)."""
        spec = copy.deepcopy(current)
        spec.hidden = [LayerSpec(n, ActivationSpec(a)) for n, a in self.hidden]
        spec.init = self.init
        return spec

    def train_config(self, current: TrainConfig) -> TrainConfig:
        """`current` with the suggested optimizer, rate, batch size and epochs (loss kept)."""
        config = copy.deepcopy(current)
        for key, value in self.training:
            setattr(config, key, value)
        return config

    def followed_by(self, spec: NetworkSpec, config: TrainConfig) -> bool:
        """Whether the settings already are the suggested ones."""
        return self.spec(spec) == spec and self.train_config(config) == config


_DEFAULT_SPEC, _DEFAULT_TRAINING = NetworkSpec(), TrainConfig()

SUGGESTIONS = {
    "mnist": Suggestion(
        hidden=tuple((h.units, h.activation.name) for h in _DEFAULT_SPEC.hidden),
        init=_DEFAULT_SPEC.init,
        training=tuple((k, getattr(_DEFAULT_TRAINING, k)) for k in
                       ("optimizer", "lr", "batch_size", "epochs", "restore_best")),
        text="one hidden layer of 128 ReLU neurons, Adam with learning rate 0.001, batches "
             "of 128, 5 epochs",
    ),
    "playground": Suggestion(
        hidden=((8, "tanh"), (8, "tanh")),
        init="xavier",
        # The test split doubles as validation there, and the views show the weights as they
        # train: end with them too, not with an earlier epoch picked by its test loss.
        training=(("optimizer", "adam"), ("lr", 0.03), ("batch_size", 10), ("epochs", 200),
                  ("restore_best", False)),
        text="two hidden layers of 8 tanh neurons, Adam with learning rate 0.03, batches of "
             "10, 200 epochs ending with the last weights",
    ),
}
