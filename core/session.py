"""Sessions: everything needed to continue an experiment, in one `.mlps` file.

A session file is a zip archive (see docs/session-format.md) of
- `session.json`: the network spec, data settings and normalization, training settings, class
  names, the training history (curves, confusion matrices per epoch), epochs done, timestamps;
- `weights.safetensors`: the current weights;
- `best.safetensors` (optional): the weights of the best validation loss so far;
- `optimizer.safetensors` (optional): where the optimizer left off (e.g. Adam's moments), so a
  continued run does not start it afresh;
- `runs.json` and `runs.safetensors` (optional): the run tree and its checkpoints
  (core.run_tree_files);
- `pairs.json` and `pairs.safetensors` (optional): the Compare dock's paired runs
  (core.paired_files).

Nothing in a session is code: JSON and safetensors only, never pickle. The GUI and the CLI
(`mlp-studio train --session FILE`) read and write the same files.
"""

import io
import json
import logging
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlp_studio.core import paired_files
from mlp_studio.core.bundle import app_version, check_finite, check_weights, code_file_refusal
from mlp_studio.core.data import DataConfig, Normalization
from mlp_studio.core.data_source import DataSource
from mlp_studio.core.errors import ExportError, OutputError, SessionError, SpecError
from mlp_studio.core.losses import canonical_loss
from mlp_studio.core.model import NetworkSpec, build_model, parameter_count
from mlp_studio.core.optimizers import state_problem
from mlp_studio.core.outputs import atomic_write
from mlp_studio.core.reading import existing_file, loads_json
from mlp_studio.core.run_tree import RunTree
from mlp_studio.core.run_tree_files import TREE_JSON, TREE_TENSORS, read_tree_member, tree_members
from mlp_studio.core.session_history import history_from_json, history_to_json, is_count
from mlp_studio.core.session_migrations import MIGRATIONS
from mlp_studio.core.table_schema import TableSchema
from mlp_studio.core.training import History, OptimizerState, TrainConfig
from safetensors import SafetensorError
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save
from torch import Tensor

log = logging.getLogger(__name__)

FORMAT = "mlp-studio-session"
FORMAT_VERSION = 2  # 2: data_config.target_scaling (core.session_migrations)
SUFFIX = ".mlps"
SESSION_JSON = "session.json"
WEIGHTS = "weights.safetensors"
BEST_WEIGHTS = "best.safetensors"
OPTIMIZER = "optimizer.safetensors"
MAX_JSON_BYTES = 256 * 1024 * 1024  # a long history is a few MB; refuse zip bombs early
HEADER_SLACK = 1024 * 1024  # room for a safetensors header beyond the tensor bytes
# Trained float32 weights deflate by only ~7% (they are noise to zlib), at ~10 MB/s even at
# level 1 on a slow CPU: 0.6 s for a 784-512-512-10 session. They are stored; the JSON
# (mostly digits) is deflated to about a third. Readers handle both: zip records the method.


@dataclass
class Session:
    """A saved experiment: what to build, on which data, how to train, and how far it got."""

    spec: NetworkSpec
    weights: dict[str, Tensor]  # the current model's state_dict (CPU)
    data_config: DataConfig = field(default_factory=DataConfig)
    train_config: TrainConfig = field(default_factory=TrainConfig)
    normalization: Normalization | None = None  # None: data was never prepared
    class_names: list[str] = field(default_factory=lambda: [str(d) for d in range(10)])
    history: History = field(default_factory=History)
    best_weights: dict[str, Tensor] | None = None
    best_epoch: int | None = None
    epochs_done: int = 0
    data_source: str = ""  # where the MNIST files were read from, for display and the CLI
    # What the data is and how it was read (family, image folder, table; see
    # core.data_source), so that opening the session loads the same data; None: MNIST from
    # `data_source` (sessions saved before it), or playground data.
    data: DataSource | None = None
    created: str = ""  # ISO 8601 UTC; save_session fills these in
    modified: str = ""
    app_version: str = ""  # of the MLP Studio that last saved the file
    # The 2-D playground's data settings (generator settings, or drawn/imported points) when
    # the session trained on playground data; None for MNIST. The GUI reads and writes it.
    playground: dict[str, Any] | None = None
    # Where the optimizer left off after the last run (None: a continued run starts it afresh).
    optimizer_state: OptimizerState | None = None
    # A recovery autosave only: the session file it is the unsaved state of ("" if none), so a
    # restored session is that file again, with its changes unsaved.
    recovered_from: str = ""
    # A model trained on a table: how its rows were encoded (core.table_schema), for exports
    # and predictions with the weights it trained; None for any other data.
    table: TableSchema | None = None
    # Every run's checkpoints and how runs branched (core.run_tree; the current run's own
    # weights, history and optimizer are the fields above). None: no tree was kept.
    run_tree: RunTree | None = None
    # The Compare dock's paired runs (core.paired_files); None: no comparison was kept.
    pairs: paired_files.SavedPairs | None = None


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------- saving


def session_to_json(session: Session) -> dict[str, Any]:
    """The `session.json` document (without the weights)."""
    norm = session.normalization
    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "app_version": session.app_version,
        "created": session.created,
        "modified": session.modified,
        "spec": session.spec.to_dict(),
        "data_config": session.data_config.to_dict(),
        "data_source": session.data_source,
        "normalization": None if norm is None else norm.to_dict(),
        "train_config": session.train_config.to_dict(),
        "loss": canonical_loss(session.train_config.loss),  # for readers; train_config rules
        "class_names": list(session.class_names),
        "epochs_done": session.epochs_done,
        "best_epoch": session.best_epoch,
        "history": history_to_json(session.history),
    }
    if session.data is not None:  # optional: older readers ignore it and read data_source
        doc["data"] = session.data.to_dict()
    if session.table is not None:
        doc["table"] = session.table.to_dict()
    if session.playground is not None:  # optional: MNIST sessions look as they always did
        doc["playground"] = session.playground
    if session.optimizer_state is not None:
        doc["optimizer"] = _optimizer_to_json(session.optimizer_state)
    if session.recovered_from:
        doc["recovered_from"] = session.recovered_from
    return doc


def _optimizer_to_json(saved: OptimizerState) -> dict[str, Any]:
    """The optimizer's settings and non-tensor state; its tensors go to OPTIMIZER, named
    "<parameter index>.<name>" (e.g. "0.exp_avg")."""
    return {
        "name": saved.optimizer,
        "param_groups": json.loads(json.dumps(saved.state_dict["param_groups"])),  # tuples
        "values": {str(i): {k: v for k, v in values.items() if not isinstance(v, Tensor)}
                   for i, values in saved.state_dict["state"].items()},  # fmt: skip
    }


def _optimizer_tensors(saved: OptimizerState) -> dict[str, Tensor]:
    return {f"{i}.{k}": v for i, values in saved.state_dict["state"].items()
            for k, v in values.items() if isinstance(v, Tensor)}  # fmt: skip


def session_bytes(session: Session) -> bytes:
    """The complete `.mlps` file as bytes; SessionError if the session could not be read back."""
    try:
        _check_session(session)
    except (SessionError, ExportError, SpecError) as err:
        raise SessionError(f"Cannot save this session: {err}") from None
    text = json.dumps(session_to_json(session))
    buffer = io.BytesIO()
    stamp = _zip_time(session.modified)
    with zipfile.ZipFile(buffer, "w") as zf:
        _write_member(zf, SESSION_JSON, text.encode(), stamp, zipfile.ZIP_DEFLATED)
        _write_member(zf, WEIGHTS, _tensor_bytes(session.weights), stamp, zipfile.ZIP_STORED)
        if session.best_weights is not None:
            best = _tensor_bytes(session.best_weights)
            _write_member(zf, BEST_WEIGHTS, best, stamp, zipfile.ZIP_STORED)
        if session.optimizer_state is not None:
            moments = _tensor_bytes(_optimizer_tensors(session.optimizer_state))
            _write_member(zf, OPTIMIZER, moments, stamp, zipfile.ZIP_STORED)
        if session.run_tree is not None:
            doc, tensors = tree_members(session.run_tree)
            _write_member(zf, TREE_JSON, doc, stamp, zipfile.ZIP_DEFLATED)
            _write_member(zf, TREE_TENSORS, tensors, stamp, zipfile.ZIP_STORED)
        if session.pairs is not None:
            doc, tensors = paired_files.pairs_members(session.pairs)
            _write_member(zf, paired_files.PAIRS_JSON, doc, stamp, zipfile.ZIP_DEFLATED)
            _write_member(zf, paired_files.PAIRS_TENSORS, tensors, stamp, zipfile.ZIP_STORED)
    return buffer.getvalue()


def save_session(session: Session, path: str | Path) -> Path:
    """Write `session` to `path` atomically: a crash leaves the old file or the new one.

    Sets session.modified (and session.created, if empty) and session.app_version.
    """
    path = Path(path)
    stamp = now()
    session.created = session.created or stamp
    session.modified = stamp
    session.app_version = app_version()
    data = session_bytes(session)
    try:
        atomic_write(path, data)
    except OutputError as err:  # its message names the file and the reason
        raise SessionError(str(err)) from None
    return path


def _check_session(session: Session) -> None:
    """What load_session would refuse, refused before anything is written."""
    session.spec.validate()
    session.data_config.validate()
    session.train_config.validate()
    check_weights(session.spec, session.weights)
    best = session.best_weights
    if best is not None and _shapes(best) != _shapes(session.weights):
        check_weights(session.spec, best)  # builds the network again, for a precise message
    _check_fields(
        session.spec,
        session.normalization,
        session.class_names,
        session.epochs_done,
        session.best_epoch,
    )


def _shapes(state: dict[str, Tensor]) -> dict[str, tuple]:
    return {k: (tuple(v.shape), v.dtype) for k, v in state.items()}


def _tensor_bytes(state: dict[str, Tensor]) -> bytes:
    return safetensors_save({k: v.detach().cpu().contiguous() for k, v in state.items()})


def _write_member(zf: zipfile.ZipFile, name: str, data: bytes, stamp: tuple, method: int) -> None:
    info = zipfile.ZipInfo(name, date_time=stamp)
    info.compress_type = method
    info.external_attr = 0o644 << 16  # unzip tools otherwise extract it as mode 000
    zf.writestr(info, data, compresslevel=1)  # 3x faster than the default, 7% larger


def _zip_time(iso: str) -> tuple[int, int, int, int, int, int]:
    """Zip stores local-less times from 1980 on; use the session's modification time."""
    try:
        t = datetime.fromisoformat(iso)
    except ValueError:
        t = datetime.now(timezone.utc)
    return max(t.timetuple()[:6], (1980, 1, 1, 0, 0, 0))


# ---------------------------------------------------------------- loading


def load_session(path: str | Path) -> Session:
    """Read and validate a `.mlps` file; older formats are migrated, newer ones refused.

    Every problem raises SessionError with a message a user can act on.
    """
    path = Path(path)
    if code_file_refusal(path):  # before anything reads it
        raise SessionError(code_file_refusal(path))
    existing_file(path, SessionError, "a session file (*.mlps)")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if SESSION_JSON not in names and any(n.endswith(".pkl") for n in names):
                raise SessionError(
                    "it is a TorchScript or PyTorch file, not a session. MLP Studio does not "
                    "load those (they carry code that runs on loading): open a .mlps session "
                    "or a .safetensors or .onnx export"
                )
            for member in (SESSION_JSON, WEIGHTS):
                if member not in names:
                    raise SessionError(
                        f"it is a zip archive but has no {member}, so it is not an MLP Studio "
                        "session (or it was damaged)"
                    )
            meta = _migrate(_read_json(zf))
            session = _session_from_json(meta)
            session.weights = _read_weights(zf, WEIGHTS, session.spec)
            if BEST_WEIGHTS in names:
                session.best_weights = _read_weights(zf, BEST_WEIGHTS, session.spec)
            if OPTIMIZER in names and isinstance(meta.get("optimizer"), dict):
                session.optimizer_state = _read_optimizer(zf, meta["optimizer"], session)
            if TREE_JSON in names and TREE_TENSORS in names:
                session.run_tree = _read_tree(zf, session.spec)
            session.pairs = paired_files.read_pairs_member(zf)
    except SessionError as err:
        raise SessionError(f"Cannot open {path}: {err}.") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as err:
        raise SessionError(
            f"Cannot open {path}: it is not an MLP Studio session or it is damaged "
            f"({_first_line(err)}). Open a .mlps file saved by MLP Studio."
        ) from None
    except OSError as err:
        raise SessionError(f"Cannot open {path}: {err.strerror or err}.") from None
    return session


def _read_optimizer(zf: zipfile.ZipFile, doc: dict[str, Any],
                    session: Session) -> OptimizerState | None:
    """The saved optimizer state, or None when it cannot be used: it is optional (a continued
    run then starts the optimizer afresh, as before it was saved), so it never stops a
    session from opening."""
    limit = 4 * sum(v.numel() * v.element_size() for v in session.weights.values())
    try:
        if zf.getinfo(OPTIMIZER).file_size > limit + HEADER_SLACK:
            raise ValueError("implausibly large")
        tensors = safetensors_load(zf.read(OPTIMIZER))
        state: dict[int, dict[str, Any]] = {
            int(i): dict(values) for i, values in doc.get("values", {}).items()}  # fmt: skip
        for key, tensor in tensors.items():
            index, name = key.split(".", 1)
            state.setdefault(int(index), {})[name] = tensor
        groups = doc["param_groups"]
        if not isinstance(doc["name"], str) or not isinstance(groups, list):
            raise ValueError("malformed")
    except (KeyError, ValueError, TypeError, AttributeError, SafetensorError,
            zipfile.BadZipFile, zlib.error, EOFError) as err:
        log.warning("session optimizer state ignored: %s", err)
        return None
    saved = OptimizerState(doc["name"], {"state": state, "param_groups": groups})
    # Negative second moments or NaN would make the next run diverge: start afresh instead.
    problem = state_problem(saved, [p.shape for p in build_model(session.spec).parameters()])
    if problem is not None:
        log.warning("session optimizer state ignored: %s", problem)
        return None
    return saved


def _read_tree(zf: zipfile.ZipFile, spec: NetworkSpec) -> RunTree | None:
    """The run tree, or None when it cannot be used: like the optimizer state it is extra (the
    session's own weights and history are whole without it), so it never stops a session
    from opening."""
    try:
        return read_tree_member(zf, spec)
    except (SessionError, zipfile.BadZipFile, zlib.error, EOFError) as err:
        log.warning("session run tree ignored: %s", err)
        return None


# The helpers below raise SessionError with a sentence fragment; load_session puts
# "Cannot open <file>: " in front.


def _read_json(zf: zipfile.ZipFile) -> dict[str, Any]:
    if zf.getinfo(SESSION_JSON).file_size > MAX_JSON_BYTES:
        raise SessionError(f"its {SESSION_JSON} is implausibly large")
    try:
        meta = loads_json(zf.read(SESSION_JSON))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SessionError(f"its {SESSION_JSON} is not valid JSON ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise SessionError("it does not contain an MLP Studio session description")
    return meta


def _migrate(meta: dict[str, Any]) -> dict[str, Any]:
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise SessionError(f"its format version {version!r} is not valid")
    if version > FORMAT_VERSION:
        raise SessionError(
            f"it was saved by a newer MLP Studio (format {version}); this version reads up to "
            f"format {FORMAT_VERSION}. Update MLP Studio to open it"
        )
    while version < FORMAT_VERSION:
        meta = MIGRATIONS[version](meta)
        version = meta["format_version"]
    return meta


def _session_from_json(meta: dict[str, Any]) -> Session:
    try:
        spec = NetworkSpec.from_dict(meta.get("spec"))
        spec.validate()
        data_config = DataConfig.from_dict(_mapping(meta, "data_config"))
        train_config = TrainConfig.from_dict(_mapping(meta, "train_config"))
        norm = meta.get("normalization")
        normalization = None if norm is None else Normalization.from_dict(norm)
    except (SpecError, TypeError, ValueError) as err:
        raise SessionError(f"its settings are invalid: {str(err).rstrip('.')}") from None
    history = history_from_json(_mapping(meta, "history"))
    names = meta.get("class_names")
    epochs_done, best_epoch = meta.get("epochs_done", 0), meta.get("best_epoch")
    _check_fields(spec, normalization, names, epochs_done, best_epoch)
    strings = {k: meta.get(k, "") for k in ("data_source", "created", "modified", "app_version")}
    if not all(isinstance(v, str) for v in strings.values()):
        raise SessionError("its data source, timestamps or app version are not text")
    playground = meta.get("playground")
    if playground is not None and not isinstance(playground, dict):
        raise SessionError("its playground settings are not a JSON object")
    try:
        data = None if meta.get("data") is None else DataSource.from_dict(meta["data"])
    except SpecError as err:
        raise SessionError(f"its data source is invalid: {err}") from None
    try:
        table = None if meta.get("table") is None else TableSchema.from_dict(meta["table"])
    except SpecError as err:
        raise SessionError(f"{err}") from None
    recovered_from = meta.get("recovered_from", "")
    if not isinstance(recovered_from, str):
        raise SessionError("the file it was recovered from is not text")
    return Session(
        spec,
        {},
        data_config,
        train_config,
        normalization,
        list(names),
        history,
        None,
        best_epoch,
        epochs_done,
        **strings,
        data=data,
        playground=playground,
        recovered_from=recovered_from,
        table=table,
    )


def _mapping(meta: dict[str, Any], key: str) -> dict[str, Any]:
    value = meta.get(key)
    if not isinstance(value, dict):
        raise SessionError(f"its {key} is missing or not a JSON object")
    return value


def _check_fields(
    spec: NetworkSpec,
    normalization: Normalization | None,
    names: object,
    epochs_done: object,
    best_epoch: object,
) -> None:
    if normalization is not None and normalization.size != spec.input_size:
        raise SessionError(
            f"its normalization has {normalization.size} values for {spec.input_size} inputs"
        )
    if not (
        isinstance(names, list)
        and all(isinstance(n, str) for n in names)
        and len(names) == spec.output_size
    ):
        raise SessionError(f"its class names are not a list of {spec.output_size} strings")
    if not is_count(epochs_done):
        raise SessionError(f"its epochs done ({epochs_done!r}) is not a whole number >= 0")
    if best_epoch is not None and not (is_count(best_epoch) and 1 <= best_epoch <= epochs_done):
        raise SessionError(f"its best epoch ({best_epoch!r}) is not one of its epochs")


def _read_weights(zf: zipfile.ZipFile, member: str, spec: NetworkSpec) -> dict[str, Tensor]:
    # Buffers (batch-norm statistics) are fewer than the parameters: twice covers both.
    limit = 2 * 4 * parameter_count(spec) + HEADER_SLACK
    if zf.getinfo(member).file_size > limit:
        raise SessionError(f"its {member} is larger than the network's weights can be")
    try:
        state = safetensors_load(zf.read(member))
    except (SafetensorError, ValueError) as err:
        raise SessionError(f"its {member} is not valid safetensors ({_first_line(err)})") from None
    try:
        check_weights(spec, state)
        check_finite(state)
    except ExportError as err:
        raise SessionError(f"its {member}: {err}") from None
    return state


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__
