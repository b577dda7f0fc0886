"""Models trained on a table: their exports describe the feature vector (column order, one-hot
categories, missing-value fills) with the normalization built in, regression returns values,
and `mlp-studio predict MODEL data.csv` encodes each row with the schema."""

import json

import numpy as np
import pytest
from mlp_studio.core.cli import main
from mlp_studio.core.data import prepare_arrays
from mlp_studio.core.errors import ExportError
from mlp_studio.core.export import (
    bundle_from_metadata,
    bundle_to_metadata,
    export_onnx,
    export_safetensors,
    load_bundle,
    load_predictor,
    usage_snippet,
)
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.table_reading import read_table
from mlp_studio.core.tables import table_data
from mlp_studio.core.training import TrainConfig, Trainer
from snippets import run_snippet


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny networks: with two threads on a busy machine torch's threads spin-wait, and these
    trainings took ten times as long (docs/PERFORMANCE)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def house_csv(path, rows: int = 240, seed: int = 0):
    """Price = 3 * size + 20 if the town is 'north' - 10 if 'south' (+ noise); some blanks."""
    rng = np.random.default_rng(seed)
    lines = ["size,town,rooms,price,kind"]
    for i in range(rows):
        size = rng.uniform(20, 120)
        town = ["north", "south", "east"][i % 3]
        price = 3 * size + {"north": 20, "south": -10, "east": 0}[town] + rng.normal(0, 2)
        kind = "big" if size > 70 else "small"
        size_cell = "" if i % 17 == 5 else f"{size:.2f}"
        lines.append(f"{size_cell},{town},{int(size // 25)},{price:.2f},{kind}")
    path.write_text("\n".join(lines) + "\n")
    return path


def train_table(data, task: str, epochs: int = 40):
    n = len(data.x)
    a, b = int(n * 0.7), int(n * 0.85)
    prepared = prepare_arrays(data.x[:a], data.y[:a], data.x[a:b], data.y[a:b], data.x[b:],
                              data.y[b:], "standardize", data.class_names, task=task)
    outputs = 1 if task == "regression" else len(data.class_names)
    spec = NetworkSpec(input_size=data.x.shape[1], hidden=[LayerSpec(32)], output_size=outputs,
                       seed=1)
    loss = "mse" if task == "regression" else "sparse_categorical_cross_entropy"
    model = build_model(spec)
    finished = Trainer(model, prepared, TrainConfig(loss=loss, lr=0.02, batch_size=32,
                                                    epochs=epochs)).run()
    from mlp_studio.core.bundle import bundle_of

    bundle = bundle_of(model, prepared.normalization, loss, data.class_names, task,
                       data.schema.feature_names)
    bundle.table = data.schema
    return bundle, finished


@pytest.fixture(scope="module")
def regression(tmp_path_factory):
    folder = tmp_path_factory.mktemp("house")
    data = table_data(house_csv(folder / "houses.csv"), target="price")
    bundle, finished = train_table(data, "regression")
    return folder, data, bundle, finished


def test_the_description_carries_the_table_and_reads_back(regression):
    _, data, bundle, finished = regression
    assert finished.test.r2 > 0.9
    meta = json.loads(json.dumps(bundle_to_metadata(bundle)))
    assert meta["task"] == "regression" and meta["class_names"] == ["price"]
    assert meta["feature_names"] == ["size", "town=east", "town=north", "town=south", "rooms",
                                     "kind=big", "kind=small"]
    assert meta["table"]["target"] == "price"
    assert [c["kind"] for c in meta["table"]["columns"]] == ["numeric", "categorical",
                                                              "numeric", "categorical"]
    assert "one-hot" in meta["input"]["values"] and "missing ->" in meta["input"]["values"]
    again = bundle_from_metadata(meta, bundle.state_dict)
    assert again.table == data.schema
    broken = meta | {"table": meta["table"] | {"columns": meta["table"]["columns"][:1]}}
    with pytest.raises(ExportError, match="table description gives 1 inputs for a network of 7"):
        bundle_from_metadata(broken, bundle.state_dict)


def test_export_then_predict_rows_gives_the_values_of_the_model(regression, tmp_path, capsys):
    folder, data, bundle, _ = regression
    st, onnx = tmp_path / "m.safetensors", tmp_path / "m.onnx"
    export_safetensors(bundle, st)
    export_onnx(bundle, onnx)
    assert load_bundle(st).table == data.schema
    # new rows: other column order, no target column, a blank size (the median fills it)
    rows = tmp_path / "new.csv"
    rows.write_text("kind,rooms,town,size\nsmall,1,north,40\nbig,3,south,100\nsmall,1,east,\n")
    expected = load_predictor(st).predict(data.schema.encode(read_table(rows)))
    for model in (st, onnx):
        assert main(["predict", str(model), str(rows), "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
        assert [r["line"] for r in result] == [2, 3, 4]
        np.testing.assert_allclose([r["value"] for r in result], expected[:, 0], rtol=1e-4)
    # the model learnt price ~ 3 * size + town: the two clear rows are close to it
    assert abs(result[0]["value"] - 140) < 15 and abs(result[1]["value"] - 290) < 15
    assert main(["predict", str(st), str(rows)]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("line 2: ")
    snippet = usage_snippet(onnx, bundle)
    assert "one table row per line" in snippet and "size, town=east" in snippet
    ran = run_snippet(snippet, ".onnx", tmp_path)
    assert ran.returncode == 0, ran.stderr


def test_classification_rows_name_their_class(tmp_path, capsys):
    data = table_data(house_csv(tmp_path / "h.csv", seed=3), target="kind")
    assert data.schema.task == "classification" and data.class_names == ["big", "small"]
    bundle, finished = train_table(data, "classification", epochs=20)
    assert finished.test.accuracy > 0.85
    st = tmp_path / "kind.safetensors"
    export_safetensors(bundle, st)
    rows = tmp_path / "new.csv"
    rows.write_text("size,town,rooms,price\n110,north,4,350\n25,east,1,75\n")
    assert main(["predict", str(st), str(rows), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [r["class"] for r in result] == ["big", "small"]
    assert all(len(r["probabilities"]) == 2 for r in result)
    assert main(["predict", str(st), str(rows)]) == 0
    assert capsys.readouterr().out.startswith("line 2: big (")


def test_predict_says_what_is_wrong_with_the_rows(regression, tmp_path, capsys):
    _, _, bundle, _ = regression
    st = tmp_path / "m.safetensors"
    export_safetensors(bundle, st)
    rome = tmp_path / "rome.csv"
    rome.write_text("size,town,rooms,kind\n50,north,2,small\n60,rome,2,small\n")
    assert main(["predict", str(st), str(rome)]) == 2
    err = capsys.readouterr().err
    assert "line 3: column 'town' holds 'rome', a category the model never saw" in err
    assert "Traceback" not in err
    missing = tmp_path / "missing.csv"
    missing.write_text("size,rooms\n50,2\n")
    assert main(["predict", str(st), str(missing)]) == 2
    assert "has no column 'town', 'kind'" in capsys.readouterr().err
    image = tmp_path / "x.png"
    image.write_bytes(b"not really")
    assert main(["predict", str(st), str(image)]) == 2
    assert "was trained on a table: give one CSV file with the columns size, town, rooms, " \
           "kind" in capsys.readouterr().err


def test_a_session_keeps_the_table_and_predicts_rows(regression, tmp_path, capsys):
    from mlp_studio.core.session import Session, load_session, save_session
    from mlp_studio.core.session_bundle import session_bundle

    _, data, bundle, _ = regression
    session = Session(bundle.spec, bundle.state_dict, normalization=bundle.normalization,
                      class_names=["price"], table=data.schema)
    path = save_session(session, tmp_path / "house.mlps")
    again = load_session(path)
    assert again.table == data.schema
    assert session_bundle(again).task == "regression"
    assert session_bundle(again).feature_names == data.schema.feature_names
    rows = tmp_path / "rows.csv"
    rows.write_text("size,town,rooms,kind\n40,north,1,small\n")
    assert main(["predict", str(path), str(rows), "--json"]) == 0
    value = json.loads(capsys.readouterr().out)[0]["value"]
    expected = load_predictor(path).predict(data.schema.encode(read_table(rows)))
    assert value == pytest.approx(float(expected[0, 0]), rel=1e-5)


def test_cli_trains_on_a_csv_exports_and_predicts(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outputs beside the CSV are fine: only the file itself is read
    house_csv(tmp_path / "houses.csv")
    code = main(["train", "--data", "houses.csv", "--target", "price", "--epochs", "30",
                 "--hidden", "32", "--lr", "0.01", "--batch-size", "32", "--metrics-json",
                 "m.json", "--export", "m.onnx", "--save-session", "s.mlps", "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "rmse" in captured.out and "accuracy" not in captured.out
    assert "nan" not in captured.out.lower()
    report = json.loads((tmp_path / "m.json").read_text())
    assert {"test_rmse", "test_mae", "test_r2", "test_loss"} <= set(report)
    assert not any("accuracy" in key for key in report) and report["test_r2"] > 0.5
    assert "filled with the median" in captured.err and "mean squared error" in captured.err
    rows = tmp_path / "rows.csv"
    rows.write_text("size,town,rooms,kind\n40,north,1,small\n")
    for model in ("m.onnx", "s.mlps"):
        assert main(["predict", model, str(rows), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)[0]["line"] == 2
    assert main(["train", "--data", "houses.csv", "--metrics-json", "houses.csv"]) == 2
    assert "would overwrite the data file" in capsys.readouterr().err
    assert main(["train", "--data", "houses.csv", "--target", "colour"]) == 2
    assert "no column 'colour'" in capsys.readouterr().err
    classes = main(["train", "--data", "houses.csv", "--target", "kind", "--epochs", "2",
                    "--metrics-json", "-", "--quiet"])
    out = capsys.readouterr().out
    assert classes == 0 and json.loads(out[out.index("{"):])["test_accuracy"] is not None
