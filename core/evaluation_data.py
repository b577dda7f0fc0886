"""What a model file is evaluated on: any data `mlp-studio train --data` takes, read the way the
model's own data was.

- a table model (its TableSchema kept in the file): a CSV whose rows are encoded with that
  schema (column order, categories, missing-value fills), the target column giving the truth;
- a model of an image folder: a folder of class folders, pictures prepared as in training (the
  model's size and colour), each folder's class found among the model's classes by name;
- an MNIST-style model: an MNIST-format family (its official test split), or an image folder.

Data that does not fit the model is refused with what it holds and what the model takes.
A family is evaluated on its test split; a folder or table, which has none, on every sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from mlp_studio.core.bundle import ModelBundle
from mlp_studio.core.data import DataConfig, PreparedData, prepare_arrays, prepare_mnist
from mlp_studio.core.errors import DataFormatError, SpecError
from mlp_studio.core.table_reading import TABLE_SUFFIXES, rows_with_target, shown


@dataclass(frozen=True)
class EvaluationData:
    data: PreparedData  # raw inputs ("none" normalization) in x_test/y_test
    what: str  # "the test split of MNIST digits", "all 42 images of shapes"
    notes: tuple[str, ...] = ()


def evaluation_data(bundle: ModelBundle, path: str | None, *, dataset: str | None = None,
                    download: bool = True) -> EvaluationData:
    """The samples of `path` (None: the MNIST-format family `dataset` from its usual places)
    that `bundle` is evaluated on; SpecError/DataFormatError when they do not fit it."""
    is_table = path is not None and Path(path).suffix.lower() in TABLE_SUFFIXES
    if bundle.table is not None:
        if not is_table:
            raise SpecError(
                f"This model was trained on a table: evaluate it on a CSV file with the columns "
                f"{', '.join(c.name for c in bundle.table.columns)} and the target "
                f"'{bundle.table.target}'.")
        return _table(bundle, path)
    if is_table:
        raise SpecError(f"This model {_takes(bundle)}, not the rows of a table: evaluate it on "
                        f"{_fitting(bundle)}. A table needs a model trained on a table.")
    if not (bundle.image_shape or bundle.takes_images):
        raise SpecError(f"This model {_takes(bundle)}: evaluate works on models of MNIST-style "
                        "digits, image folders and tables.")
    from mlp_studio.core.dataset import load_data

    shape = bundle.image_shape or (28, 28)
    ds = load_data(path, dataset=dataset, image_size=shape[0], color=len(shape) == 3,
                   download=download)
    if ds.kind == "table":  # a .tsv or the like that load_data read as a table
        raise SpecError(f"This model {_takes(bundle)}, not the rows of a table: evaluate it "
                        f"on {_fitting(bundle)}.")
    if ds.input_shape != tuple(shape):
        raise SpecError(f"This model {_takes(bundle)}, but {ds.name} holds "
                        f"{_pictures(ds.input_shape)}: evaluate it on {_fitting(bundle)}.")
    if ds.kind == "mnist" and not bundle.image_shape:
        return _family(bundle, ds)
    return _pictures_by_name(bundle, ds)


def _takes(bundle: ModelBundle) -> str:
    if bundle.image_shape:
        return f"takes {_pictures(bundle.image_shape)}"
    if bundle.takes_images:
        return "takes 28x28 grayscale digits (MNIST-style)"
    return f"takes {bundle.feature_list()}"


def _pictures(shape: tuple[int, ...]) -> str:
    return f"{shape[0]}x{shape[1]} {'RGB' if len(shape) == 3 else 'grayscale'} pictures"


def _fitting(bundle: ModelBundle) -> str:
    names = ", ".join(bundle.class_names[:6]) + (", ..." if len(bundle.class_names) > 6 else "")
    if bundle.image_shape:
        return f"a folder with one subfolder of pictures per class ({names})"
    return "an MNIST-format folder or .npz, or a folder with one subfolder of pictures per class"


def _raw(x: np.ndarray, y: np.ndarray, class_names: list[str], task: str) -> PreparedData:
    """x and y as the test split, raw (evaluate_test normalizes them the model's way)."""
    x = x.reshape(len(x), -1).astype(np.float32)
    return prepare_arrays(x[:1], y[:1], x[:0], y[:0], x, y, "none", class_names, task)


def _family(bundle: ModelBundle, ds) -> EvaluationData:
    from mlp_studio.core.mnist import MnistArrays

    arrays = MnistArrays(ds.x_train, ds.y_train, ds.x_test, ds.y_test, ds.source)
    data = family_test_split(bundle, arrays, ds.name)
    return EvaluationData(data, f"the test split of {ds.name} ({len(data.x_test):,} images)",
                          ds.notes)


def family_test_split(bundle: ModelBundle, arrays, name: str = "MNIST") -> PreparedData:
    """An MNIST-style model's test data from a family's arrays (core.mnist.MnistArrays): the
    ten classes, or one digit against the rest for a model trained to spot it."""
    from mlp_studio.core.model_import import target_digit_of

    digit = target_digit_of(bundle.class_names)
    if digit is False:
        if bundle.spec.output_size != 10:
            raise SpecError(
                f"This model has {bundle.spec.output_size} outputs "
                f"({', '.join(bundle.class_names)}): the {name} test split has ten classes "
                "(or 'not d' and 'd' for a model trained to spot one digit).")
        digit = None  # ten outputs with other names: taken as the classes 0-9 in order
    # "none": the test inputs stay raw pixels, and evaluate_test normalizes them the model's way
    return prepare_mnist(arrays, DataConfig(normalization="none", target_digit=digit))


def _pictures_by_name(bundle: ModelBundle, ds) -> EvaluationData:
    """Every picture of `ds`, its class found among the model's by name."""
    x = ds.x_train if ds.x_test is None else np.concatenate([ds.x_train, ds.x_test])
    y = ds.y_train if ds.y_test is None else np.concatenate([ds.y_train, ds.y_test])
    unknown = [name for name in ds.class_names if name not in bundle.class_names]
    if unknown:
        raise SpecError(
            f"{ds.name} has the class{'es' if len(unknown) > 1 else ''} "
            f"{', '.join(map(repr, unknown[:5]))}, which the model does not know (its classes: "
            f"{', '.join(bundle.class_names)}): evaluate it on pictures of its own classes.")
    index = np.array([bundle.class_names.index(name) for name in ds.class_names], np.int64)
    data = _raw(x, index[y], list(bundle.class_names), "classification")
    return EvaluationData(data, f"all {len(x):,} images of {ds.name}", ds.notes)


def _table(bundle: ModelBundle, path: str) -> EvaluationData:
    """The rows of a CSV encoded with the model's schema; the target column is the truth."""
    from mlp_studio.core.table_reading import read_table
    from mlp_studio.core.table_schema import numbers

    schema = bundle.table
    table = read_table(path)
    if schema.target not in table.header:
        raise DataFormatError(
            f"{table.source} has no column '{shown(schema.target)}', the model's target: "
            "evaluate needs the true values beside the inputs (predict works without them).")
    table, notes = rows_with_target(table, schema.target, ": evaluate needs the true values.")
    x = schema.encode(table)
    cells = table.column(schema.target)
    if schema.task == "regression":
        y = numbers(table, schema.target, cells, 0.0).astype(np.float32)
        names = list(bundle.class_names)
    else:
        y = _classes_of(table, cells, schema)
        names = list(schema.classes)
    data = _raw(x, y, names, schema.task)
    return EvaluationData(data, f"all {len(x):,} rows of {Path(path).name}", tuple(notes))


def _classes_of(table, cells, schema) -> np.ndarray:
    """Each row's target as an index into the model's classes (named as in training: "3" for
    the number 3.0); DataFormatError naming the line of a value the model never saw."""
    from mlp_studio.core.tables import number_class_name

    if cells.numbers is not None:
        values = [number_class_name(v) for v in cells.numbers]
    else:
        values = [str(v) for v in cells.text]
    position = {name: i for i, name in enumerate(schema.classes)}
    y = np.empty(len(values), np.int64)
    for row, value in enumerate(values):
        if value not in position:
            raise DataFormatError(
                f"{table.source}, line {table.line(row)}: the target '{shown(schema.target)}' "
                f"is '{shown(value)}', not one of the model's classes "
                f"({', '.join(schema.classes[:10])}).")
        y[row] = position[value]
    return y
