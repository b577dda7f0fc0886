"""Running an export's usage snippet the way a user would: a fresh Python process."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_snippet(snippet: str, suffix: str, folder: Path) -> subprocess.CompletedProcess:
    """Run `snippet` in `folder`; safetensors snippets need MLP Studio, so they run in the repo."""
    return subprocess.run(
        [sys.executable, "-c", snippet],
        cwd=REPO if suffix == ".safetensors" else folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
