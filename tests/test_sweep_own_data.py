"""Sweeps on own data (`mlp-studio sweep --data` an image folder or a CSV, core.sweep_data): the
trials train on it, and a regression is ranked by its loss, RMSE or R² in the right direction,
never by accuracy."""

import argparse
import json

import pytest
from mlp_studio.core.cli import main
from mlp_studio.core.errors import StudioError
from mlp_studio.core.sweep import Sweep
from mlp_studio.core.sweep_data import fit_to_task, metrics_for, source_options
from own_data_fixtures import write_houses, write_image_folder


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return write_image_folder(tmp_path_factory.mktemp("own") / "shapes", per_class=10)


@pytest.fixture(scope="module")
def houses(tmp_path_factory):
    return write_houses(tmp_path_factory.mktemp("own") / "houses.csv")


def _sweep(data, tmp_path, *extra):
    out = tmp_path / "sweep.json"
    argv = ["sweep", "--data", str(data), "--epochs", "2", "--hidden", "8", "--quiet",
            "--param", "lr=1e-3..1e-1:log", "--trials", "2", "--no-prune",
            "--storage", str(tmp_path / "s.db"), "--metrics-json", str(out), *extra]
    return argv, out


def test_an_image_folder_sweeps_with_its_own_size_and_classes(shapes, tmp_path, capsys):
    argv, out = _sweep(shapes, tmp_path, "--image-size", "8", "--color")
    assert main(argv) == 0
    done = json.loads(out.read_text())
    assert done["metric"] == "val-accuracy" and done["direction"] == "maximize"
    assert [t["state"] for t in done["trials"]] == ["COMPLETE", "COMPLETE"]
    assert all(0.0 <= t["value"] <= 1.0 for t in done["trials"])
    assert "MNIST" not in capsys.readouterr().err


def test_a_regression_table_is_ranked_by_its_loss_by_default(houses, tmp_path):
    argv, out = _sweep(houses, tmp_path, "--target", "price")
    assert main(argv) == 0
    done = json.loads(out.read_text())
    assert done["metric"] == "val-loss" and done["direction"] == "minimize"
    values = [t["value"] for t in done["trials"]]
    assert all(t["state"] == "COMPLETE" for t in done["trials"])
    assert done["best"]["value"] == min(values)


@pytest.mark.parametrize("metric, direction, pick", [("val-rmse", "minimize", min),
                                                     ("val-r2", "maximize", max)])
def test_a_regression_is_ranked_by_rmse_or_r2_in_their_direction(houses, tmp_path, metric,
                                                                 direction, pick):
    argv, out = _sweep(houses, tmp_path, "--metric", metric)
    assert main(argv) == 0
    done = json.loads(out.read_text())
    assert (done["metric"], done["direction"]) == (metric, direction)
    values = [t["value"] for t in done["trials"]]
    assert done["best"]["value"] == pick(values)
    if metric == "val-rmse":
        assert all(v > 0 for v in values)
    else:
        assert all(v <= 1 for v in values)


def test_a_table_can_be_a_classification_of_a_chosen_column(houses, tmp_path):
    argv, out = _sweep(houses, tmp_path, "--target", "city", "--task", "classification")
    assert main(argv) == 0
    assert json.loads(out.read_text())["metric"] == "val-accuracy"


@pytest.mark.parametrize("which, metric, words", [
    ("houses", "val-accuracy", "regression problem, which has no validation accuracy: rank the "
     "trials by --metric val-loss, val-rmse or val-r2"),
    ("shapes", "val-rmse", "classification problem, which has no validation RMSE: rank the "
     "trials by --metric val-accuracy or val-loss"),
])
def test_a_metric_that_cannot_measure_the_task_is_one_line(houses, shapes, tmp_path, capsys,
                                                           which, metric, words):
    data = houses if which == "houses" else shapes
    argv, out = _sweep(data, tmp_path, "--metric", metric)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and words in err[-1], err
    assert not out.exists()


def test_regression_trains_with_mse_unless_a_loss_was_given():
    base = argparse.Namespace(loss="sparse_categorical_cross_entropy")
    sweep = fit_to_task(Sweep(base, [], 1, "sqlite://"), "regression")
    assert (sweep.metric, sweep.base.loss, base.loss) == (
        "val-loss", "mse", "sparse_categorical_cross_entropy")
    kept = fit_to_task(Sweep(argparse.Namespace(loss="mae"), [], 1, "sqlite://", metric="val-r2"),
                       "regression")
    assert (kept.metric, kept.base.loss, kept.direction) == ("val-r2", "mae", "maximize")
    with pytest.raises(StudioError, match="not settled"):
        _ = Sweep(base, [], 1, "sqlite://").direction
    assert metrics_for("classification") == ["val-accuracy", "val-loss"]


def test_a_studio_data_source_becomes_the_data_options_of_the_sweep(houses):
    from mlp_studio.core.data_source import DataSource

    args = argparse.Namespace(data="/mnist", dataset=None, image_size=28, color=False,
                              target=None, task=None)
    table = source_options(args, DataSource("table", str(houses), target="price"), "regression")
    assert (table.data, table.target, table.task, table.dataset) == (
        str(houses), "price", "regression", None)
    images = source_options(args, DataSource("images", "/pics", image_size=12, color=True),
                          "classification")
    assert (images.data, images.image_size, images.color, images.task) == (
        "/pics", 12, True, None)
    family = source_options(args, DataSource("mnist", "", dataset="kmnist"), "classification")
    assert (family.data, family.dataset) == ("/mnist", "kmnist")
    assert args.data == "/mnist" and args.target is None  # a copy
