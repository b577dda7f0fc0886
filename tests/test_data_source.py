"""Where data comes from, as sessions remember it: checked, round-tripped, and turned into
load_data's arguments."""

import pytest
from mlp_studio.core.data_source import DataSource
from mlp_studio.core.errors import SpecError


@pytest.mark.parametrize("source", [
    DataSource(),
    DataSource("mnist", dataset="kmnist"),
    DataSource("mnist", "/data/fashion", dataset="fashion-mnist"),
    DataSource("images", "/data/flowers", image_size=32, color=True),
    DataSource("table", "/data/wine.csv", target="quality", task="regression"),
])
def test_round_trip(source):
    assert DataSource.from_dict(source.to_dict()) == source


def test_missing_keys_take_defaults():
    assert DataSource.from_dict({"kind": "table", "path": "a.csv"}) == DataSource("table", "a.csv")


@pytest.mark.parametrize("bad, words", [
    ({"kind": "audio"}, "unknown data kind"),
    ({"dataset": "cifar"}, "unknown dataset"),
    ({"kind": "images", "path": "x", "image_size": 0}, "image size"),
    ({"kind": "images", "path": "x", "image_size": True}, "image size"),
    ({"kind": "images", "path": "x", "color": "yes"}, "color"),
    ({"kind": "table", "path": "x", "task": "clustering"}, "unknown task"),
    ({"kind": "table"}, "needs a path"),
    ({"kind": "table", "path": 3}, "must be text"),
    ({"speed": 3}, "unknown data source setting"),
    (["mnist"], "must be a mapping"),
])
def test_bad_sources_are_refused_with_a_reason(bad, words):
    with pytest.raises(SpecError, match=words):
        DataSource.from_dict(bad)


def test_load_arguments_and_description():
    assert DataSource().load_arguments() == {"path": None, "dataset": "mnist"}
    images = DataSource("images", "/d/flowers", image_size=32, color=True)
    assert images.load_arguments() == {"path": "/d/flowers", "image_size": 32, "color": True}
    assert images.describe() == "image folder flowers (32×32 RGB)"
    table = DataSource("table", "/d/wine.csv")
    assert table.load_arguments() == {"path": "/d/wine.csv", "target": None, "task": None}
    assert DataSource("table", "/d/w.csv", target="q", task="regression").load_arguments() == {
        "path": "/d/w.csv", "target": "q", "task": "regression"}
    assert table.describe() == "table wine.csv"
    assert DataSource("mnist", dataset="kmnist").describe() == "KMNIST"
