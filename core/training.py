"""One trainer for the GUI and the CLI.

`Trainer.run()` trains on in-memory tensors (a shuffled index per epoch, sliced per batch, as a
hand-written loop would) and reports plain-data events to a callback. Another thread may call
`pause`, `resume`, `step` and `stop`; they take effect at the next batch boundary.

Regression data (PreparedData.task == "regression") trains the same way with MSE/MAE/MSLE;
its accuracies are NaN (see core.metrics).
"""

import copy
import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch
from mlp_studio.core.data import Normalization, PreparedData
from mlp_studio.core.errors import SpecError
from mlp_studio.core.losses import canonical_loss, check_loss_for_task, loss_function
from mlp_studio.core.metrics import Metrics, evaluate
from torch import Tensor, nn

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine")
DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass
class TrainConfig:
    loss: str = "sparse_categorical_cross_entropy"
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9  # momentum and nesterov only
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
    restore_best: bool = True  # end with the weights of the best validation loss

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
        if self.device not in DEVICES:
            out.append(f"Unknown device '{self.device}'. Choose one of: {', '.join(DEVICES)}.")
        if not (math.isfinite(self.lr) and 0 < self.lr <= 10):
            out.append(f"Learning rate {self.lr} is impossible: use a value above 0 and at most "
                       "10 (typical: 0.001 for Adam, 0.01-0.1 for SGD).")
        if not (math.isfinite(self.momentum) and 0 <= self.momentum < 1):
            out.append(f"Momentum {self.momentum} must be at least 0 and below 1 (typical: 0.9).")
        for name in ("weight_decay", "l1"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value <= 1):
                out.append(f"{name.replace('_', ' ').capitalize()} {value} must be between 0 "
                           "and 1 (typical: 0 to 0.001).")
        if not (math.isfinite(self.gamma) and 0 < self.gamma <= 1):
            out.append(f"Schedule factor gamma {self.gamma} must be above 0 and at most 1.")
        for name, low, high in (("batch_size", 1, 1_000_000), ("epochs", 1, 100_000),
                                ("step_epochs", 1, 100_000), ("stats_every", 1, 1_000_000)):
            value = getattr(self, name)
            if not isinstance(value, int) or not low <= value <= high:
                out.append(f"{name.replace('_', ' ').capitalize()} {value} must be a whole "
                           f"number from {low} to {high}.")
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


# ---- events: plain, copied data, safe to hand to another thread ----


@dataclass(frozen=True)
class BatchProgress:
    """Losses of the batches run since the previous report (every batch is reported once)."""

    epoch: int  # 1-based
    batch: int  # 1-based, within the epoch
    batches_per_epoch: int
    step: int  # batches run in total
    losses: np.ndarray  # float32, one per batch since the previous report
    samples_per_second: float
    lr: float


@dataclass(frozen=True)
class LayerStats:
    """The vanishing-gradient view: one value per layer (hidden layers, then output)."""

    step: int
    grad_norms: np.ndarray  # L2 norm of each layer's weight gradient
    weight_mean: np.ndarray
    weight_std: np.ndarray
    dead_fraction: np.ndarray  # hidden layers: units whose output is 0 for the whole batch
    saturated_fraction: np.ndarray  # hidden layers: sigmoid/tanh outputs in their flat tails


@dataclass(frozen=True)
class Snapshot:
    """Copies of the weights, and the activations of the probe samples, for live views."""

    step: int
    weights: list[np.ndarray]  # per layer [out, in]
    biases: list[np.ndarray]
    activations: list[np.ndarray] | None  # per hidden layer [P, units], then outputs [P, C]


@dataclass(frozen=True)
class EpochEnd:
    epoch: int
    epochs: int
    train_loss: float
    train_accuracy: float
    val: Metrics
    seconds: float
    lr: float
    best: bool  # the best validation loss so far


@dataclass(frozen=True)
class Halted:
    """The run has stopped between batches because it is paused (a step or resume goes on)."""


@dataclass(frozen=True)
class Diverged:
    message: str
    epoch: int
    batch: int


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float
    lr: float
    val_confusion: list[list[int]]


@dataclass
class History:
    epochs: list[EpochRecord] = field(default_factory=list)
    batch_losses: list[float] = field(default_factory=list)
    grad_norms: list[tuple[int, list[float]]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        return cls(
            epochs=[EpochRecord(**e) for e in data.get("epochs", [])],
            batch_losses=[float(v) for v in data.get("batch_losses", [])],
            grad_norms=[(int(s), [float(v) for v in g]) for s, g in data.get("grad_norms", [])],
        )


@dataclass(frozen=True)
class Finished:
    history: History
    test: Metrics | None  # None when stopped before the first epoch ended
    best_epoch: int | None
    stopped: bool  # the user stopped the run
    diverged: Diverged | None


Event = BatchProgress | LayerStats | Snapshot | EpochEnd | Halted | Diverged | Finished


def merge_progress(events: list) -> list:
    """Consecutive BatchProgress of one epoch become one (their losses in order); other
    events stay as they are, in place. A merged event never spans two epochs, like the
    trainer's. For a reader that fell behind: fewer, larger reports, no loss lost."""
    out: list = []
    run: list[BatchProgress] = []

    def close_run() -> None:
        if len(run) == 1:
            out.append(run[0])
        elif run:
            # The rate over the whole run of events: batches / time, where each event's time
            # is its batches / its rate (batches of one run have the same size).
            last = run[-1]
            batches = sum(len(e.losses) for e in run)
            seconds = sum(len(e.losses) / e.samples_per_second for e in run
                          if e.samples_per_second > 0)  # fmt: skip
            out.append(BatchProgress(
                last.epoch, last.batch, last.batches_per_epoch, last.step,
                np.concatenate([e.losses for e in run]).astype(np.float32, copy=False),
                batches / seconds if seconds > 0 else last.samples_per_second, last.lr,
            ))  # fmt: skip
        run.clear()

    for event in events:
        if isinstance(event, BatchProgress) and (not run or run[-1].epoch == event.epoch):
            run.append(event)
            continue
        close_run()
        if isinstance(event, BatchProgress):
            run.append(event)
        else:
            out.append(event)
    close_run()
    return out


class _Stop(Exception):
    pass


@torch.no_grad()
def evaluate_test(model: nn.Module, data: PreparedData, loss: str,
                  normalization: Normalization | None = None) -> Metrics:
    """Metrics of a trained or imported model on the test split.

    `normalization` is what the model expects when it did not learn from `data` (an imported
    model); the test inputs are then taken back to raw pixels and normalized its way.
    """
    if model.spec.input_size != data.x_test.shape[1] or (
        data.task == "classification" and model.spec.output_size != data.num_classes
    ):
        raise SpecError(
            f"This model takes {model.spec.input_size} inputs and gives "
            f"{model.spec.output_size} outputs, but the data has {data.x_test.shape[1]} inputs "
            f"and {data.num_classes} classes: load data the model was made for."
        )
    x = data.x_test
    if normalization is not None and normalization is not data.normalization:
        raw = x * torch.tensor(data.normalization.std) + torch.tensor(data.normalization.mean)
        x = normalization.apply(raw)
    name = canonical_loss(loss)
    fn = loss_function(name, data.num_classes, task=data.task)
    device = next(model.parameters()).device
    return evaluate(model, x.to(device), data.y_test.to(device), fn, name, data.num_classes,
                    task=data.task)


def check_run(data: PreparedData, config: TrainConfig) -> None:
    """SpecError with what to change if `config` cannot train on `data` (before any work)."""
    config.validate()
    check_loss_for_task(config.loss, data.task)
    if len(data.x_train) == 0:
        raise SpecError("The training set is empty: lower the validation share or the "
                        "imbalance, or raise the subset size.")
    pick_device(config.device)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SpecError("CUDA was chosen but no CUDA GPU is available: choose 'cpu' or 'auto'.")
    if name == "mps" and not torch.backends.mps.is_available():
        raise SpecError("MPS was chosen but this Mac has no MPS device: choose 'cpu' or 'auto'.")
    return torch.device(name)


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
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=wd, foreach=True)
    cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
    return cls(params, lr=lr, weight_decay=wd, fused=True)


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


def resume_optimizer(optimizer: torch.optim.Optimizer, config: TrainConfig,
                     saved: OptimizerState | None) -> bool:
    """Load `saved` into a fresh `optimizer` when it belongs to the same kind and shape; the
    settings (learning rate, weight decay, ...) stay those of `config`. True if loaded."""
    if saved is None or saved.optimizer != config.optimizer:
        return False
    params = [p for g in optimizer.param_groups for p in g["params"]]
    state = saved.state_dict.get("state", {})
    if any(not 0 <= int(i) < len(params) or any(
            isinstance(v, Tensor) and v.dim() > 0 and v.shape != params[int(i)].shape
            for v in values.values()) for i, values in state.items()):
        return False  # another network's moments: start afresh
    settings = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    try:  # a copy: torch adopts the tensors it is given, and steps would change `saved`
        optimizer.load_state_dict(copy.deepcopy(saved.state_dict))
    except (ValueError, KeyError, RuntimeError):  # another network's (checked before any
        return False  # change to the optimizer): start afresh
    for group, values in zip(optimizer.param_groups, settings, strict=True):
        group.update(values)
    return True


def _optimizer_state(optimizer: torch.optim.Optimizer, config: TrainConfig) -> OptimizerState:
    state = optimizer.state_dict()
    copied = {i: {k: v.detach().cpu().clone() if isinstance(v, Tensor) else v
                  for k, v in values.items()}
              for i, values in state["state"].items()}  # fmt: skip
    return OptimizerState(config.optimizer, {"state": copied,
                                             "param_groups": state["param_groups"]})


def _copy_state(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class Trainer:
    """Trains `model` on `data`; `run()` blocks (the GUI runs it in a child process: see
    core.training_process)."""

    def __init__(
        self,
        model: nn.Module,
        data: PreparedData,
        config: TrainConfig,
        on_event: Callable[[Event], None] | None = None,
        report_interval: float = 0.05,
        snapshot_interval: float = 0.0,
        start_epoch: int = 0,
        optimizer_state: OptimizerState | None = None,
    ):
        check_run(data, config)
        self.device = pick_device(config.device)
        self.model = model.to(self.device)
        self.data = data
        self.config = config
        self.on_event = on_event or (lambda event: None)
        self.report_interval = report_interval
        self.snapshot_interval = snapshot_interval  # seconds; 0 turns snapshots off
        self.start_epoch = start_epoch
        # In: where the previous run's optimizer left off; out (after run): where this one did.
        self.optimizer_state = optimizer_state
        self.history = History()
        self.best_state: dict[str, Tensor] | None = None
        self.best_val_loss = math.inf
        self.best_epoch: int | None = None
        self._cond = threading.Condition()
        self._paused = False
        self._stop = False
        self._steps_allowed = 0
        self._probe: Tensor | None = None

    # ---- control, from any thread ----

    def pause(self) -> None:
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def step(self) -> None:
        """Run exactly one more batch, then stay paused."""
        with self._cond:
            self._paused = True
            self._steps_allowed += 1
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused

    def set_probe(self, x: Tensor | None) -> None:
        """Samples (normalized, [P, D]) whose activations go into every Snapshot."""
        self._probe = None if x is None else x.detach().to(self.device).clone()

    def _wait_for_turn(self) -> bool:
        """Block while paused (saying so with a Halted event); True if a stop was requested."""
        with self._cond:
            halting = self._paused and not self._stop and self._steps_allowed == 0
        if halting:
            self.on_event(Halted())
        with self._cond:
            while self._paused and not self._stop and self._steps_allowed == 0:
                self._cond.wait()
            if self._stop:
                return True
            if self._paused:
                self._steps_allowed -= 1
                self._force_report = True
            return False

    # ---- the loop ----

    def run(self) -> Finished:
        torch.manual_seed(self.config.seed)
        cfg, data, model, device = self.config, self.data, self.model, self.device
        x_train, y_train = data.x_train.to(device), data.y_train.to(device)
        x_val, y_val = data.x_val.to(device), data.y_val.to(device)
        weights = None if data.class_weights is None else data.class_weights.to(device)
        loss_name = canonical_loss(cfg.loss)
        loss_fn = loss_function(loss_name, data.num_classes, weights, data.task)
        eval_loss = loss_function(loss_name, data.num_classes, task=data.task)
        classify = data.task == "classification"
        optimizer = make_optimizer(model.parameters(), cfg)
        resume_optimizer(optimizer, cfg, self.optimizer_state)
        schedule = make_schedule(optimizer, cfg)
        linears = list(model.linears)
        generator = torch.Generator().manual_seed(cfg.seed)
        n = len(x_train)
        batch_size = min(cfg.batch_size, n)
        batches = math.ceil(n / batch_size)
        diverged: Diverged | None = None
        stopped = False
        self._force_report = False
        step = 0
        last_good = _copy_state(model)
        pending: list[float] = []
        last_report = last_snapshot = time.perf_counter()
        report_samples = 0

        try:
            for epoch in range(self.start_epoch + 1, self.start_epoch + cfg.epochs + 1):
                model.train()
                epoch_start = time.perf_counter()
                order = torch.randperm(n, generator=generator).to(device)
                loss_sum = 0.0  # a Python float: `value` is already on the host
                correct = torch.zeros((), dtype=torch.long, device=device)
                for b in range(batches):
                    if self._wait_for_turn():
                        raise _Stop
                    idx = order[b * batch_size : (b + 1) * batch_size]
                    xb, yb = x_train[idx], y_train[idx]
                    outputs = model(xb)
                    loss = loss_fn(outputs, yb)
                    if cfg.l1:
                        loss = loss + cfg.l1 * sum(lin.weight.abs().sum() for lin in linears)
                    value = loss.item()
                    if not math.isfinite(value):
                        model.load_state_dict(last_good)
                        diverged = self._diverged(value, epoch, b + 1)
                        break
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    step += 1
                    if step % cfg.stats_every == 0 or step == 1:
                        self.on_event(self._layer_stats(step, linears, xb))
                        last_good = _copy_state(model)
                    optimizer.step()
                    loss_sum += value * len(idx)
                    if classify:
                        correct += (outputs.detach().argmax(1) == yb).sum()
                    pending.append(value)
                    report_samples += len(idx)

                    now = time.perf_counter()
                    if (now - last_report >= self.report_interval or b + 1 == batches
                            or self._force_report):
                        self._force_report = False
                        self.history.batch_losses.extend(pending)
                        self.on_event(BatchProgress(
                            epoch, b + 1, batches, step, np.asarray(pending, np.float32),
                            report_samples / max(now - last_report, 1e-9),
                            optimizer.param_groups[0]["lr"],
                        ))
                        pending, report_samples, last_report = [], 0, now
                    if self.snapshot_interval and now - last_snapshot >= self.snapshot_interval:
                        self.on_event(self.snapshot(step))
                        last_snapshot = now
                if diverged:
                    break
                self._end_epoch(epoch, n, loss_sum, correct, epoch_start, optimizer,
                                x_val, y_val, eval_loss, loss_name)
                last_good = _copy_state(model)
                if schedule is not None:
                    schedule.step()
        except _Stop:
            stopped = True
            self.history.batch_losses.extend(pending)
        if not diverged:  # a diverged optimizer's moments are NaN-driven: start afresh
            self.optimizer_state = _optimizer_state(optimizer, cfg)
        else:
            self.optimizer_state = None

        return self._finish(stopped, diverged, eval_loss, loss_name)

    def _end_epoch(self, epoch, n, loss_sum, correct, epoch_start, optimizer,
                   x_val, y_val, eval_loss, loss_name) -> None:
        seconds = time.perf_counter() - epoch_start
        val = evaluate(self.model, x_val, y_val, eval_loss, loss_name, self.data.num_classes,
                       task=self.data.task)
        best = math.isfinite(val.loss) and val.loss < self.best_val_loss
        if best or self.best_state is None:
            self.best_val_loss, self.best_epoch = val.loss, epoch
            self.best_state = _copy_state(self.model)
        lr = optimizer.param_groups[0]["lr"]
        train_loss, train_acc = float(loss_sum) / n, float(correct) / n
        if self.data.task == "regression":
            train_acc = math.nan  # accuracy is undefined for real-valued targets
        self.history.epochs.append(EpochRecord(
            epoch, train_loss, train_acc, val.loss, val.accuracy, seconds, lr,
            val.confusion.tolist(),
        ))
        self.on_event(EpochEnd(epoch, self.start_epoch + self.config.epochs, train_loss,
                               train_acc, val, seconds, lr, best))
        if self.snapshot_interval:
            self.on_event(self.snapshot(len(self.history.batch_losses)))

    def _finish(self, stopped, diverged, eval_loss, loss_name) -> Finished:
        if self.config.restore_best and self.best_state is not None and not diverged:
            self.model.load_state_dict(self.best_state)
        test = None
        if self.history.epochs or diverged:
            x_test, y_test = self.data.x_test.to(self.device), self.data.y_test.to(self.device)
            if len(x_test):
                test = evaluate(self.model, x_test, y_test, eval_loss, loss_name,
                                self.data.num_classes, task=self.data.task)
        finished = Finished(self.history, test, self.best_epoch, stopped, diverged)
        self.on_event(finished)
        return finished

    def _diverged(self, value: float, epoch: int, batch: int) -> Diverged:
        what = "NaN" if math.isnan(value) else "infinite"
        event = Diverged(
            f"Training diverged at epoch {epoch}, batch {batch}: the loss became {what}. "
            f"The last good weights were restored. Lower the learning rate "
            f"(now {self.config.lr:g}) or normalize the inputs, then train again.",
            epoch, batch,
        )
        self.on_event(event)
        return event

    @torch.no_grad()
    def _layer_stats(self, step: int, linears: list[nn.Linear], xb: Tensor) -> LayerStats:
        grads = [lin.weight.grad for lin in linears]
        grad_norms = np.array([float(g.norm()) if g is not None else 0.0 for g in grads])
        w_mean = np.array([float(lin.weight.mean()) for lin in linears])
        w_std = np.array([float(lin.weight.std()) if lin.weight.numel() > 1 else 0.0
                          for lin in linears])
        was_training = self.model.training
        self.model.eval()
        _, acts = self.model.forward_with_activations(xb)
        self.model.train(was_training)
        dead = np.array([float((a == 0).all(0).float().mean()) for a in acts])
        saturated = np.array([
            _saturated_share(a, layer.activation.name)
            for a, layer in zip(acts, self.model.spec.hidden, strict=True)
        ])
        self.history.grad_norms.append((step, grad_norms.tolist()))
        return LayerStats(step, grad_norms, w_mean, w_std, dead, saturated)

    @torch.no_grad()
    def snapshot(self, step: int) -> Snapshot:
        """Copies (not views: the next optimizer step overwrites the tensors) for display."""
        linears = self.model.linears
        weights = [lin.weight.detach().cpu().clone().numpy() for lin in linears]
        biases = [lin.bias.detach().cpu().clone().numpy() for lin in linears]
        activations = None
        probe = self._probe
        if probe is not None:
            was_training = self.model.training
            self.model.eval()
            out, acts = self.model.forward_with_activations(probe)
            self.model.train(was_training)
            activations = [a.cpu().clone().numpy() for a in [*acts, out]]
        return Snapshot(step, weights, biases, activations)


def _saturated_share(acts: Tensor, activation: str) -> float:
    """Share of outputs in the flat tails where the derivative is below ~1% of its peak."""
    if activation == "sigmoid":
        return float(((acts < 0.01) | (acts > 0.99)).float().mean())
    if activation == "tanh":
        return float((acts.abs() > 0.99).float().mean())
    return 0.0
