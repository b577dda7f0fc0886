"""The CLI's progress: a bar redrawn in place only on a terminal; into a file or a pipe, one
line per epoch and no carriage returns (train, pair)."""

import io
import sys

import pytest
from idx_fixtures import write_mnist_folder
from mlp_studio.core.cli import main


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_mnist_folder(tmp_path_factory.mktemp("mnist"), n_train=300, n_test=60)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


TRAIN = ["train", "--hidden", "8", "--epochs", "2", "--batch-size", "16"]
PAIR = ["pair", "--hidden", "8", "--epochs", "2", "--batch-size", "16", "--change", "lr=0.01"]


@pytest.mark.parametrize("command", [TRAIN, PAIR], ids=["train", "pair"])
def test_not_on_a_terminal_each_epoch_is_one_line_without_a_bar(data, capsys, command):
    assert main([*command, "--data", str(data)]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "samples/s" not in err  # no bar glued to the epoch lines
    lines = err.splitlines()
    for epoch in ("epoch 1/2: train loss", "epoch 2/2: train loss"):
        assert any(line.startswith(epoch) and line.endswith(" s") for line in lines), lines


def test_on_a_terminal_the_bar_is_drawn_in_place(data, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main([*TRAIN, "--data", str(data)]) == 0
    err = terminal.getvalue()
    assert "\repoch 1 [" in err and "samples/s" in err
    assert "\repoch 1/2: train loss" in err  # written over the bar
