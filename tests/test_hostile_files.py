"""Files a hostile or careless user could hand MLP Studio: each gets a clear message (or, for an
optional part of a file, is skipped) in bounded time and memory, never a traceback."""

import zipfile

import numpy as np
import pytest
from mlp_studio.core.checkpoints import Checkpoint
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.run_tree import RunTree
from mlp_studio.core.session import Session, load_session, save_session


def small_spec() -> NetworkSpec:
    return NetworkSpec(input_size=3, hidden=[LayerSpec(4)], output_size=2)


def session_with_tree(path):
    """A saved session whose run tree holds one checkpoint; its members as a dict."""
    model = build_model(small_spec())
    tree = RunTree.new(budget_mb=1)
    tree.checkpoints.add(Checkpoint(1, 0, {k: v.numpy().copy()
                                           for k, v in model.state_dict().items()}, kind="start"))
    save_session(Session(small_spec(), model.state_dict(), class_names=["a", "b"],
                         run_tree=tree), path)
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rewrite(path, members, name, write):
    """The session at `path` again, with member `name` written (deflated) by `write(file)`."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for other, data in members.items():
            if other != name:
                zf.writestr(other, data)
        with zf.open(name, "w") as f:
            write(f)


def test_session_with_a_run_tree_zip_bomb_opens_without_inflating_it(tmp_path, monkeypatch):
    # 64 MB of zeros deflate to 64 kB; the tree's budget (1 MB) says the checkpoints fit in
    # about 1 MB, so the member is skipped from its recorded size before it is inflated.
    path = tmp_path / "bomb.mlps"
    members = session_with_tree(path)
    assert load_session(path).run_tree is not None
    chunk = bytes(1 << 20)
    rewrite(path, members, "runs.safetensors", lambda f: [f.write(chunk) for _ in range(64)])
    read = []
    original = zipfile.ZipFile.read
    monkeypatch.setattr(zipfile.ZipFile, "read",
                        lambda zf, name, pwd=None: read.append(name) or original(zf, name, pwd))
    session = load_session(path)
    assert session.run_tree is None
    assert "runs.safetensors" not in read
    assert session.weights.keys() == build_model(small_spec()).state_dict().keys()


def test_session_whose_run_tree_json_nests_100000_deep_still_opens(tmp_path):
    # The tree is optional: its damage is logged and the session opens without it (the
    # standard JSON parser raised RecursionError, and the whole session was refused).
    path = tmp_path / "deep.mlps"
    members = session_with_tree(path)
    rewrite(path, members, "runs.json", lambda f: f.write(b"[" * 100_000 + b"]" * 100_000))
    session = load_session(path)
    assert session.run_tree is None
    assert np.isfinite(session.weights["net.0.weight"].numpy()).all()


def test_session_with_a_huge_run_tree_json_is_skipped_from_its_recorded_size(tmp_path,
                                                                             monkeypatch):
    path = tmp_path / "json-bomb.mlps"
    members = session_with_tree(path)
    chunk = b" " * (1 << 20)
    rewrite(path, members, "runs.json", lambda f: [f.write(chunk) for _ in range(300)])
    read = []
    original = zipfile.ZipFile.read
    monkeypatch.setattr(zipfile.ZipFile, "read",
                        lambda zf, name, pwd=None: read.append(name) or original(zf, name, pwd))
    assert load_session(path).run_tree is None
    assert "runs.json" not in read


def test_semicolon_table_with_decimal_commas_in_every_column_is_read(tmp_path):
    # Excel in most of Europe saves 'a;b;label' over '0,134;0,847;y': split by commas every row
    # has three cells too, and the table was refused as having a single column.
    from mlp_studio.core.tables import table_data

    path = tmp_path / "europe.csv"
    path.write_text("a;b;label\n0,134;0,847;y\n0,764;0,255;x\n0,5;1,25;y\n2,0;3,5;x\n")
    data = table_data(path)
    np.testing.assert_allclose(data.x[:, :2], [[0.134, 0.847], [0.764, 0.255], [0.5, 1.25],
                                               [2, 3.5]], rtol=1e-6)


def test_text_named_npz_is_called_not_an_npz_without_advice_to_unpickle(tmp_path):
    # numpy takes a file that is neither zip nor .npy for a pickle and suggests loading it
    # "unsafely" with allow_pickle: the message must not pass that advice on.
    from mlp_studio.core.errors import DataFormatError
    from mlp_studio.core.mnist import load_npz

    path = tmp_path / "mnist.npz"
    path.write_text("x_train,y_train\n1,2\n")
    with pytest.raises(DataFormatError) as err:
        load_npz(path)
    assert "is not an .npz archive" in str(err.value)
    assert "pickle" not in str(err.value)


def test_session_and_export_with_nan_weights_are_refused_with_the_tensor(tmp_path):
    # They opened, predicted 'x (nan%)' for every row, and a continued run 'diverged' at its
    # first batch with advice to lower the learning rate.
    from mlp_studio.core.data import Normalization
    from mlp_studio.core.errors import ExportError, SessionError
    from mlp_studio.core.export import ModelBundle, export_safetensors, load_bundle

    model = build_model(small_spec())
    state = model.state_dict()
    state["net.0.weight"][0, 0] = float("nan")
    path = tmp_path / "nan.mlps"
    save_session(Session(small_spec(), state, class_names=["a", "b"]), path)
    with pytest.raises(SessionError, match="net.0.weight holds NaN or infinite values"):
        load_session(path)
    state["net.0.weight"][0, 0] = float("inf")
    exported = tmp_path / "inf.safetensors"
    none = Normalization("none", np.zeros(3, np.float32), np.ones(3, np.float32))
    bundle = ModelBundle(small_spec(), none, "sparse_categorical_cross_entropy", ["a", "b"], state)
    export_safetensors(bundle, exported)
    with pytest.raises(ExportError, match="net.0.weight holds NaN or infinite values"):
        load_bundle(exported)


@pytest.mark.parametrize("kind", ["named pipe", "device"])
def test_sweep_storage_that_is_a_pipe_or_device_says_so(tmp_path, kind):
    # SQLite said only "disk I/O error ... Check the URL, that the server runs".
    import os

    from mlp_studio.core.errors import StudioError
    from mlp_studio.core.sweep_storage import open_storage, storage_url

    path = tmp_path / "sweeps.db"
    if kind == "named pipe":
        os.mkfifo(path)
    else:
        path = "/dev/zero"
    with pytest.raises(StudioError, match=f"is a {kind}, not a file"):
        open_storage(storage_url(str(path)))


def test_finding_the_columns_of_a_wide_table_is_linear_not_quadratic():
    # A 20,000-column CSV took 7 s to read (43 s under load) in header.index() per column:
    # count the name comparisons instead of timing it.
    from mlp_studio.core.table_reading import RawTable

    compared = 0

    class Name(str):
        __hash__ = str.__hash__

        def __eq__(self, other):
            nonlocal compared
            compared += 1
            return str.__eq__(self, other)

    header = [Name(f"c{i}") for i in range(2000)]
    table = RawTable("wide.csv", header, list(range(2000)), np.zeros(0, np.int64), ",", [])
    assert [table.column(f"c{i}") for i in range(2000)] == list(range(2000))
    assert compared < 10 * len(header)


def test_a_5000_digit_number_in_a_session_or_model_description_is_a_message(tmp_path):
    # Python refuses to convert integers of more than 4,300 digits with a ValueError that
    # was not JSON's: `train --session` printed a traceback.
    import json

    from mlp_studio.core.bundle import parse_json
    from mlp_studio.core.errors import ExportError, SessionError

    path = tmp_path / "long.mlps"
    members = session_with_tree(path)
    doc = json.loads(members["session.json"])
    doc["epochs_done"] = 0
    text = json.dumps(doc).replace('"epochs_done": 0', '"epochs_done": 1' + "0" * 5000)
    rewrite(path, members, "session.json", lambda f: f.write(text.encode()))
    with pytest.raises(SessionError, match="not valid JSON .a number has more than"):
        load_session(path)
    with pytest.raises(ExportError, match="a number has more than"):
        parse_json('{"format_version": 1' + "0" * 5000 + "}")


def test_paired_runs_nested_100000_deep_leave_the_session_openable(tmp_path):
    path = tmp_path / "pairs.mlps"
    members = session_with_tree(path)
    members["pairs.json"] = b"{}"
    rewrite(path, members, "pairs.json", lambda f: f.write(b"[" * 100_000 + b"]" * 100_000))
    session = load_session(path)
    assert session.pairs is None


def test_a_session_with_a_billion_neurons_is_refused_in_one_sentence(tmp_path):
    import json

    from mlp_studio.core.errors import SessionError

    path = tmp_path / "huge.mlps"
    members = session_with_tree(path)
    doc = json.loads(members["session.json"])
    doc["spec"]["hidden"][0]["units"] = 10**9
    rewrite(path, members, "session.json", lambda f: f.write(json.dumps(doc).encode()))
    with pytest.raises(SessionError) as err:
        load_session(path)
    assert "1000000000 neurons: use a whole number from 1 to 65536." in str(err.value)
    assert ".." not in str(err.value)  # the reason's full stop and the sentence's


def test_a_10_mb_cell_is_named_for_what_it_is(tmp_path):
    # csv said "field larger than field limit (131072)", and the hint named NUL bytes.
    from mlp_studio.core.errors import DataFormatError
    from mlp_studio.core.tables import table_data

    path = tmp_path / "big.csv"
    path.write_text('a,b,label\n"' + "z" * 10_000_000 + '",1,x\n1,2,y\n3,4,x\n')
    with pytest.raises(DataFormatError) as err:
        table_data(path)
    text = str(err.value)
    assert "line 2: a cell is longer than 131,072 characters" in text
    assert "remove that column" in text and "NUL" not in text


def test_a_400_digit_number_is_not_reported_as_the_text_inf(tmp_path):
    from mlp_studio.core.errors import DataFormatError
    from mlp_studio.core.tables import table_data

    path = tmp_path / "long.csv"
    path.write_text("a,b,label\n1,2,x\n" + "1" + "0" * 400 + ",3,y\n4,5,x\n")
    with pytest.raises(DataFormatError, match="line 3: column 'a' holds 'inf' .infinite, or a "
                                              "number too large to store"):
        table_data(path)
