"""A crafted TorchScript file whose loading writes a file: torch runs a scripted __setstate__
while it loads, and torch.from_file(shared=True) creates and writes the file it names."""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

SCRIPT = r'''
import sys
from typing import List

import torch


class Crafted(torch.nn.Module):
    def __init__(self, target: str):
        super().__init__()
        self.target = target
        self.written = 0

    def forward(self, x):
        return x

    @torch.jit.export
    def __getstate__(self) -> List[str]:
        return [self.target]

    @torch.jit.export
    def __setstate__(self, state: List[str]) -> None:
        self.target = state[0]
        self.training = False
        written = torch.from_file(self.target, shared=True, size=4, dtype=torch.uint8)
        self.written = int(written.fill_(66).sum())  # used, so the compiler keeps it


torch.jit.save(torch.jit.script(Crafted(sys.argv[2])), sys.argv[1],
               _extra_files={"mlp_studio.json": sys.argv[3]})
'''


def crafted_torchscript(path: Path, marker: Path, description: dict | None = None) -> Path:
    """Write the crafted file at `path`; loading it with torch.jit.load creates `marker`."""
    meta = json.dumps(description or {})
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "craft.py"  # torch.jit.script reads the class's source file
        script.write_text(SCRIPT)
        subprocess.run([sys.executable, str(script), str(path), str(marker), meta], check=True,
                       capture_output=True)
    return path
