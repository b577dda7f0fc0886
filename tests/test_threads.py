import subprocess
import sys

from mlp_studio.core.threads import WAIT_POLICY, use_passive_wait


def test_passive_wait_unless_the_user_chose():
    environ = {}
    use_passive_wait(environ)
    assert environ["OMP_WAIT_POLICY"] == WAIT_POLICY == "PASSIVE"
    environ = {"OMP_WAIT_POLICY": "ACTIVE"}
    use_passive_wait(environ)
    assert environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_entry_points_set_the_policy_before_torch_loads():
    """libgomp reads OMP_WAIT_POLICY once, when torch loads it: the entry points must set it
    while torch is not imported yet (and the training processes inherit it)."""
    code = (
        "import os, sys\n"
        "os.environ.pop('OMP_WAIT_POLICY', None)\n"
        "import mlp_studio.core.cli as cli\n"
        "import mlp_studio.app.main as app_main\n"
        "assert 'torch' not in sys.modules\n"
        "import mlp_studio.core.threads as threads\n"
        "seen = []\n"
        "def spy(environ=None):\n"
        "    seen.append('torch' in sys.modules)\n"
        "    return threads.use_passive_wait(environ)\n"
        "app_main.use_passive_wait = cli.use_passive_wait = spy\n"
        "try:\n"
        "    app_main.main(['mlp-studio', 'train', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(seen, os.environ.get('OMP_WAIT_POLICY'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "[False, False] PASSIVE"


def test_training_processes_start_with_the_policy(monkeypatch):
    import os

    from mlp_studio.core.training_process import context

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    context()  # before a fork server or spawned child starts: they load torch with it
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"


def test_training_threads_come_from_the_option_then_the_variable_then_one():
    from mlp_studio.core.threads import training_threads

    assert training_threads(None, {}) == 1
    assert training_threads(None, {"MLP_STUDIO_THREADS": "3"}) == 3
    assert training_threads(2, {"MLP_STUDIO_THREADS": "3"}) == 2
    for junk in ("", "0", "-2", "two", " "):
        assert training_threads(None, {"MLP_STUDIO_THREADS": junk}) == 1


def test_the_cli_trains_on_the_threads_it_is_given(monkeypatch, capsys):
    import pytest
    import torch
    from mlp_studio.core.cli import EXIT_BAD_INPUT, main

    seen = []
    monkeypatch.setattr(torch, "set_num_threads", seen.append)
    # --help exits after parsing: the thread count is set after a successful parse only.
    assert main(["predict", "--threads", "2"]) == EXIT_BAD_INPUT  # predict has no --threads
    assert seen == []
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert main(["train", "--threads", "0"]) == EXIT_BAD_INPUT
    assert "'0' is not a whole number of at least 1" in capsys.readouterr().err
    monkeypatch.delenv("MLP_STUDIO_THREADS", raising=False)
    main(["train", "--threads", "2", "--data", "/nonexistent/nowhere"])
    main(["train", "--data", "/nonexistent/nowhere"])
    assert seen == [2, 1]
