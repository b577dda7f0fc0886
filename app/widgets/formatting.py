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
