"""Session files from earlier formats, brought forward one version at a time in memory (the
next save writes the current format). docs/session-format.md describes each version."""

from typing import Any


def _migrate_v0_to_v1(meta: dict[str, Any]) -> dict[str, Any]:
    """v0 (development builds before 0.1.0): the spec was stored as "network", there was a
    single "saved" timestamp, and neither best weights nor best_epoch were kept."""
    out = {k: v for k, v in meta.items() if k not in ("network", "saved")}
    out["spec"] = meta.get("network")
    out["created"] = out["modified"] = meta.get("saved", "")
    out["best_epoch"] = None
    out["format_version"] = 1
    return out


def _migrate_v1_to_v2(meta: dict[str, Any]) -> dict[str, Any]:
    """v1 (before target scaling): regression targets were never scaled. Such a session keeps
    training as it did ("none"), while a new one standardizes its targets by default."""
    out = dict(meta)
    config = out.get("data_config")
    if isinstance(config, dict) and "target_scaling" not in config:
        out["data_config"] = {**config, "target_scaling": "none"}
    out["format_version"] = 2
    return out


# format version -> function to the next version
MIGRATIONS = {0: _migrate_v0_to_v1, 1: _migrate_v1_to_v2}
