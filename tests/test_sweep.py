"""Sweeps (core.sweep, `mlp-studio sweep`): the SPEC grammar, every bad input as one line with
exit 2, a study that continues where it stopped, and what the JSON holds."""

import json
import re
import sqlite3

import pytest
from idx_fixtures import write_mnist_folder
from mlp_studio.core.cli import main
from mlp_studio.core.cli.arguments import _add_train_arguments, _Parser
from mlp_studio.core.errors import StudioError
from mlp_studio.core.sweep_space import parse_param, setting_value, train_options


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_mnist_folder(tmp_path_factory.mktemp("mnist"), n_train=300, n_test=60)


@pytest.fixture(scope="module")
def options():
    parser = _Parser(prog="mlp-studio train")
    _add_train_arguments(parser, outputs=False)
    return train_options(parser)


def test_specs_parse_with_the_train_options_types(options):
    lr = parse_param("lr=1e-4..1e-1:log", options)
    assert (lr.low, lr.high, lr.log, lr.choices) == (1e-4, 0.1, True, None)
    hidden = parse_param("hidden=64,128,256/128", options)
    assert hidden.choices == (64, 128, "256/128")
    assert parse_param("batch-size=32..256:log", options).option.integral
    assert parse_param("batch_size=32,64", options).choices == (32, 64)
    assert parse_param("batch-norm=true,false", options).choices == (True, False)
    assert parse_param("activation=relu,tanh", options).choices == ("relu", "tanh")
    assert parse_param("optimizer=adam,sgd", options).text() == "optimizer=adam,sgd"


def test_a_number_for_a_list_option_applies_to_every_layer(options):
    from mlp_studio.core.model import LayerSpec, NetworkSpec
    from mlp_studio.core.run_settings import RunSettings
    from mlp_studio.core.train_config import TrainConfig

    settings = RunSettings(NetworkSpec(hidden=[LayerSpec(256), LayerSpec(128)]), TrainConfig())
    assert setting_value(options["hidden"], 64, settings) == [64, 64]
    assert setting_value(options["hidden"], "256/128", settings) == [256, 128]
    assert setting_value(options["dropout"], 0.25, settings) == [0.25, 0.25]
    assert setting_value(options["activation"], "relu/tanh", settings) == "relu,tanh"
    # Applied through the settings table pairs use: the layers keep everything else.
    wider = parse_param("hidden=64,512", options).apply(settings, 512)
    assert [layer.units for layer in wider.spec.hidden] == [512, 512]
    assert wider.train == settings.train


def test_sweeps_and_pairs_share_one_table_of_settings(options):
    from mlp_studio.core.run_settings import SETTINGS

    assert set(options) == set(SETTINGS)  # every setting a pair can change, a sweep can vary
    assert all(options[name].setting is SETTINGS[name] for name in options)
    for name in ("seed", "device", "data", "split", "val-fraction"):
        with pytest.raises(StudioError, match="unknown setting|is not swept"):
            parse_param(f"{name}=1,2", options)


@pytest.mark.parametrize("spec, words", [
    ("lr=1..0.1", "low 1 is above high 0.1"),
    ("lr=0..1:log", "log range must stay above zero"),
    ("lr=-1e-3..1:log", "log range must stay above zero"),
    ("activation=", "no values"),
    ("activation=,", "no choices"),
    ("activation=relu,,tanh", "empty choice"),
    ("colour=red,blue", "unknown setting 'colour'"),
    ("lr", "write NAME=SPEC"),
    ("lr=a..b", "two numbers"),
    ("hidden=8.5..64", "two whole numbers"),
    ("activation=relu..tanh", "has no range"),
    ("optimizer=adam,sgdx", "'sgdx' is not a value of optimizer"),
    ("lr=1e-3..1:exp", "not a scale"),
    ("data=a,b", "unknown setting 'data'"),
])
def test_impossible_specs_say_what_to_write(options, spec, words):
    with pytest.raises(StudioError, match=words.replace("(", r"\(")):
        parse_param(spec, options)


def _sweep(data, tmp_path, *extra):
    return ["sweep", "--data", str(data), "--epochs", "1", "--hidden", "16", "--quiet",
            "--storage", str(tmp_path / "s.db"), *extra]


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert "Traceback" not in err[0]
    return err[0]


@pytest.mark.parametrize("extra, words", [
    (["--param", "lr=0.1..0.001", "--trials", "2"], "above high"),
    (["--param", "lr=0..0.1:log", "--trials", "2"], "above zero"),
    (["--param", "activation=", "--trials", "2"], "no values"),
    (["--param", "width=1..4", "--trials", "2"], "unknown setting 'width'"),
    (["--param", "lr=1e-3..1e-2", "--trials", "0"], "at least 1 trial"),
    (["--param", "lr=1e-3..1e-2", "--trials", "-3"], "at least 1 trial"),
    (["--trials", "2"], "at least one --param"),
    (["--param", "lr=1e-3..1e-2", "--param", "lr=1e-2..1e-1", "--trials", "2"], "twice"),
    (["--param", "dropout=0..1.5", "--trials", "2"], "dropout 1.5"),
    (["--param", "activation=relu,nope", "--trials", "2"], "unknown activation 'nope'"),
    (["--param", "lr=1e-3..1e-2", "--trials", "2", "--sampler", "grid"], "needs choices"),
    (["--param", "batch-size=16,32", "--trials", "3", "--sampler", "grid"], "2 combinations"),
    (["--param", "lr=1e-3..1e-2", "--trials", "2", "--workers", "0"], "--workers 0"),
])
def test_bad_sweeps_are_one_line_and_exit_2(data, tmp_path, capsys, extra, words):
    assert main(_sweep(data, tmp_path, *extra)) == 2
    assert words in _one_error_line(capsys)
    assert not (tmp_path / "s.db").exists()  # refused before any study was made


@pytest.mark.parametrize("storage, words", [
    ("{tmp}/missing/s.db", "does not exist"),
    ("{tmp}", "is a folder"),
    ("postgresql://me:secret@localhost:1/db", "driver for 'postgresql' is not installed"),
    ("nosuchdb://host/x", "Cannot open the sweep storage"),
    ("sqlite:///:memory:", "keeps nothing on disk"),
])
def test_storage_that_cannot_be_opened(data, tmp_path, capsys, storage, words):
    args = _sweep(data, tmp_path, "--param", "lr=1e-3..1e-2", "--trials", "1")
    args[args.index("--storage") + 1] = storage.format(tmp=tmp_path)
    assert main(args) == 2
    line = _one_error_line(capsys)
    assert words in line and "secret" not in line


def test_corrupt_or_foreign_database_files(data, tmp_path, capsys):
    args = _sweep(data, tmp_path, "--param", "lr=1e-3..1e-2", "--trials", "1")
    db = tmp_path / "s.db"
    db.write_bytes(b"this is not a database at all" * 100)
    assert main(args) == 2
    assert "is not a sweep database" in _one_error_line(capsys)

    db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)  # the header, then garbage
    assert main(args) == 2
    assert "damaged" in _one_error_line(capsys)

    db.unlink()
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE recipes (name TEXT)")
    con.close()
    assert main(args) == 2
    assert "of something else" in _one_error_line(capsys)


def test_a_study_made_by_another_sweep_is_refused_and_the_same_one_continues(
        data, tmp_path, capsys):
    out = tmp_path / "m.json"
    first = _sweep(data, tmp_path, "--param", "lr=1e-3..1e-1:log", "--param",
                   "activation=relu,tanh", "--trials", "2", "--metrics-json", str(out))
    assert main(first) == 0
    capsys.readouterr()
    report = json.loads(out.read_text())
    assert [t["state"] for t in report["trials"]] == ["COMPLETE", "COMPLETE"]
    assert set(report["trials"][0]["params"]) == {"lr", "activation"}
    assert report["best"]["value"] == max(t["value"] for t in report["trials"])
    assert report["metric"] == "val-accuracy" and report["direction"] == "maximize"

    other = _sweep(data, tmp_path, "--param", "lr=1e-4..1e-1:log", "--trials", "3")
    assert main(other) == 2
    assert "was created with other settings" in _one_error_line(capsys)
    fixed = [*first[:first.index("--epochs") + 1], "2", *first[first.index("--epochs") + 2:]]
    assert main(fixed) == 2
    assert "--epochs was 1, now 2" in _one_error_line(capsys)
    metric = [*first, "--metric", "val-loss"]
    assert main(metric) == 2
    assert "metric" in _one_error_line(capsys)

    more = [*first[:first.index("--trials") + 1], "3", *first[first.index("--trials") + 2:]]
    assert main(more) == 0  # the same sweep, 3 trials now: one more runs
    assert len(json.loads(out.read_text())["trials"]) == 3
    assert main(more) == 0  # already done: nothing runs
    assert len(json.loads(out.read_text())["trials"]) == 3


def test_grid_runs_every_combination_once(data, tmp_path, capsys):
    out = tmp_path / "g.json"
    assert main(_sweep(data, tmp_path, "--param", "batch-size=16,32", "--param",
                       "hidden=8,16/8", "--sampler", "grid", "--trials", "4", "--no-prune",
                       "--metric", "val-loss", "--metrics-json", str(out))) == 0
    report = json.loads(out.read_text())
    combos = {(t["params"]["batch-size"], t["params"]["hidden"]) for t in report["trials"]}
    assert combos == {(16, 8), (32, 8), (16, "16/8"), (32, "16/8")}
    assert report["best"]["value"] == min(t["value"] for t in report["trials"])


def test_a_trial_whose_settings_cannot_train_fails_with_its_reason(data, tmp_path, capsys):
    out = tmp_path / "f.json"
    # nesterov needs momentum: only that combination is impossible, found when it is drawn
    assert main(_sweep(data, tmp_path, "--param", "optimizer=nesterov,adam", "--param",
                       "momentum=0,0.9", "--sampler", "grid", "--trials", "4",
                       "--metrics-json", str(out))) == 0
    trials = {tuple(t["params"].values()): t for t in json.loads(out.read_text())["trials"]}
    assert len(trials) == 4
    assert trials[("nesterov", 0.9)]["state"] == "COMPLETE"
    bad = trials[("nesterov", 0)]
    assert bad["state"] == "FAIL" and "Nesterov needs a momentum" in bad["error"]


def test_a_sweep_whose_every_trial_failed_exits_1_with_the_most_common_reason(data, tmp_path,
                                                                             capsys):
    # Plain SGD at a learning rate of 8-10 on raw pixels diverges in the first epoch: each
    # trial fails with its own figures in the message.
    args = _sweep(data, tmp_path, "--param", "lr=8..10", "--optimizer", "sgd",
                  "--normalization", "none", "--trials", "3")
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "error: all 3 trials failed, so there is nothing to rank; the most common reason " \
           "(3 of them, e.g. trial 0): Training diverged" in err
    assert "Lower the learning rate" in err and "new --study name" in err
    assert main(args) == 1  # the same command again: the study is done, and still failed
    assert "error: all 3 trials failed" in capsys.readouterr().err


def test_a_sweep_where_some_trials_failed_says_how_many(data, tmp_path, capsys):
    assert main(_sweep(data, tmp_path, "--param", "optimizer=nesterov,sgd", "--param",
                       "momentum=0", "--sampler", "grid", "--trials", "2")) == 0
    err = capsys.readouterr().err
    assert "note: 1 of 2 trials failed; trial " in err and "Nesterov needs a momentum" in err
    assert "error" not in err


def test_studio_settings_round_trip_through_train_options(options):
    from mlp_studio.core.activations import ActivationSpec
    from mlp_studio.core.cli.arguments import (
        data_config_from_args,
        spec_from_args,
        train_config_from_args,
    )
    from mlp_studio.core.data import DataConfig, SplitConfig
    from mlp_studio.core.model import LayerSpec, NetworkSpec
    from mlp_studio.core.sweep import Sweep
    from mlp_studio.core.sweep_runs import options_from_settings, trial_settings
    from mlp_studio.core.train_config import TrainConfig

    spec = NetworkSpec(784, [LayerSpec(256, ActivationSpec("tanh"), 0.2),
                             LayerSpec(64, ActivationSpec("gelu"), 0.1)], 10, "xavier", 3)
    train = TrainConfig(optimizer="rmsprop", lr=0.003, weight_decay=1e-4, batch_size=64,
                        epochs=7, seed=3, schedule="cosine", restore_best=False)
    data = DataConfig(normalization="standardize", split=SplitConfig(val_fraction=0.2, subset=5000))
    args = options_from_settings(spec, train, data, "/some/mnist")
    assert spec_from_args(args, 10, 784) == spec
    assert train_config_from_args(args) == train
    assert data_config_from_args(args) == data
    assert args.data == "/some/mnist"

    sweep = Sweep(args, [parse_param("lr=1e-4..1e-1:log", options),
                         parse_param("hidden=32,128/32", options),
                         parse_param("activation=relu,elu", options)], 4, "sqlite:///x.db")
    spec2, train2 = trial_settings(sweep, {"lr": 0.01, "hidden": 32, "activation": "elu"},
                                   784, 10)
    assert [layer.units for layer in spec2.hidden] == [32, 32]  # every layer of the network
    assert {layer.activation.name for layer in spec2.hidden} == {"elu"}
    assert [layer.dropout for layer in spec2.hidden] == [0.2, 0.1]  # the rest as it was
    assert train2.lr == 0.01 and train2.optimizer == "rmsprop" and train2.epochs == 7
    spec3, _ = trial_settings(sweep, {"lr": 0.01, "hidden": "128/32", "activation": "relu"},
                              784, 10)
    assert [layer.units for layer in spec3.hidden] == [128, 32]


@pytest.mark.parametrize("name, words", [
    ("seed", "repeat a comparison over seeds"),
    ("threads", "--workers K"),
    ("val-fraction", "the data the trials are measured on"),
    ("target", "give it as a fixed option"),
])
def test_settings_a_sweep_does_not_vary_say_why(name, words):
    parser = _Parser(prog="mlp-studio train")
    _add_train_arguments(parser, outputs=False)
    with pytest.raises(StudioError, match=f"{name} is not swept: .*{re.escape(words)}"):
        parse_param(f"{name}=1,2", train_options(parser))
