"""What `train` prints: the progress bar on stderr, the per-class table, the metrics JSON."""

import math
import sys
import time

from mlp_studio.core.text import terminal_safe


class ProgressBar:
    """A line per epoch on stderr; on a terminal also a bar redrawn in place at most 10 times a
    second. Written to a file or a pipe, a bar would be a run of carriage returns glued to the
    epoch lines, so there is none (as tqdm does: its `disable=None`)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.live = _is_terminal(sys.stderr)
        self._last = 0.0
        self._drawn = False  # a bar is on the line: what follows starts a new one

    def __call__(self, event) -> None:
        from mlp_studio.core.training import BatchProgress, Diverged, EpochEnd, Finished

        if isinstance(event, Diverged):
            print(f"{self._end_bar()}{terminal_safe(event.message)}", file=sys.stderr)
        elif isinstance(event, Finished) and event.ended_worse:
            print(f"{self._end_bar()}Note: this run ended with a validation loss of "
                  f"{event.end_val_loss:.4g}, worse than the {event.start_val_loss:.4g} of "
                  "the model it started from.", file=sys.stderr)
        if not self.enabled:
            return
        if isinstance(event, BatchProgress) and self.live:
            now = time.perf_counter()
            if now - self._last < 0.1 and event.batch < event.batches_per_epoch:
                return
            self._last = now
            done = event.batch / event.batches_per_epoch
            bar = "#" * int(done * 30)
            print(f"\repoch {event.epoch} [{bar:<30}] {event.batch}/{event.batches_per_epoch} "
                  f"loss {event.losses[-1]:.4f} {event.samples_per_second:,.0f} samples/s",
                  end="", file=sys.stderr, flush=True)
            self._drawn = True
        elif isinstance(event, EpochEnd):
            val = event.val
            if not len(val.targets if val.regression else val.labels):
                scores = f"train loss {event.train_loss:.4f} | no validation samples"
            elif val.regression:
                scores = (f"train loss {event.train_loss:.4f} | val loss {_num(val.loss)} "
                          f"rmse {_num(val.rmse)} mae {_num(val.mae)} r2 {_num(val.r2)}")
            else:
                scores = (f"train loss {event.train_loss:.4f} acc {event.train_accuracy:.4f} | "
                          f"val loss {val.loss:.4f} acc {val.accuracy:.4f}")
            line = f"epoch {event.epoch}/{event.epochs}: {scores} | {event.seconds:.1f} s"
            if self._drawn:  # over the bar, padded to hide its longer tail
                line = f"\r{line}{' ' * 20}"
                self._drawn = False
            print(line, file=sys.stderr, flush=True)

    def _end_bar(self) -> str:
        """What ends a bar left on the line ("" when there is none)."""
        drawn, self._drawn = self._drawn, False
        return "\n" if drawn else ""


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced by a stream without one, or closed
        return False


def _num(value: float) -> str:
    """A figure, or "n/a" where there is none (no validation samples): never "nan"."""
    return f"{value:.4f}" if math.isfinite(value) else "n/a"


def metrics_table(metrics, class_names: list[str]) -> str:
    if metrics.regression:
        return (f"rmse {_num(metrics.rmse)}   mae {_num(metrics.mae)}   r2 {_num(metrics.r2)}   "
                f"loss {_num(metrics.loss)}   ({len(metrics.targets):,} samples)")
    lines = [f"{'class':>8} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}"]
    for i, name in enumerate(class_names):
        lines.append(f"{terminal_safe(name):>8} {metrics.precision[i]:9.4f} "
                     f"{metrics.recall[i]:7.4f} {metrics.f1[i]:7.4f} {int(metrics.support[i]):8d}")
    for label, avg in (("macro", metrics.macro), ("weighted", metrics.weighted)):
        lines.append(f"{label:>8} {avg['precision']:9.4f} {avg['recall']:7.4f} "
                     f"{avg['f1']:7.4f} {int(metrics.support.sum()):8d}")
    lines.append(f"accuracy {metrics.accuracy:.4f}   loss {metrics.loss:.4f}")
    return "\n".join(lines)


def metrics_report(finished, class_names: list[str]) -> dict:
    """The metrics JSON: test accuracy, confusion matrix and per-class scores for a classifier;
    test RMSE, MAE and R² for a regression (no accuracy keys: it has none)."""
    test = finished.test
    report = test_report(test, class_names, finished.regression)
    report.update({
        "epochs": [epoch_report(e, finished.regression) for e in finished.history.epochs],
        "best_epoch": finished.best_epoch,
        "stopped": finished.stopped,
        "diverged": None if finished.diverged is None else finished.diverged.message,
    })
    return report


def test_report(test, class_names: list[str], regression: bool) -> dict:
    """The test_* keys of the metrics JSON (None when nothing was tested); NaN becomes None."""
    if regression:
        keys = ("rmse", "mae", "r2", "loss")
        return {f"test_{k}": None if test is None else _json_number(getattr(test, k))
                for k in keys}
    return {
        "test_accuracy": None if test is None else test.accuracy,
        "test_loss": None if test is None else test.loss,
        "confusion_matrix": None if test is None else test.confusion.tolist(),
        "per_class": None if test is None else test.to_dict(class_names)["per_class"],
        "class_names": list(class_names),
    }


def epoch_report(e, regression: bool) -> dict:
    if regression:
        return {"epoch": e.epoch, "train_loss": _json_number(e.train_loss),
                "val_loss": _json_number(e.val_loss), "val_rmse": _json_number(e.val_rmse),
                "val_mae": _json_number(e.val_mae), "val_r2": _json_number(e.val_r2),
                "seconds": e.seconds}
    return {"epoch": e.epoch, "train_loss": e.train_loss, "train_accuracy": e.train_accuracy,
            "val_loss": e.val_loss, "val_accuracy": e.val_accuracy, "seconds": e.seconds}


def _json_number(value: float) -> float | None:
    """None for NaN or infinity: strict JSON has no such numbers."""
    return float(value) if math.isfinite(value) else None
