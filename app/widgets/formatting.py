"""How numbers read on screen, the same in every panel."""


def format_rate(samples_per_second: float) -> str:
    """Training speed, e.g. "14k samples/s"; "" when nothing is training."""
    if samples_per_second <= 0:
        return ""
    if samples_per_second >= 10_000:
        return f"{samples_per_second / 1000:.0f}k samples/s"
    if samples_per_second >= 1000:
        return f"{samples_per_second / 1000:.1f}k samples/s"
    return f"{samples_per_second:.0f} samples/s"


def format_duration(seconds: float) -> str:
    """Time left, e.g. "3 min 05 s left"."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s left"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s left"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min left"


def _number(value: float) -> str:
    return f"{value:.4g}"


def format_scores(metrics, bold: bool = True) -> str:
    """What a model scored on a split, in one phrase: "accuracy 97.31%" for a classifier,
    "RMSE 0.31 · MAE 0.22 · R² 0.87" for a regression (never "accuracy" nor NaN: a split
    without samples has no scores, and says the loss instead). `metrics`: core.metrics'."""
    b, end = ("<b>", "</b>") if bold else ("", "")
    if not getattr(metrics, "regression", False):
        return f"accuracy {b}{metrics.accuracy:.2%}{end}"
    scores = [("RMSE", metrics.rmse), ("MAE", metrics.mae), ("R²", metrics.r2)]
    parts = [f"{name} {b}{_number(v)}{end}" for name, v in scores if v == v]  # v == v: not NaN
    if parts:
        return " · ".join(parts)
    return f"loss {b}{_number(metrics.loss)}{end}" if metrics.loss == metrics.loss else "no scores"
