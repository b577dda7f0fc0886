"""An installed (non-editable) MLP Studio has its resources: help texts and icons."""

from fnmatch import fnmatch
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")

ROOT = Path(__file__).resolve().parent.parent


def test_every_resource_file_is_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "resources*" in config["packages"]["find"]["include"]
    patterns = config["package-data"]
    files = [p for p in (ROOT / "resources").rglob("*") if p.is_file()]
    assert files
    missing = []
    for path in files:
        package = ".".join(path.parent.relative_to(ROOT).parts)
        if not any(fnmatch(path.name, pattern)
                   for pattern in [*patterns.get(package, []), *patterns.get("*", [])]):
            missing.append(str(path.relative_to(ROOT)))
    assert not missing, f"add to [tool.setuptools.package-data]: {missing}"
