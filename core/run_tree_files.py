"""A run tree (core.run_tree) in a session file: `runs.json` (the runs, where each branched,
their settings and histories, the checkpoints' places) and `runs.safetensors` (every
checkpoint's weights and optimizer state, and where each other run was left), float32 as
trained, so a branch opened from a session starts from exactly the weights it was shown.

Older readers ignore both members; a session without them has no tree.
"""

from __future__ import annotations

import json
import zipfile
from typing import Any

import numpy as np
import torch
from mlp_studio.core.checkpoints import KINDS, Checkpoint, CheckpointStore, budget_problem
from mlp_studio.core.errors import SessionError
from mlp_studio.core.limits import MEMORY_SHARE, available_memory
from mlp_studio.core.lineage import Lineage
from mlp_studio.core.model import NetworkSpec, build_model
from mlp_studio.core.optimizers import OptimizerState
from mlp_studio.core.reading import loads_json
from mlp_studio.core.run_tree import Run, RunTree, optimizer_arrays, optimizer_tensors
from mlp_studio.core.session_history import history_from_json, history_to_json, is_count
from mlp_studio.core.target_scaling import MEAN_KEY, STD_KEY
from safetensors import SafetensorError
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays

TREE_JSON = "runs.json"
TREE_TENSORS = "runs.safetensors"
TREE_VERSION = 1
MAX_JSON_BYTES = 256 * 1024 * 1024  # runs' settings and histories: a few MB
# Copies of the weights a run may keep beyond the budget: its first, best and last checkpoints
# and where it was left (weights, best weights), each with up to two optimizer slots.
COPIES_PER_RUN = 16

Arrays = dict[str, np.ndarray]


def tree_members(tree: RunTree) -> tuple[bytes, bytes]:
    """The two members' contents (JSON, safetensors)."""
    tensors: Arrays = {}
    store = tree.checkpoints
    checkpoints = []
    for i, c in enumerate(store.items):
        _put(tensors, f"c{i}/w/", c.weights)
        checkpoints.append({"run": c.run, "epoch": c.epoch, "batch": c.batch, "step": c.step,
                            "kind": c.kind,
                            "optimizer": _optimizer_doc(c.optimizer, tensors, f"c{i}/o/")})
    runs = []
    for run in tree.runs.values():
        left = None
        if run.id != tree.current and run.lineage is not None and run.weights is not None:
            lineage = run.lineage
            _put(tensors, f"r{run.id}/w/", run.weights)
            if lineage.best_state is not None:
                _put(tensors, f"r{run.id}/b/", {k: v.numpy() for k, v in
                                                lineage.best_state.items()})  # fmt: skip
            left = {"history": history_to_json(lineage.history),
                    "epochs_done": lineage.epochs_done,
                    "best_epoch": lineage.best_epoch if lineage.best_state is not None else None,
                    "optimizer": _optimizer_doc(optimizer_arrays(lineage.optimizer_state),
                                                tensors, f"r{run.id}/o/")}
        runs.append({"id": run.id, "parent": run.parent,
                     "fork": list(run.fork) if run.fork is not None else None,
                     "base_config": run.base_config, "config": run.config, "left": left})
    doc = {"format_version": TREE_VERSION, "budget_mb": store.budget_mb, "stride": store.stride,
           "current": tree.current, "best": [[r, e, b] for r, (e, b) in store.best.items()],
           "runs": runs, "checkpoints": checkpoints}
    return json.dumps(doc).encode(), save_arrays(tensors) if tensors else b""


def read_tree_member(zf: zipfile.ZipFile, spec: NetworkSpec) -> RunTree:
    """The tree in a session archive, reading no more than it can hold: the checkpoints' budget
    plus a few copies of the weights per run. A zip bomb (a gigabyte of zeros deflates to a
    megabyte) is refused from its recorded size before it is inflated. SessionError (a
    fragment) if it is too large or damaged."""
    try:
        if zf.getinfo(TREE_JSON).file_size > MAX_JSON_BYTES:
            raise SessionError("its run tree is implausibly large")
        doc = loads_json(zf.read(TREE_JSON))
        if not isinstance(doc, dict) or budget_problem(doc.get("budget_mb")):
            raise SessionError("its run tree is damaged (no valid checkpoint budget)")
        runs = doc.get("runs")
        weights = sum(v.numel() * v.element_size() for v in build_model(spec).state_dict().values())
        limit = (doc["budget_mb"] * 1024 * 1024
                 + (len(runs) + 1 if isinstance(runs, list) else 1) * COPIES_PER_RUN * weights
                 + 1024 * 1024)
        size = zf.getinfo(TREE_TENSORS).file_size
        if size > limit:
            raise SessionError("its run tree's checkpoints are larger than its budget allows")
        free = available_memory()
        if free is not None and size > free * MEMORY_SHARE:
            raise SessionError(f"its run tree's checkpoints ({size / 1e6:,.0f} MB) would not fit "
                               "in the memory free")
        return read_tree(doc, zf.read(TREE_TENSORS), spec)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SessionError(f"its run tree is damaged ({err})") from None


def read_tree(doc: bytes | dict[str, Any], tensor_bytes: bytes, spec: NetworkSpec) -> RunTree:
    """The tree back (from `runs.json`'s bytes or its parsed object); SessionError (a fragment:
    "its run tree ...") if anything is off."""
    try:
        if not isinstance(doc, dict):
            doc = loads_json(doc)
        tensors = load_arrays(tensor_bytes) if tensor_bytes else {}
    except (json.JSONDecodeError, UnicodeDecodeError, SafetensorError, ValueError) as err:
        raise SessionError(f"its run tree is damaged ({err})") from None
    try:
        return _tree(doc, tensors, _expected(spec))
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise SessionError(f"its run tree is damaged ({type(err).__name__}: {err})") from None


def _tree(doc: dict[str, Any], tensors: Arrays, expected: dict) -> RunTree:
    if doc["format_version"] != TREE_VERSION:
        raise ValueError(f"format {doc['format_version']!r}, this version reads {TREE_VERSION}")
    problem = budget_problem(doc["budget_mb"])
    if problem:
        raise ValueError(problem)
    runs: dict[int, Run] = {}
    for item in doc["runs"]:
        run = Run(_count(item["id"]), item["parent"],
                  None if item["fork"] is None else (_count(item["fork"][0]),
                                                     _count(item["fork"][1])),
                  dict(item["base_config"]), dict(item["config"]))
        left = item["left"]
        if left is not None:
            run.weights = _weights(tensors, f"r{run.id}/w/", expected)
            best = _weights(tensors, f"r{run.id}/b/", expected, optional=True)
            run.lineage = Lineage(
                history_from_json(left["history"]), _count(left["epochs_done"]),
                None if best is None else {k: _tensor(v) for k, v in best.items()},
                left["best_epoch"] if best is not None else None,
                optimizer_tensors(_optimizer(left["optimizer"], tensors, f"r{run.id}/o/")))
        runs[run.id] = run
    for run in runs.values():
        if run.parent is not None and run.parent not in runs:
            raise ValueError(f"run {run.id} branched from run {run.parent}, which is missing")
    current = doc["current"]
    if current not in runs:
        raise ValueError(f"the current run {current!r} is not one of its runs")
    items = []
    for i, item in enumerate(doc["checkpoints"]):
        if item["run"] not in runs or item["kind"] not in KINDS:
            raise ValueError(f"checkpoint {i} names run {item['run']!r}, kind {item['kind']!r}")
        items.append(Checkpoint(
            item["run"], _count(item["epoch"]), _weights(tensors, f"c{i}/w/", expected),
            _optimizer(item["optimizer"], tensors, f"c{i}/o/"), _count(item["batch"]),
            _count(item["step"]), item["kind"]))
    # Given its items at once, the store counts their bytes (and keys) as add() would have.
    store = CheckpointStore(doc["budget_mb"], items, int(doc["stride"]),
                            {_count(r): (_count(e), _count(b)) for r, e, b in doc["best"]})
    return RunTree(runs, current, store)


def _put(tensors: Arrays, prefix: str, weights: Arrays) -> None:
    for name, value in weights.items():
        tensors[prefix + name] = np.ascontiguousarray(value)


def _optimizer_doc(saved: OptimizerState | None, tensors: Arrays, prefix: str) -> dict | None:
    """The optimizer's settings and plain values as JSON; its arrays into `tensors`."""
    if saved is None:
        return None
    values: dict[str, dict] = {}
    scalars = []  # 0-d arrays (Adam's step) come back from safetensors with shape (1,)
    for i, state in saved.state_dict["state"].items():
        values[str(i)] = {}
        for name, value in state.items():
            if isinstance(value, np.ndarray):
                tensors[f"{prefix}{i}.{name}"] = np.ascontiguousarray(value)
                if value.ndim == 0:
                    scalars.append(f"{i}.{name}")
            else:
                values[str(i)][name] = value
    groups = json.loads(json.dumps(saved.state_dict["param_groups"]))  # tuples to lists
    return {"name": saved.optimizer, "param_groups": groups, "values": values,
            "scalars": scalars}


def _optimizer(doc: dict | None, tensors: Arrays, prefix: str) -> OptimizerState | None:
    if doc is None:
        return None
    state: dict[int, dict[str, Any]] = {int(i): dict(v) for i, v in doc["values"].items()}
    scalars = set(doc.get("scalars", []))
    for key, value in tensors.items():
        if key.startswith(prefix):
            index, name = key[len(prefix):].split(".", 1)
            if f"{index}.{name}" in scalars:
                value = value.reshape(())
            state.setdefault(int(index), {})[name] = value
    if not isinstance(doc["name"], str) or not isinstance(doc["param_groups"], list):
        raise ValueError("an optimizer state is malformed")
    return OptimizerState(doc["name"], {"state": state, "param_groups": doc["param_groups"]})


def _expected(spec: NetworkSpec) -> dict[str, tuple[tuple, np.dtype]]:
    return {k: (tuple(v.shape), v.numpy().dtype) for k, v in build_model(spec).state_dict().items()}


def _weights(tensors: Arrays, prefix: str, expected: dict, optional: bool = False) -> Arrays | None:
    found = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    if optional and not found:
        return None
    if MEAN_KEY in found or STD_KEY in found:  # a regression's target scaling buffers
        outputs = expected[max((k for k in expected if k.endswith(".bias")),
                               key=lambda k: int(k.split(".")[1]))][0]
        expected = {**expected, MEAN_KEY: (outputs, np.dtype(np.float32)),
                    STD_KEY: (outputs, np.dtype(np.float32))}
    if set(found) != set(expected):
        raise ValueError(f"the weights under {prefix} do not match the network")
    for name, (shape, dtype) in expected.items():
        if found[name].shape != shape or found[name].dtype != dtype:
            raise ValueError(f"tensor {prefix}{name} has shape {found[name].shape}, "
                             f"the network needs {shape}")
    return found


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array.copy())


def _count(value: object) -> int:
    if not is_count(value):
        raise ValueError(f"{value!r} is not a whole number >= 0")
    return value
