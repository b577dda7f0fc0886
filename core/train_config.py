"""Training settings: one dataclass, checked before any work, saved in sessions as a dict."""

import math
from dataclasses import asdict, dataclass, fields

from mlp_studio.core.errors import SpecError
from mlp_studio.core.losses import canonical_loss
from mlp_studio.core.setting_ranges import range_problem

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine")
DEVICES = ("auto", "cpu", "cuda", "mps")
BEST_BY = ("accuracy", "loss")  # what picks the best epoch (core.best_epoch)
# A run stops when its (smoothed) loss climbs this many times above its lowest: 1000x means
# an explosion, far beyond the noise of mini-batches or a schedule's restart.
DIVERGENCE_FACTOR = 1000.0
TEST_SELECTION_PROBLEM = (
    "The validation data is the test set here: keeping the best epoch would choose it by its "
    "test results. Keep the last epoch (as Keras does), or carve the validation data from the "
    "training set.")


@dataclass
class TrainConfig:
    loss: str = "sparse_categorical_cross_entropy"
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9  # momentum and nesterov only
    rho: float = 0.99  # RMSprop's decay of its average of squared gradients (torch's alpha)
    epsilon: float = 1e-8  # RMSprop's and Adam's guard against dividing by zero
    # RMSprop divides by sqrt(average + epsilon) as Keras does, not sqrt(average) + epsilon as
    # torch does: with Keras' 1e-7 that floors the divisor at ~3e-4 (the Keras preset).
    epsilon_in_sqrt: bool = False
    weight_decay: float = 0.0  # L2 through the optimizer
    l1: float = 0.0  # L1 penalty added to the loss
    schedule: str = "constant"
    step_epochs: int = 1  # step schedule: multiply lr by gamma every step_epochs
    gamma: float = 0.5
    batch_size: int = 128
    epochs: int = 5
    seed: int = 0
    device: str = "cpu"
    stats_every: int = 50  # batches between gradient/weight/dead-unit statistics
    restore_best: bool = True  # end with the weights of the best epoch, not the last
    # The best epoch: highest validation accuracy (ties by loss) or lowest validation loss;
    # regression always goes by loss. See core.best_epoch.
    best_by: str = "accuracy"
    # Stop when the loss rises this many times above its lowest in the run (0: never; NaN or
    # infinite losses, gradients or weights always stop it). See core.divergence.
    divergence_factor: float = DIVERGENCE_FACTOR

    def problems(self) -> list[str]:
        out = []
        try:
            canonical_loss(self.loss)
        except SpecError as err:
            out.append(str(err))
        if self.optimizer not in OPTIMIZERS:
            out.append(f"Unknown optimizer '{self.optimizer}'. Choose one of: "
                       f"{', '.join(OPTIMIZERS)}.")
        if self.schedule not in SCHEDULES:
            out.append(f"Unknown schedule '{self.schedule}'. Choose one of: "
                       f"{', '.join(SCHEDULES)}.")
        if self.best_by not in BEST_BY:
            out.append(f"Unknown best-epoch criterion '{self.best_by}'. Choose one of: "
                       f"{', '.join(BEST_BY)}.")
        if self.device not in DEVICES:
            out.append(f"Unknown device '{self.device}'. Choose one of: {', '.join(DEVICES)}.")
        for name in ("lr", "momentum", "rho", "epsilon", "weight_decay", "l1", "gamma",
                     "batch_size", "epochs", "step_epochs", "stats_every", "seed"):
            problem = range_problem(name, getattr(self, name))  # one table with the form
            if problem:
                out.append(problem)
        for name in ("restore_best", "epsilon_in_sqrt"):
            if not isinstance(getattr(self, name), bool):
                out.append(f"Setting {name} must be true or false, got {getattr(self, name)!r}.")
        if self.optimizer == "nesterov" and self.momentum == 0:
            out.append("Nesterov needs a momentum above 0 (typical: 0.9); with momentum 0 use "
                       "the optimizer sgd.")
        factor = self.divergence_factor
        if (isinstance(factor, bool) or not isinstance(factor, int | float)
                or not (factor == 0 or (math.isfinite(factor) and factor >= 2))):
            out.append(f"Divergence factor {factor} must be 0 (never stop for a rising loss) "
                       f"or a number of at least 2 (default {DIVERGENCE_FACTOR:g}).")
        return out

    def validate(self) -> None:
        problems = self.problems()
        if problems:
            raise SpecError(" ".join(problems))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise SpecError(f"Unknown training setting(s): {', '.join(sorted(unknown))}.")
        config = cls(**data)
        config.validate()
        return config
