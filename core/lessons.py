"""Lessons: the lecture as guided experiments, one JSON file each (resources/lessons/).

A lesson is data, so a teacher writes one without code (docs/lessons.md describes the format):
a short text with a question to answer by looking, the experiment that shows it (data source
with its settings, network, training and data settings, as a session holds them), variants of
that experiment to compare (another network, another optimizer...), the views to look at and
what the answer looks like. `read_lesson` checks a file completely and raises LessonError
naming the file and the field; `load_lessons` reads a folder, skipping (and reporting) the
files that are not valid, so one bad file never hides the others.

Settings a lesson leaves out are the data source's suggested ones (core.suggestions, what the
Data panel offers); the network's input and output sizes always follow from the data.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlp_studio.core.data import DataConfig
from mlp_studio.core.data_source import DataSource
from mlp_studio.core.errors import SessionError, SpecError, StudioError
from mlp_studio.core.model import NetworkSpec
from mlp_studio.core.paired import PairPlan, parse_change, plan_pair
from mlp_studio.core.playground import CLASSIFICATION_DATASETS
from mlp_studio.core.playground_settings import PlaygroundSettings
from mlp_studio.core.reading import loads_json, read_regular
from mlp_studio.core.run_settings import RunSettings, setting
from mlp_studio.core.suggestions import SUGGESTIONS
from mlp_studio.core.train_config import TrainConfig

FORMAT = "mlp-studio-lesson"
VERSION = 1
SUFFIX = ".json"
MAX_BYTES = 1024 * 1024  # a lesson is a few kB of text and settings
SOURCES = ("playground", "mnist", "table")  # "table": a CSV file beside the lesson
MNIST_INPUTS = 784
# What a lesson may raise: a dock, or a dock's tab ("dock/tab", the tab's title in lower case).
VIEWS = (
    "dataset", "designer", "training", "playground", "canvas",
    "training/curves", "training/gradients", "training/weights", "training/activations",
    "training/confusion", "compare", "backprop",
)  # fmt: skip
_TOP = {"format", "version", "id", "order", "title", "text", "question", "check", "experiment",
        "variants", "views", "help", "pair"}  # fmt: skip
_EXPERIMENT = {"source", "playground", "table", "network", "training", "data"}
_VARIANT = {"label", "source", "network", "training", "data", "playground", "table", "views"}
_TABLE = {"file", "target", "task"}


def bundled_folder() -> Path:
    """The lessons that come with MLP Studio (installed as mlp_studio.resources.lessons)."""
    return Path(__file__).resolve().parents[1] / "resources" / "lessons"


def help_topics() -> list[str]:
    """The Help pages' keys (resources/help/NN-key.md), which a lesson may point to."""
    folder = bundled_folder().parent / "help"
    return [p.stem.split("-", 1)[1] if p.stem[:2].isdigit() else p.stem
            for p in sorted(folder.glob("*.md"))]


class LessonError(StudioError):
    """A lesson file is not valid; the message names the file and the field."""


@dataclass(frozen=True)
class Setup:
    """One experiment, ready to apply: where the data comes from and every setting."""

    source: str  # one of SOURCES
    spec: NetworkSpec
    train_config: TrainConfig
    data_config: DataConfig
    playground: PlaygroundSettings | None  # the playground's data (source "playground")
    table: DataSource | None = None  # the CSV file and its target (source "table")


@dataclass(frozen=True)
class Variant:
    label: str  # what changes, in words ("one hidden layer of 4 tanh neurons")
    setup: Setup
    views: tuple[str, ...] | None  # None: the lesson's


@dataclass(frozen=True)
class Pair:
    """The experiment against itself with one setting changed, run side by side (core.paired):
    same seed, same initial weights where the shapes allow, same batches."""

    label: str  # what is compared, in words
    plan: PairPlan


@dataclass(frozen=True)
class Lesson:
    id: str
    order: int
    title: str
    text: str  # Markdown: what to do and what to look at
    question: str  # answered by looking
    check: str  # what the answer looks like ("" if the lesson gives none)
    setup: Setup
    variants: tuple[Variant, ...]
    views: tuple[str, ...]  # raised when the experiment loads, the first one in front
    pair: Pair | None  # a paired run the lesson offers
    help: str  # a Help topic's key ("backpropagation": resources/help/04-backpropagation.md)
    path: str  # the file it was read from


# ---------------------------------------------------------------- reading


def read_lesson(path: str | Path) -> Lesson:
    """The lesson in `path`; LessonError naming the file and the field when it is not valid."""
    path = Path(path)
    try:
        raw = read_regular(path, MAX_BYTES, "lesson file")
    except FileNotFoundError:
        raise LessonError(f"Lesson file {path.name}: it does not exist.") from None
    except OSError as err:
        raise LessonError(f"Lesson file {path.name}: cannot be read ({err.strerror}).") from None
    except StudioError as err:
        raise LessonError(f"Lesson file {path.name}: {err}") from None
    try:
        doc = loads_json(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        where = f" at line {err.lineno}, column {err.colno}" if hasattr(err, "lineno") else ""
        raise LessonError(f"Lesson file {path.name}: not valid JSON{where}: fix the file "
                          "(a JSON checker shows where).") from None
    try:
        return parse_lesson(doc, str(path))
    except _FieldError as err:
        raise LessonError(f"Lesson file {path.name}, field '{err.field}': {err.problem}") from None


def load_lessons(folder: str | Path | None = None) -> tuple[list[Lesson], list[str]]:
    """Every valid lesson in `folder` (default: the bundled ones) in the lecture's order, and
    one message per file that is not valid (or repeats another's id)."""
    folder = Path(folder) if folder is not None else bundled_folder()
    lessons: list[Lesson] = []
    problems: list[str] = []
    if not folder.is_dir():
        return [], [f"The lessons folder {folder} is missing: reinstall MLP Studio."]
    seen: dict[str, str] = {}
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        try:
            lesson = read_lesson(path)
        except LessonError as err:
            problems.append(str(err))
            continue
        if lesson.id in seen:
            problems.append(f"Lesson file {path.name}, field 'id': '{lesson.id}' is also the id "
                            f"of {seen[lesson.id]}: give each lesson its own id.")
            continue
        seen[lesson.id] = path.name
        lessons.append(lesson)
    lessons.sort(key=lambda lesson: (lesson.order, lesson.id))
    return lessons, problems


class _FieldError(Exception):
    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


def parse_lesson(doc: Any, path: str = "") -> Lesson:
    """A lesson from its JSON document (read_lesson's second half)."""
    _object(doc, "(the file)", _TOP)
    if doc.get("format") != FORMAT:
        raise _FieldError("format", f"must be \"{FORMAT}\" (this is how MLP Studio knows a "
                          "lesson file).")
    version = doc.get("version")
    if not _whole(version) or version < 1:
        raise _FieldError("version", f"must be a whole number (1), not {version!r}.")
    if version > VERSION:
        raise _FieldError("version", f"{version} is newer than this MLP Studio reads "
                          f"({VERSION}): update MLP Studio.")
    lesson_id = _text(doc, "id")
    if not all(c.isalnum() or c in "-_" for c in lesson_id):
        raise _FieldError("id", f"'{lesson_id}' may hold only letters, digits, - and _.")
    order = doc.get("order")
    if not _whole(order):
        raise _FieldError("order", f"must be a whole number (its place in the lecture), "
                          f"not {order!r}.")
    experiment = doc.get("experiment")
    base = _object(experiment, "experiment", _EXPERIMENT)
    setup = _setup(base, "experiment", path)
    variants = []
    items = doc.get("variants", [])
    if not isinstance(items, list):
        raise _FieldError("variants", "must be a list of variants ([] for none).")
    for i, item in enumerate(items):
        where = f"variants[{i}]"
        _object(item, where, _VARIANT)
        label = _text(item, "label", where)
        merged = copy.deepcopy(base)
        if "source" in item and item["source"] != base.get("source"):
            # Other data: the base's data settings are not about it.
            merged = {"source": item["source"]}
        for key in ("network", "training", "data", "playground", "table"):
            if key in item:
                changes = _object(item[key], f"{where}.{key}")
                merged[key] = {**merged.get(key, {}), **changes}
        views = _views(item["views"], f"{where}.views") if "views" in item else None
        variants.append(Variant(label, _setup(merged, where, path), views))
    views = _views(doc.get("views", []), "views")
    help_topic = doc.get("help", "")
    topics = help_topics()
    if not isinstance(help_topic, str) or (help_topic and help_topic not in topics):
        raise _FieldError("help", f"{help_topic!r} is not a Help topic; choose among "
                          f"{', '.join(topics)} (or leave it out).")
    return Lesson(
        id=lesson_id, order=order, title=_text(doc, "title"), text=_paragraphs(doc, "text"),
        question=_paragraphs(doc, "question"),
        check=_paragraphs(doc, "check") if "check" in doc else "",
        setup=setup, variants=tuple(variants), views=views, pair=_pair(doc, setup),
        help=help_topic, path=path,
    )


def _pair(doc: dict, setup: Setup) -> Pair | None:
    if "pair" not in doc:
        return None
    item = _object(doc["pair"], "pair", {"label", "change"})
    if setup.source != "playground":
        raise _FieldError("pair", "is offered for Playground experiments, whose points are "
                          "ready the moment the lesson loads: compare MNIST settings with a "
                          "variant.")
    label, change = _text(item, "label", "pair"), _text(item, "change", "pair")
    # Both runs train on the data as loaded (the Compare dock's pairs): the change is a network
    # or training setting; data settings are compared with variants.
    base = RunSettings(setup.spec, setup.train_config)
    try:
        name, value = parse_change(change)
        if setting(name).kind == "data":
            raise SpecError(f"{name} is a data setting, and both runs of a pair train on the "
                            "same loaded data: change a network or training setting, or "
                            "compare data settings with a variant.")
        return Pair(label, plan_pair(base, name, value))
    except SpecError as err:
        raise _FieldError("pair.change", str(err)) from None


def _setup(experiment: dict, where: str, path: str = "") -> Setup:
    source = experiment.get("source")
    if source not in SOURCES:
        raise _FieldError(f"{where}.source", f"must be one of {', '.join(SOURCES)}, "
                          f"not {source!r}.")
    suggestion = SUGGESTIONS["mnist" if source == "table" else source]
    table = _table(experiment, where, path) if source == "table" else None
    if source != "table" and "table" in experiment:
        raise _FieldError(f"{where}.table", "belongs to the source \"table\" only.")
    playground = None
    if source == "playground":
        fields = _object(experiment.get("playground", {}), f"{where}.playground")
        try:
            playground = PlaygroundSettings.from_dict(
                {**PlaygroundSettings().to_dict(), **fields})
        except SessionError as err:
            raise _FieldError(f"{where}.playground", str(err).replace(
                ": choose the data in the Playground again", "")) from None
        if playground.mode == "draw" and not playground.drawn:
            raise _FieldError(f"{where}.playground", "drawn points need a list 'drawn' of "
                              "[x1, x2, class] with 'drawn_train' flags.")
    elif "playground" in experiment:
        raise _FieldError(f"{where}.playground", "belongs to the source \"playground\" only.")

    data_fields = _object(experiment.get("data", {}), f"{where}.data")
    try:
        data_config = DataConfig.from_dict(data_fields)
    except SpecError as err:
        raise _FieldError(f"{where}.data", str(err)) from None
    digit = data_config.target_digit
    if source == "mnist" and digit is not None and not 0 <= digit <= 9:
        raise _FieldError(f"{where}.data.target_digit", f"{digit} is not a digit: MNIST's "
                          "classes are 0 to 9.")

    network = _object(experiment.get("network", {}), f"{where}.network")
    for key in ("input_size", "output_size"):
        if key in network:
            raise _FieldError(f"{where}.network.{key}", "follows from the data: leave it out.")
    try:
        spec = NetworkSpec.from_dict(network)
    except SpecError as err:
        raise _FieldError(f"{where}.network", str(err)) from None
    if "hidden" not in network:
        spec = suggestion.spec(spec)
        spec.init = network.get("init", spec.init)
    spec.input_size, spec.output_size = (
        data_size(source, playground, data_config) if table is None else _table_size(table))
    problems = spec.problems()
    if problems:
        raise _FieldError(f"{where}.network", " ".join(problems))

    training = _object(experiment.get("training", {}), f"{where}.training")
    base = suggestion.train_config(TrainConfig()).to_dict()
    try:
        train_config = TrainConfig.from_dict({**base, **training})
    except (SpecError, TypeError) as err:
        raise _FieldError(f"{where}.training", str(err)) from None
    return Setup(source, spec, train_config, data_config, playground, table)


def _table(experiment: dict, where: str, path: str) -> DataSource:
    item = _object(experiment.get("table"), f"{where}.table", _TABLE)
    name = _text(item, "file", f"{where}.table")
    file = Path(path).parent / name
    if Path(name).name != name or not file.is_file():
        raise _FieldError(f"{where}.table.file", f"'{name}' is not a file beside the lesson: "
                          "put the CSV file in the lessons folder and give its name.")
    try:
        source = DataSource(kind="table", path=str(file), target=str(item.get("target", "")),
                            task=str(item.get("task", "auto")))
        source.validate()
        _table_size(source)
    except StudioError as err:
        raise _FieldError(f"{where}.table", str(err)) from None
    return source


def _table_size(source: DataSource) -> tuple[int, int]:
    """Inputs and outputs of a network for the table, as the Data panel encodes it."""
    from mlp_studio.core.tables import table_data

    args = source.load_arguments()
    data = table_data(args["path"], target=args["target"], task=args["task"])
    outputs = 1 if data.schema.task == "regression" else len(data.class_names)
    return int(data.x.shape[1]), outputs


def data_size(source: str, playground: PlaygroundSettings | None,
              data_config: DataConfig) -> tuple[int, int]:
    """The network's input and output sizes for the data a setup names."""
    if source == "mnist":
        return MNIST_INPUTS, 2 if data_config.target_digit is not None else 10
    assert playground is not None
    inputs = len(playground.features)
    if playground.dataset not in CLASSIFICATION_DATASETS or playground.task == "regression":
        return inputs, 1
    if playground.mode == "draw":
        return inputs, max(c for _, _, c in playground.drawn) + 1
    return inputs, playground.classes if playground.dataset == "spiral" else 2


# ---------------------------------------------------------------- small checks


def _views(views: Any, where: str) -> tuple[str, ...]:
    if not isinstance(views, list) or not all(isinstance(v, str) for v in views):
        raise _FieldError(where, "must be a list of view names, e.g. [\"playground\"].")
    for view in views:
        if view not in VIEWS:
            raise _FieldError(where, f"'{view}' is not a view; choose among {', '.join(VIEWS)}.")
    return tuple(views)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _object(value: Any, where: str, known: set[str] | None = None) -> dict:
    if not isinstance(value, dict):
        raise _FieldError(where, f"must be a JSON object {{...}}, not {_kind(value)}.")
    if known is not None:
        unknown = sorted(set(value) - known)
        if unknown:
            raise _FieldError(where, f"unknown key(s) {', '.join(unknown)}; known: "
                              f"{', '.join(sorted(known))}.")
    return value


def _text(doc: dict, key: str, where: str = "") -> str:
    field = f"{where}.{key}" if where else key
    value = doc.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _FieldError(field, f"must be a text, not {_kind(value)}.")
    return value.strip()


def _paragraphs(doc: dict, key: str) -> str:
    """A text, or a list of paragraphs (easier to write in JSON than one long string)."""
    value = doc.get(key)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "\n\n".join(v.strip() for v in value)
    return _text(doc, key)


def _kind(value: Any) -> str:
    if value is None:
        return "missing"
    return {dict: "an object", list: "a list", str: "a text", bool: "true/false"}.get(
        type(value), f"the number {value!r}" if isinstance(value, int | float) else repr(value))
