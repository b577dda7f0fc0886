"""MLP Studio installs as one package, mlp_studio, with every module and resource file in it."""

import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"core": "mlp_studio.core", "app": "mlp_studio.app", "resources": "mlp_studio.resources"}


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _package(folder: Path) -> str:
    top, *rest = folder.relative_to(ROOT).parts
    return ".".join([FOLDERS[top], *rest])


def _files(top: str) -> list[Path]:
    return [p for p in (ROOT / top).rglob("*") if p.is_file() and "__pycache__" not in p.parts]


def test_every_folder_is_a_listed_package():
    config = _setuptools()
    assert config["package-dir"] == {v: k for k, v in FOLDERS.items()}
    folders = {p.parent for top in FOLDERS for p in _files(top)}
    missing = sorted(_package(f) for f in folders if _package(f) not in config["packages"])
    assert not missing, f"add to [tool.setuptools] packages: {missing}"


def test_every_resource_file_is_package_data():
    patterns = _setuptools()["package-data"]
    files = _files("resources")
    assert files
    missing = [
        str(path.relative_to(ROOT))
        for path in files
        if not any(fnmatch(path.name, pattern)
                   for pattern in [*patterns.get(_package(path.parent), []),
                                   *patterns.get("*", [])])
    ]
    assert not missing, f"add to [tool.setuptools.package-data]: {missing}"


def test_only_mlp_studio_is_importable_outside_the_repository(tmp_path):
    code = (
        "import importlib.util as u, mlp_studio.core.model, mlp_studio.app;"
        "print(u.find_spec('core'), u.find_spec('app'))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, check=True)
    assert out.stdout.split() == ["None", "None"]
