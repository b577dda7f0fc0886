"""Optimizers and schedules from a TrainConfig, and where an optimizer left off
(OptimizerState): kept between runs and in sessions, checked before it is used again."""

import copy
import logging
import math
from dataclasses import dataclass

import torch
from mlp_studio.core.train_config import TrainConfig
from torch import Tensor

log = logging.getLogger(__name__)

# State entries that are running averages of squares (or sums of them) in torch's optimizers:
# never negative. A negative one makes Adam's sqrt NaN and the next run diverge.
SQUARES = frozenset({"exp_avg_sq", "max_exp_avg_sq", "square_avg", "acc_delta", "sum"})


def make_optimizer(params, config: TrainConfig) -> torch.optim.Optimizer:
    name, lr, wd = config.optimizer, config.lr, config.weight_decay
    if name in ("sgd", "momentum", "nesterov"):
        momentum = 0.0 if name == "sgd" else config.momentum
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=name == "nesterov",
                               weight_decay=wd, fused=True)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=wd, fused=True)
    if name == "adadelta":
        return torch.optim.Adadelta(params, lr=lr, weight_decay=wd, foreach=True)
    eps = config.epsilon
    if name == "rmsprop":
        cls = KerasRMSprop if config.epsilon_in_sqrt else FusedRMSprop
        return cls(params, lr=lr, alpha=config.rho, eps=eps, weight_decay=wd)
    cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
    return cls(params, lr=lr, eps=eps, weight_decay=wd, fused=True)


class _RMSpropSteps(torch.optim.RMSprop):
    """torch's RMSprop (no momentum, not centered) with its update done by `_update`; the
    same state (`step`, `square_avg`), so saved states load into any of them."""

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            for p in params:
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float32)
                    state["square_avg"] = torch.zeros_like(p)
                state["step"] += 1
            if params:
                self._update(group, params)
        return loss

    def _update(self, group: dict, params: list[Tensor]) -> None:
        raise NotImplementedError


class FusedRMSprop(_RMSpropSteps):
    """torch's RMSprop (no momentum, not centered), its step done by torch's fused Adam kernel:
    one pass over the weights instead of five. Same state (`step`, `square_avg`), so saved
    states load into either.

    Adam with beta1 = 0 and beta2 = alpha keeps RMSprop's average of squares; it divides that
    by its bias correction c = 1 - alpha**t, which RMSprop does not, so the step passes the
    learning rate and epsilon both divided by sqrt(c): lr/sqrt(c) * g / (sqrt(v)/sqrt(c) +
    eps/sqrt(c)) = lr * g / (sqrt(v) + eps), RMSprop's update exactly. Measured on
    784-512-512-10: the step takes about half the time of the foreach RMSprop
    (bench/bench_peers.py)."""

    def _update(self, group: dict, params: list[Tensor]) -> None:
        by_step: dict[float, list[Tensor]] = {}
        for p in params:
            by_step.setdefault(float(self.state[p]["step"]), []).append(p)
        alpha = group["alpha"]
        for t, same in by_step.items():
            root = math.sqrt(1 - alpha**t)
            torch._fused_adam_(
                # Adam's first moment with beta1 = 0 is the gradient itself: the gradients
                # serve as its buffers (they end up holding the gradient plus any weight
                # decay term, as Adam computes it), so no buffer's stale values can enter.
                same, [p.grad for p in same], [p.grad for p in same],
                [self.state[p]["square_avg"] for p in same], [],
                [self.state[p]["step"] for p in same],
                lr=group["lr"] / root, beta1=0.0, beta2=alpha,
                weight_decay=group["weight_decay"], eps=group["eps"] / root,
                amsgrad=False, maximize=False,
            )


class KerasRMSprop(_RMSpropSteps):
    """RMSprop as Keras computes it: w -= lr * g / sqrt(v + eps), where torch divides by
    sqrt(v) + eps. Four passes over the weights (the fused kernel above has no form for it)."""

    def _update(self, group: dict, params: list[Tensor]) -> None:
        grads = [p.grad for p in params]
        if group["weight_decay"]:
            grads = torch._foreach_add(grads, params, alpha=group["weight_decay"])
        squares = [self.state[p]["square_avg"] for p in params]
        alpha = group["alpha"]
        torch._foreach_mul_(squares, alpha)
        torch._foreach_addcmul_(squares, grads, grads, value=1 - alpha)
        roots = torch._foreach_add(squares, group["eps"])
        torch._foreach_sqrt_(roots)
        torch._foreach_addcdiv_(params, grads, roots, value=-group["lr"])


def make_schedule(optimizer, config: TrainConfig):
    if config.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, config.step_epochs, config.gamma)
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    return None


@dataclass(frozen=True)
class OptimizerState:
    """Where an optimizer left off (Adam's moment estimates, momentum buffers, step counts),
    so the next run of the same model continues instead of starting the optimizer afresh."""

    optimizer: str  # TrainConfig.optimizer it belongs to: another optimizer starts afresh
    state_dict: dict  # torch's Optimizer.state_dict(), tensors on the CPU


def state_problem(saved: OptimizerState, shapes: list[torch.Size]) -> str | None:
    """What makes `saved` unusable for parameters of `shapes` (in the model's order), or None:
    another network's state, non-finite values, negative averages of squares or step counts."""
    state = saved.state_dict.get("state")
    if not isinstance(state, dict):
        return "it has no per-parameter state"
    for index, values in state.items():
        if not isinstance(index, int) or not 0 <= index < len(shapes):
            return f"it names parameter {index!r}, the network has {len(shapes)}"
        if not isinstance(values, dict):
            return f"its state of parameter {index} is not a mapping"
        for name, value in values.items():
            if isinstance(value, Tensor):
                if value.dim() > 0 and value.shape != shapes[index]:
                    return (f"its {name} of parameter {index} has shape {tuple(value.shape)}, "
                            f"the parameter {tuple(shapes[index])}")
                if not value.is_floating_point() and not value.dtype == torch.int64:
                    return f"its {name} of parameter {index} is {value.dtype}"
                value = value.double()
                if not bool(torch.isfinite(value).all()):
                    return f"its {name} of parameter {index} holds NaN or infinite values"
                negative = bool((value < 0).any())
            elif isinstance(value, int | float) and not isinstance(value, bool):
                if not math.isfinite(value):
                    return f"its {name} of parameter {index} is {value}"
                negative = value < 0
            elif value is None:  # e.g. SGD's momentum_buffer before its first step
                continue
            else:
                return f"its {name} of parameter {index} is a {type(value).__name__}"
            if negative and (name in SQUARES or name == "step"):
                return f"its {name} of parameter {index} is negative, which it can never be"
    return None


def resume_optimizer(optimizer: torch.optim.Optimizer, config: TrainConfig,
                     saved: OptimizerState | None) -> bool:
    """Load `saved` into a fresh `optimizer` when it belongs to the same kind and shape and is
    sound; the settings (learning rate, weight decay, ...) stay those of `config`. True if
    loaded; otherwise the optimizer starts afresh (said in the log when `saved` is damaged)."""
    if saved is None or saved.optimizer != config.optimizer:
        return False
    params = [p for g in optimizer.param_groups for p in g["params"]]
    problem = state_problem(saved, [p.shape for p in params])
    if problem is not None:
        log.warning("the saved optimizer state is not used (%s): starting the optimizer afresh",
                    problem)
        return False
    settings = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    try:  # a copy: torch adopts the tensors it is given, and steps would change `saved`
        optimizer.load_state_dict(copy.deepcopy(saved.state_dict))
    except (ValueError, KeyError, RuntimeError, TypeError) as err:  # another network's
        # (checked before any change to the optimizer)
        log.warning("the saved optimizer state does not fit (%s): starting afresh", err)
        return False
    for group, values in zip(optimizer.param_groups, settings, strict=True):
        group.update(values)
    return True


def optimizer_state_of(optimizer: torch.optim.Optimizer, config: TrainConfig) -> OptimizerState:
    """A copy (on the CPU) of where `optimizer` is now."""
    state = optimizer.state_dict()
    copied = {i: {k: v.detach().cpu().clone() if isinstance(v, Tensor) else v
                  for k, v in values.items()}
              for i, values in state["state"].items()}  # fmt: skip
    return OptimizerState(config.optimizer, {"state": copied,
                                             "param_groups": state["param_groups"]})
