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
