"""Paired runs (core.paired) in a session file: `pairs.json` (what the comparison changed, both
runs' settings, and for each seed both runs' fingerprints, histories and test figures) and
`pairs.safetensors` (each seed's two trained models, float32, for the Playground's side-by-side
boundaries), so a reopened session shows its comparison in the Compare dock as it was.

Both members are optional and versioned on their own (`format_version` in pairs.json): a
session without them has no comparison, and readers before them ignore them.
"""

from __future__ import annotations

import json
import logging
import math
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from mlp_studio.core.data import DataConfig
from mlp_studio.core.errors import SessionError, SpecError
from mlp_studio.core.metrics import Metrics, metrics_from_confusion
from mlp_studio.core.model import MLP, NetworkSpec, build_model
from mlp_studio.core.paired import Fingerprint, PairPlan, PairResult, RunOutcome
from mlp_studio.core.reading import loads_json
from mlp_studio.core.run_settings import RunSettings, setting
from mlp_studio.core.session_history import history_from_json, history_to_json, is_count
from mlp_studio.core.train_config import TrainConfig
from safetensors import SafetensorError
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays

log = logging.getLogger(__name__)

PAIRS_JSON = "pairs.json"
PAIRS_TENSORS = "pairs.safetensors"
PAIRS_VERSION = 1
MAX_BYTES = 1 << 30  # ten seeds of two 784-512-512-10 models are ~50 MB: refuse zip bombs
TASKS = ("classification", "regression")


@dataclass
class SavedPairs:
    """One comparison: its plan (at the first seed), each finished seed's result (in the
    order trained: seed, seed + 1, ...) and, where kept, that seed's two trained models."""

    plan: PairPlan
    results: list[PairResult]
    models: list[tuple[MLP, MLP] | None] = field(default_factory=list)
    task: str = "classification"


def pairs_members(saved: SavedPairs) -> tuple[bytes, bytes]:
    """The two members' contents (JSON, safetensors)."""
    plan = saved.plan
    tensors: dict[str, np.ndarray] = {}
    pairs = []
    for i, result in enumerate(saved.results):
        models = saved.models[i] if i < len(saved.models) else None
        if models is not None:
            for side, model in zip("ab", models, strict=True):
                for name, value in model.state_dict().items():
                    tensors[f"p{i}/{side}/{name}"] = value.detach().cpu().numpy().copy()
        pairs.append({"seed": result.plan.base.spec.seed, "models": models is not None,
                      "a": _outcome_doc(result.a), "b": _outcome_doc(result.b)})
    doc = {"format_version": PAIRS_VERSION, "task": saved.task, "setting": plan.setting.name,
           "old": plan.old, "new": plan.new, "base": _settings_doc(plan.base),
           "changed": _settings_doc(plan.changed), "pairs": pairs}
    return json.dumps(doc).encode(), save_arrays(tensors) if tensors else b""


def read_pairs(doc_bytes: bytes, tensor_bytes: bytes) -> SavedPairs:
    """The comparison back; SessionError (a fragment: "its paired runs ...") if anything is
    off, or if a newer MLP Studio wrote them."""
    try:
        doc = loads_json(doc_bytes)
        tensors = load_arrays(tensor_bytes) if tensor_bytes else {}
    except (json.JSONDecodeError, UnicodeDecodeError, SafetensorError, ValueError) as err:
        raise SessionError(f"its paired runs are damaged ({err})") from None
    version = doc.get("format_version") if isinstance(doc, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > PAIRS_VERSION:
        raise SessionError(f"its paired runs were saved by a newer MLP Studio (format "
                           f"{version}; this version reads {PAIRS_VERSION})")
    try:
        return _pairs(doc, tensors)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError,
            SpecError) as err:
        raise SessionError(f"its paired runs are damaged ({type(err).__name__}: {err})") from None


def read_pairs_member(zf: zipfile.ZipFile) -> SavedPairs | None:
    """The comparison in a session archive, or None without one or when it cannot be used:
    like the run tree it is extra (the session's own model is whole without it), so it never
    stops a session from opening."""
    names = set(zf.namelist())
    if PAIRS_JSON not in names:
        return None
    try:
        sizes = [zf.getinfo(n).file_size for n in (PAIRS_JSON, PAIRS_TENSORS) if n in names]
        if max(sizes) > MAX_BYTES:
            raise SessionError("its paired runs are implausibly large")
        tensors = zf.read(PAIRS_TENSORS) if PAIRS_TENSORS in names else b""
        return read_pairs(zf.read(PAIRS_JSON), tensors)
    except (SessionError, zipfile.BadZipFile, zlib.error, EOFError) as err:
        log.warning("session paired runs ignored: %s", err)
        return None


def _pairs(doc: dict[str, Any], tensors: dict[str, np.ndarray]) -> SavedPairs:
    if doc["format_version"] != PAIRS_VERSION:
        raise ValueError(f"format {doc['format_version']!r}")
    if doc["task"] not in TASKS:
        raise ValueError(f"task {doc['task']!r}")
    plan = PairPlan(_settings(doc["base"]), _settings(doc["changed"]), setting(doc["setting"]),
                    str(doc["old"]), str(doc["new"]))
    results, models = [], []
    for i, item in enumerate(doc["pairs"]):
        seeded = plan.with_seed(i)  # each seed's pair is the plan moved by its index
        if item["seed"] != seeded.base.spec.seed:
            raise ValueError(f"pair {i} has seed {item['seed']!r}, not {seeded.base.spec.seed}")
        results.append(PairResult(seeded, _outcome(item["a"]), _outcome(item["b"])))
        models.append(_models(tensors, i, seeded) if item["models"] is True else None)
    return SavedPairs(plan, results, models, doc["task"])


def _settings_doc(settings: RunSettings) -> dict[str, Any]:
    return {"spec": settings.spec.to_dict(), "train": settings.train.to_dict(),
            "data": None if settings.data is None else settings.data.to_dict()}


def _settings(doc: dict[str, Any]) -> RunSettings:
    settings = RunSettings(NetworkSpec.from_dict(doc["spec"]), TrainConfig.from_dict(doc["train"]),
                           None if doc["data"] is None else DataConfig.from_dict(doc["data"]))
    problems = settings.problems()
    if problems:
        raise ValueError(" ".join(problems))
    return settings


def _outcome_doc(run: RunOutcome) -> dict[str, Any]:
    return {"label": run.label, "weights_hash": run.fingerprint.weights,
            "order_hash": run.fingerprint.order, "history": history_to_json(run.history),
            "test": None if run.test is None else _metrics_doc(run.test),
            "best_epoch": run.best_epoch, "stopped": run.stopped, "diverged": run.diverged}


def _outcome(doc: dict[str, Any]) -> RunOutcome:
    texts = [doc["label"], doc["weights_hash"], doc["order_hash"]]
    if not all(isinstance(t, str) for t in texts):
        raise ValueError("a run's label or hashes are not text")
    best, diverged = doc["best_epoch"], doc["diverged"]
    if best is not None and not is_count(best):
        raise ValueError(f"best epoch {best!r}")
    if diverged is not None and not isinstance(diverged, str):
        raise ValueError("a run's divergence message is not text")
    return RunOutcome(texts[0], Fingerprint(texts[1], texts[2]), history_from_json(doc["history"]),
                      None if doc["test"] is None else _metrics(doc["test"]), best,
                      bool(doc["stopped"]), diverged)


def _metrics_doc(test: Metrics) -> dict[str, Any]:
    """What the comparison shows of a test split: its confusion matrix gives every per-class
    score; regression keeps its errors."""
    return {"loss": _number(test.loss), "confusion": np.asarray(test.confusion).tolist(),
            "rmse": _number(test.rmse), "mae": _number(test.mae), "r2": _number(test.r2)}


def _metrics(doc: dict[str, Any]) -> Metrics:
    def value(key: str) -> float:
        v = doc[key]
        if v is not None and not isinstance(v, int | float):
            raise ValueError(f"{key} {v!r}")
        return math.nan if v is None else float(v)

    confusion = np.asarray(doc["confusion"], np.int64)
    if confusion.size and (confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1]
                           or (confusion < 0).any()):
        raise ValueError("a confusion matrix is not square counts")
    return metrics_from_confusion(confusion, value("loss"), value("rmse"), value("mae"),
                                  value("r2"))


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None  # JSON has no NaN


def _models(tensors: dict[str, np.ndarray], index: int, plan: PairPlan) -> tuple[MLP, MLP]:
    out = []
    for side, settings in (("a", plan.base), ("b", plan.changed)):
        prefix = f"p{index}/{side}/"
        state = {k[len(prefix):]: torch.from_numpy(v.copy()) for k, v in tensors.items()
                 if k.startswith(prefix)}  # fmt: skip
        model = build_model(settings.spec)
        model.load_state_dict(state)  # RuntimeError (names, shapes): damaged
        model.eval()
        out.append(model)
    return out[0], out[1]
