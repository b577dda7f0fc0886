"""Tables from CSV files (core.tables, core.table_reading, core.table_schema): inference,
imputation, one-hot encoding, the schema's round trip, the preview, and every bad input."""

import os
import stat

import numpy as np
import pytest
from mlp_studio.core import limits
from mlp_studio.core.errors import DataFormatError, SpecError, StudioError
from mlp_studio.core.table_reading import read_table
from mlp_studio.core.table_schema import TableSchema
from mlp_studio.core.tables import preview, table_data

PEOPLE = """id,age,city,income,label
p1,23,Paris,1000.5,yes
p2,,Lyon,2000,no
p3,45,,1500,yes
p4,31,Paris,NA,no
p5,52,Nice,3000,
"""


def write(tmp_path, text: str, name: str = "t.csv", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_infers_kinds_imputes_and_one_hot_encodes(tmp_path):
    data = table_data(write(tmp_path, PEOPLE))
    schema = data.schema
    assert schema.target == "label" and schema.task == "classification"
    assert schema.classes == ("no", "yes") and data.class_names == ["no", "yes"]
    # id: one distinct text per row, an identifier: left out, and said so
    assert schema.ignored == ("id",)
    assert schema.feature_names == ["age", "city=Lyon", "city=Paris", "income"]
    # p5 has no label: left out; medians and the most frequent city of the other four rows
    np.testing.assert_allclose(data.x, [[23, 0, 1, 1000.5], [31, 1, 0, 2000],
                                        [45, 0, 1, 1500], [31, 0, 1, 1500]])
    assert data.x.dtype == np.float32 and data.y.tolist() == [1, 0, 1, 0]
    notes = " ".join(data.notes)
    assert "1 row without a value in the target column 'label' was left out" in notes
    assert "'age': 1 of 4 values missing, filled with the median 31" in notes
    assert "'city': 1 of 4 values missing, filled with the most frequent value 'Paris'" in notes
    assert "'income': 1 of 4" in notes and "Column 'id' was left out" in notes


def test_the_target_can_be_named_and_the_task_overridden(tmp_path):
    path = write(tmp_path, PEOPLE)
    data = table_data(path, target="income")
    assert data.schema.task == "regression" and data.class_names == ["income"]
    assert data.y.dtype == np.float32 and data.y.tolist() == [1000.5, 2000, 1500, 3000]
    assert "label" in [c.name for c in data.schema.columns]
    as_classes = table_data(path, target="age", task="classification")
    assert as_classes.schema.classes == ("23", "31", "45", "52")
    with pytest.raises(SpecError, match="no column 'wage'.*id, age, city, income, label"):
        table_data(path, target="wage")
    with pytest.raises(SpecError, match="holds 'yes', not a number: regression"):
        table_data(path, target="label", task="regression")
    with pytest.raises(SpecError, match="Unknown task"):
        table_data(path, task="clustering")


@pytest.mark.parametrize("values,task", [
    ("0 1 1 0 1", "classification"),  # few whole numbers: classes
    ("3 5 8 5 9", "classification"),
    ("0.5 1.5 2.25 3 4", "regression"),  # fractions: a quantity
    (" ".join(str(v) for v in range(30)), "regression"),  # many whole numbers: a quantity
])
def test_task_inference(tmp_path, values, task):
    ys = values.split()
    text = "x,y\n" + "".join(f"{i},{v}\n" for i, v in enumerate(ys))
    data = table_data(write(tmp_path, text))
    assert data.schema.task == task
    if task == "classification":  # numbers sort as numbers, named without ".0"
        assert list(data.schema.classes) == sorted(set(ys), key=float)


def test_semicolons_tabs_quotes_and_decimal_commas(tmp_path):
    semi = table_data(write(tmp_path, "a;b;y\n1,5;x;0\n2,5;y;1\n3;x;0\n", "s.csv"))
    np.testing.assert_allclose(semi.x[:, 0], [1.5, 2.5, 3])
    tab = table_data(write(tmp_path, "a\tb\ty\n1\t2\t0\n3\t4\t1\n", "t.tsv"))
    np.testing.assert_allclose(tab.x, [[1, 2], [3, 4]])
    quoted = table_data(write(tmp_path, 'name,v,y\n"Smith, J",1,a\n"Doe, A",2,b\n', "q.csv"),
                        target="y")
    assert quoted.schema.feature_names == ["name=Doe, A", "name=Smith, J", "v"]
    bom = table_data(write(tmp_path, "\ufeffa,y\n1,0\n2,1\n", "bom.csv"))
    assert bom.schema.columns[0].name == "a"


def test_blank_lines_and_crlf_are_fine_and_line_numbers_stay_right(tmp_path):
    data = table_data(write(tmp_path, "a,b,y\r\n1,2,0\r\n\r\n3,4,1\r\n"))
    np.testing.assert_allclose(data.x, [[1, 2], [3, 4]])
    with pytest.raises(DataFormatError, match="line 4: column 'a' holds 'inf'"):
        table_data(write(tmp_path, "a,b,y\n1,2,0\n\ninf,4,1\n"))


def test_schema_round_trips_and_encodes_new_rows(tmp_path):
    data = table_data(write(tmp_path, PEOPLE))
    schema = TableSchema.from_dict(data.schema.to_dict())
    assert schema == data.schema
    # other column order, no target, a missing city -> Paris, a missing age -> 31
    new = read_table(write(tmp_path, "income,city,age\n10,Lyon,\n20,,40\n", "new.csv"))
    np.testing.assert_allclose(schema.encode(new), [[31, 1, 0, 10], [40, 0, 1, 20]])
    with pytest.raises(DataFormatError, match=r"line 3: column 'city' holds 'Rome', a category "
                                              r"the model never saw.*'Lyon', 'Paris'"):
        schema.encode(read_table(write(tmp_path, "age,city,income\n1,Lyon,2\n1,Rome,2\n",
                                       "rome.csv")))
    with pytest.raises(DataFormatError, match="no column 'income'"):
        schema.encode(read_table(write(tmp_path, "age,city\n1,Lyon\n", "short.csv")))
    with pytest.raises(DataFormatError, match="line 2: column 'age' holds 'old', not a number"):
        schema.encode(read_table(write(tmp_path, "age,city,income\nold,Lyon,2\n", "o.csv")))


@pytest.mark.parametrize("damage", [
    {"columns": []}, {"task": "clustering"}, {"target": 3},
    {"columns": [{"name": "a", "kind": "numeric", "fill": "x"}]},
    {"columns": [{"name": "c", "kind": "categorical", "fill": "z", "categories": ["a", "b"]}]},
    {"columns": [{"name": "c", "kind": "categorical", "fill": "a", "categories": ["b", "a"]}]},
])
def test_a_damaged_schema_is_refused(tmp_path, damage):
    doc = table_data(write(tmp_path, PEOPLE)).schema.to_dict() | damage
    with pytest.raises(SpecError, match="table description"):
        TableSchema.from_dict(doc)


def test_preview_shows_rows_kinds_missing_counts_and_target(tmp_path):
    path = write(tmp_path, PEOPLE)
    p = preview(path, rows=2)
    assert p.header == ["id", "age", "city", "income", "label"] and p.total_rows == 5
    assert p.rows == [["p1", "23", "Paris", "1000.5", "yes"], ["p2", "", "Lyon", "2000", "no"]]
    kinds = {c.name: (c.kind, c.missing) for c in p.columns}
    assert kinds == {"id": ("left out", 0), "age": ("numeric", 1), "city": ("categorical", 1),
                     "income": ("numeric", 1), "label": ("categorical", 1)}
    assert p.target == "label" and p.task == "classification" and p.problem == ""
    assert preview(path, target="income").task == "regression"
    constant = preview(write(tmp_path, "a,y\n1,5\n2,5\n", "c.csv"))
    assert constant.task is None and "one value only" in constant.problem


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("text,message", [
    ("", "is empty"),
    ("\n\n  \n", "is empty"),
    ("a,b,y\n", "no rows of values"),
    ("a,b,y\n1,2,3\n4,5\n", "line 3: 2 values, but the header names 3 columns"),
    ("1,2,3\n4,5,6\n", "no header row: its first row is all numbers"),
    ("only\n1\n2\n", "a single column"),
    ("a,a,y\n1,2,0\n", "names the column 'a' twice"),
    ("a,y\n1,\n2,\n", "the target column 'y' is empty"),
    ("a,y\n1,7\n2,7\n3,7\n", "holds one value only \\('7'\\)"),
    ("a,y\n1,0\nnan,1\n", "line 3: column 'a' holds 'nan', which is not a finite number"),
    ("a,y\n1,0\n2,-inf\n", "line 3: column 'y' holds '-inf' .infinite, or a number too large"),
    ('a,y\n1,"0\n2,1\n', "line 3: unexpected end of data. Fix that line \\(a quote"),
    ("a,y\n1,0\n2,1\n3,x\n" + "".join(f"{i},{i}.5\n" for i in range(3000)),
     "3,003 distinct values: too many classes"),
])
def test_bad_tables_get_a_clear_message(tmp_path, text, message):
    with pytest.raises(StudioError, match=message):
        table_data(write(tmp_path, text))


def test_a_regression_with_thousands_of_values_is_fine(tmp_path):
    text = "a,y\n" + "".join(f"{i},{i}.5\n" for i in range(3000))
    assert table_data(write(tmp_path, text)).schema.task == "regression"


def test_not_utf8_names_the_line_and_says_how_to_save(tmp_path):
    path = write(tmp_path, "a,city,y\n1,Paris,0\n2,Orl\u00e9ans,1\n", encoding="latin-1")
    with pytest.raises(DataFormatError, match="not UTF-8 text \\(line 3 holds the byte 0xE9\\)"
                                              ".*CSV UTF-8"):
        table_data(path)


def test_not_a_regular_file(tmp_path):
    with pytest.raises(DataFormatError, match="is a folder"):
        table_data(tmp_path)
    with pytest.raises(DataFormatError, match="does not exist"):
        table_data(tmp_path / "nothing.csv")
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    with pytest.raises(DataFormatError, match="not a regular file \\(it is a named pipe\\)"):
        table_data(fifo)  # returns at once: never waits for a writer
    if os.path.exists("/dev/zero"):
        with pytest.raises(DataFormatError, match="device"):
            table_data("/dev/zero")


def test_a_file_over_the_size_limit_is_refused_with_its_size(tmp_path, monkeypatch):
    path = tmp_path / "huge.csv"
    with open(path, "wb") as f:  # sparse: 3 GB on paper, nothing on disk
        f.write(b"a,y\n1,0\n")
        f.truncate(3_000_000_000)
    monkeypatch.setattr(limits, "MAX_TABLE_BYTES", limits.MAX_TABLE_BYTES)  # the real limit
    with pytest.raises(DataFormatError, match="is 3,000 MB: MLP Studio reads tables of up to "
                                              "200 MB"):
        table_data(path)


def test_text_columns_with_many_values_are_left_out_not_exploded(tmp_path):
    rows = "".join(f"{i},name{i},{'ab'[i % 2]},{i % 2}\n" for i in range(300))
    data = table_data(write(tmp_path, "n,name,g,y\n" + rows))
    assert data.schema.ignored == ("name",)
    assert data.schema.feature_names == ["n", "g=a", "g=b"]
    assert any("300 distinct text values in 300 rows" in note for note in data.notes)


def test_only_unusable_feature_columns(tmp_path):
    with pytest.raises(DataFormatError, match="no column besides the target 'y' can be used"):
        table_data(write(tmp_path, "e,y\n,0\n,1\n"))


def test_load_data_reads_a_csv_into_a_dataset_that_prepares_like_any_other(tmp_path):
    from mlp_studio.core.data import DataConfig, prepare_dataset
    from mlp_studio.core.dataset import load_data

    rows = "".join(f"{i % 7},{'ab'[i % 2]},{(i % 7) * 2.5 + i % 2}\n" for i in range(100))
    path = write(tmp_path, "n,g,v\n" + rows)
    ds = load_data(path)
    assert ds.kind == "table" and ds.task == "regression" and ds.class_names == ["v"]
    assert ds.x_test is None and ds.feature_names == ["n", "g=a", "g=b"]
    assert ds.table.target == "v" and ds.name == "t.csv"
    classes = load_data(path, target="g")
    assert classes.task == "classification" and classes.class_names == ["a", "b"]
    data = prepare_dataset(classes, DataConfig())
    assert data.task == "classification" and data.num_classes == 2
    assert len(data.x_train) + len(data.x_val) + len(data.x_test) == 100
    # per-feature statistics from the training split only
    train_raw = classes.x_train[data.indices["train"]]
    np.testing.assert_allclose(data.normalization.mean, train_raw.mean(0), rtol=1e-5)
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(DataFormatError, match="named pipe"):
        load_data(fifo)
