"""When a run has diverged: non-finite losses, gradients or weights, and finite explosions.

The trainer asks once per batch (with the loss and the gradients' total norm, read from the
device in one sync) and once per epoch end (with the validation loss and whether the weights are
finite). Each answer is None, or a sentence saying what happened, for Diverged's message.
"""

import math
from dataclasses import dataclass, field

# Diverged.cause values: what was found not to be sound.
CAUSES = ("loss", "gradients", "explosion", "weights", "validation")
SMOOTHING = 0.1  # weight of the newest batch in the loss's moving average


def _what(value: float) -> str:
    return "NaN" if math.isnan(value) else "infinite"


def advice(cause: str, lr: float) -> str:
    """What to change, for a Diverged message."""
    lower = f"the learning rate (now {lr:g}) or normalize the inputs, then train again."
    if cause == "gradients":
        return ("A custom activation whose slope is undefined for some inputs does this: "
                "sqrt(x) or log(x) at x <= 0, even inside where(x > 0, ...), since its slope is "
                "still computed there; use e.g. sqrt(max(x, 1e-6)). Otherwise, lower " + lower)
    return "Lower " + lower


@dataclass
class DivergenceWatch:
    """Follows one run. `factor` (TrainConfig.divergence_factor; 0: off) is how far above its
    lowest the loss may rise. Batch losses are noisy (an easy batch can score 1000x below a
    hard one), so the batch check compares a moving average with its own lowest value. Both
    checks also ask that the loss be above where the run started: a loss falling from 2.3 to
    1e-6 and back to 1e-2 has not exploded."""

    factor: float
    start_val_loss: float = math.nan  # of the model the run started from
    average: float = math.nan
    first: float = math.nan
    lowest: float = math.inf
    lowest_val: float = field(default=math.inf)

    def batch(self, loss: float, grad_norm: float) -> tuple[str, str] | None:
        """(cause, what happened) if this batch shows divergence, else None."""
        if not math.isfinite(loss):
            return "loss", f"the loss became {_what(loss)}"
        if not math.isfinite(grad_norm):
            return "gradients", (
                f"the gradients became {_what(grad_norm)} while the loss was finite "
                f"({loss:.4g})")
        if math.isnan(self.average):
            self.average = self.first = loss
        else:
            self.average += SMOOTHING * (loss - self.average)
        self.lowest = min(self.lowest, self.average)
        if self._exploded(self.average, self.lowest, self.first):
            return "explosion", (
                f"the loss rose to {self.average:.3g} (averaged over recent batches), more "
                f"than {self.factor:g} times its lowest in this run ({self.lowest:.3g})")
        return None

    def epoch(self, val_loss: float, weights_finite: bool, has_val: bool) -> tuple[str, str] | None:
        """(cause, what happened) if the weights at this epoch's end are not to be kept."""
        if not weights_finite:
            return "weights", "some weights became NaN or infinite"
        if not has_val:
            return None
        if not math.isfinite(val_loss):
            return "validation", f"the validation loss became {_what(val_loss)}"
        reference = min(self.lowest_val, self.start_val_loss) if math.isfinite(
            self.start_val_loss) else self.lowest_val
        if self._exploded(val_loss, reference, self.start_val_loss):
            return "explosion", (
                f"the validation loss rose to {val_loss:.3g}, more than {self.factor:g} times "
                f"its lowest ({reference:.3g})")
        self.lowest_val = min(self.lowest_val, val_loss)
        return None

    def _exploded(self, value: float, lowest: float, start: float) -> bool:
        return bool(self.factor) and value > self.factor * lowest and not value <= start
