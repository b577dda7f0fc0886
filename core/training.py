"""One trainer for the GUI and the CLI.

`Trainer.run()` trains on in-memory tensors (a shuffled index per epoch, sliced per batch, as a
hand-written loop would) and reports plain-data events (core.training_events) to a callback.
Another thread may call `pause`, `resume`, `step` and `stop`; they take effect at the next
batch boundary.

A run that diverges (core.divergence: a non-finite loss, gradient or weight, or a loss far above
its lowest) stops with a Diverged event and the last good weights: those the run started with
or of its latest epoch end whose weights and validation loss were sound.

Regression data (PreparedData.task == "regression") trains the same way with MSE/MAE/MSLE;
its accuracies are NaN and its validation and test metrics hold RMSE, MAE and R² (see
core.metrics). The model takes the data's target scaling when a run starts (core.target_scaling):
the loss is then on scaled targets, every other figure in the target's units.
"""

import math
import threading
import time
from collections.abc import Callable

import numpy as np
import torch
from mlp_studio.core.best_epoch import NO_SCORE, epoch_score
from mlp_studio.core.data import Normalization, PreparedData
from mlp_studio.core.divergence import DivergenceWatch, advice
from mlp_studio.core.errors import SpecError
from mlp_studio.core.losses import canonical_loss, check_loss_for_task, loss_function
from mlp_studio.core.metrics import Metrics, evaluate
from mlp_studio.core.optimizers import (
    OptimizerState,
    make_optimizer,
    make_schedule,
    optimizer_state_of,
    resume_optimizer,
)
from mlp_studio.core.target_scaling import adopt_target_scaling, scale_values
from mlp_studio.core.train_config import (
    DEVICES,
    OPTIMIZERS,
    SCHEDULES,
    TEST_SELECTION_PROBLEM,
    TrainConfig,
)
from mlp_studio.core.training_events import (
    BatchProgress,
    Diverged,
    EpochEnd,
    EpochRecord,
    Event,
    Finished,
    Halted,
    History,
    LayerStats,
    Snapshot,
    merge_progress,
)
from torch import Tensor, nn

# Callers import the run's vocabulary from here, wherever it is defined.
__all__ = [
    "DEVICES", "OPTIMIZERS", "SCHEDULES", "BatchProgress", "Diverged", "EpochEnd", "EpochRecord",
    "Event", "Finished", "Halted", "History", "LayerStats", "OptimizerState", "Snapshot",
    "TrainConfig", "Trainer", "check_run", "evaluate_test", "evaluate_validation",
    "make_optimizer", "make_schedule", "merge_progress", "pick_device", "resume_optimizer",
]


# Batches between gradient checks: one costs ~3% of a 784-128-10 batch on a busy 2-core
# machine (bench/bench_trainer.py), so every 8th costs ~0.4%.
GRAD_CHECK_EVERY = 8


class _Stop(Exception):
    pass


@torch.no_grad()
def losses_now(model: nn.Module, data: PreparedData, loss: str) -> tuple[float, float]:
    """The training and validation loss of the weights as they are (after a hand edit or a
    single step, where the last epoch's figures no longer apply)."""
    name = canonical_loss(loss)
    fn = loss_function(name, data.num_classes, task=data.task)
    device = next(model.parameters()).device
    train, val = (evaluate(model, x.to(device), y.to(device), fn, name, data.num_classes,
                           task=data.task).loss if len(x) else math.nan
                  for x, y in ((data.x_train, data.y_train), (data.x_val, data.y_val)))
    return train, val


@torch.no_grad()
def evaluate_validation(model: nn.Module, data: PreparedData, loss: str) -> Metrics:
    """Metrics of the weights as they are on the validation split (a checkpoint shown that
    no epoch's record describes: the start of a run, a Stop mid-epoch)."""
    name = canonical_loss(loss)
    fn = loss_function(name, data.num_classes, task=data.task)
    return evaluate(model, data.x_val, data.y_val, fn, name, data.num_classes, task=data.task)


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
    if data.val_is_test and config.restore_best:
        raise SpecError(TEST_SELECTION_PROBLEM)
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


def _copy_state(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@torch.no_grad()
def _finite(model: nn.Module) -> bool:
    """No NaN or infinite weight (one fused check, once per epoch)."""
    return bool(torch.stack([torch.isfinite(p).all() for p in model.parameters()]).all())


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
        adopt_target_scaling(model, data, config.loss)
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
        self.best_val_loss = math.inf  # of the best epoch
        self.best_score = NO_SCORE  # of the best epoch (core.best_epoch)
        self.best_epoch: int | None = None
        # The weights a divergence goes back to: the start, then each sound epoch end.
        self.last_good: dict[str, Tensor] | None = None
        self.start_val_loss = math.nan  # of the model as the run found it
        self.optimizer: torch.optim.Optimizer | None = None  # during run()
        # On Stop: the weights then (before the best epoch's are restored) and where in the
        # run: (epochs done, batches into the next) - a checkpoint (core.checkpoints).
        self.stop_state: dict[str, Tensor] | None = None
        self.stopped_at: tuple[int, int] | None = None
        self._loss_name = canonical_loss(config.loss)
        self._eval_loss = loss_function(self._loss_name, data.num_classes, task=data.task)
        self._x_val, self._y_val = data.x_val.to(self.device), data.y_val.to(self.device)
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
        scaling = model.target_scaling
        if scaling is not None:  # the loss compares the network's own outputs with these
            y_train = scale_values(y_train, scaling)
        weights = None if data.class_weights is None else data.class_weights.to(device)
        loss_fn = loss_function(self._loss_name, data.num_classes, weights, data.task)
        classify = data.task == "classification"
        params = list(model.parameters())
        optimizer = self.optimizer = make_optimizer(params, cfg)
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
        self.start_val_loss = self._val_loss()
        watch = DivergenceWatch(cfg.divergence_factor, self.start_val_loss)
        self.last_good = _copy_state(model)
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
                    outputs = model.net(xb)  # before un-scaling: in the loss's units
                    loss = loss_fn(outputs, yb)
                    if cfg.l1:
                        loss = loss + cfg.l1 * sum(lin.weight.abs().sum() for lin in linears)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    # The gradients' norms are NaN or infinite if any gradient is (a loss can
                    # stay finite while its gradients are NaN: sqrt(x) inside where(x > 0,
                    # ...)). Read with the loss in one sync, on an epoch's first and last batch
                    # and every GRAD_CHECK_EVERY between: NaN gradients leave NaN weights
                    # (and gradients) behind, so a later check finds them as surely, and the
                    # run goes back to the last good weights all the same.
                    if b % GRAD_CHECK_EVERY == 0 or b + 1 == batches:
                        grads = [p.grad for p in params if p.grad is not None]
                        value, *norms = torch.stack(
                            [loss.detach(), *torch._foreach_norm(grads)]).tolist()
                        grad_norm = sum(norms)
                    else:
                        value, grad_norm = loss.item(), 0.0
                    problem = watch.batch(value, grad_norm)
                    if problem is not None:
                        if pending:  # the losses that led up to it, not yet reported
                            self.on_event(BatchProgress(
                                epoch, b, batches, step, np.asarray(pending, np.float32),
                                report_samples / max(time.perf_counter() - last_report, 1e-9),
                                optimizer.param_groups[0]["lr"],
                            ))
                        diverged = self._diverge(problem, epoch, b + 1)
                        break
                    step += 1
                    if step % cfg.stats_every == 0 or step == 1:
                        self.on_event(self._layer_stats(step, linears, xb))
                    optimizer.step()
                    loss_sum += value * len(idx)
                    if classify:
                        correct += (outputs.detach().argmax(1) == yb).sum()
                    pending.append(value)
                    report_samples += len(idx)

                    now = time.perf_counter()
                    stepped = self._force_report  # a Step: show its weights, not only its loss
                    if (now - last_report >= self.report_interval or b + 1 == batches
                            or stepped):
                        self._force_report = False
                        self.history.batch_losses.extend(pending)
                        self.on_event(BatchProgress(
                            epoch, b + 1, batches, step, np.asarray(pending, np.float32),
                            report_samples / max(now - last_report, 1e-9),
                            optimizer.param_groups[0]["lr"],
                        ))
                        pending, report_samples, last_report = [], 0, now
                    if self.snapshot_interval and (
                            stepped or now - last_snapshot >= self.snapshot_interval):
                        self.on_event(self.snapshot(step))
                        last_snapshot = now
                if diverged:
                    self.history.batch_losses.extend(pending)
                    break
                diverged = self._end_epoch(epoch, n, loss_sum, correct, epoch_start, optimizer,
                                           watch)
                if diverged:
                    break
                if schedule is not None:
                    schedule.step()
        except _Stop:
            stopped = True
            self.history.batch_losses.extend(pending)
            self.stop_state, self.stopped_at = _copy_state(model), (epoch - 1, b)
        if not diverged:  # a diverged optimizer's moments are NaN-driven: start afresh
            self.optimizer_state = optimizer_state_of(optimizer, cfg)
        else:
            self.optimizer_state = None

        return self._finish(stopped, diverged)

    def _val_loss(self) -> float:
        """Validation loss of the model as it is now (NaN without validation data)."""
        if not len(self._x_val):
            return math.nan
        return self._validate().loss

    def _validate(self) -> Metrics:
        return evaluate(self.model, self._x_val, self._y_val, self._eval_loss, self._loss_name,
                        self.data.num_classes, task=self.data.task)

    def _end_epoch(self, epoch, n, loss_sum, correct, epoch_start, optimizer,
                   watch: DivergenceWatch) -> Diverged | None:
        """Validate, record and report the epoch; a Diverged if its weights are not sound."""
        seconds = time.perf_counter() - epoch_start
        val = self._validate()
        problem = watch.epoch(val.loss, _finite(self.model), len(self._x_val) > 0)
        by = "loss" if self.data.task == "regression" else self.config.best_by
        score = epoch_score(val.loss, val.accuracy, by)
        best = problem is None and score > self.best_score
        if problem is None:
            self.last_good = _copy_state(self.model)
            if best:
                self.best_score, self.best_epoch = score, epoch
                self.best_val_loss = val.loss
                self.best_state = self.last_good
        lr = optimizer.param_groups[0]["lr"]
        train_loss, train_acc = float(loss_sum) / n, float(correct) / n
        if self.data.task == "regression":
            train_acc = math.nan  # accuracy is undefined for real-valued targets
        self.history.epochs.append(EpochRecord.of(epoch, train_loss, train_acc, val, seconds,
                                                  lr))
        self.on_event(EpochEnd(epoch, self.start_epoch + self.config.epochs, train_loss,
                               train_acc, val, seconds, lr, best))
        if problem is not None:
            return self._diverge(problem, epoch, 0)
        if self.snapshot_interval:
            self.on_event(self.snapshot(len(self.history.batch_losses)))
        return None

    def _finish(self, stopped: bool, diverged: Diverged | None) -> Finished:
        if self.config.restore_best and self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        test = None
        if self.history.epochs or diverged:
            x_test, y_test = self.data.x_test.to(self.device), self.data.y_test.to(self.device)
            if len(x_test):
                test = evaluate(self.model, x_test, y_test, self._eval_loss, self._loss_name,
                                self.data.num_classes, task=self.data.task)
        finished = Finished(self.history, test, self.best_epoch, stopped, diverged,
                            self.start_val_loss, self._val_loss(), self.data.task)
        self.on_event(finished)
        return finished

    def _diverge(self, problem: tuple[str, str], epoch: int, batch: int) -> Diverged:
        """Go back to the last good weights and say what happened and what to change."""
        self.model.load_state_dict(self.last_good)
        cause, what = problem
        where = f"batch {batch}" if batch else "its end"
        restored = ("the weights of the best epoch were kept" if self.config.restore_best
                    and self.best_state is not None else "the last good weights were restored")
        event = Diverged(
            f"Training diverged at epoch {epoch}, {where}: {what}. Training stopped and "
            f"{restored}. {advice(cause, self.config.lr)}",
            epoch, batch, cause,
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
