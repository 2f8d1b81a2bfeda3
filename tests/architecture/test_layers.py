"""The layer rule of docs/architecture.md is a check: the import-linter contracts in pyproject.toml
pass on the code, and fail as soon as a backwards import is added."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("xdmflow/schema/__init__.py", "import xdmflow.services.context", "Layers"),
        ("xdmflow/lake/__init__.py", "import xdmflow.store.db", "never reach the store"),
        ("xdmflow/services/__init__.py", "import fastapi", "Nothing below api/ imports FastAPI"),
    ],
)
def test_a_backwards_import_breaks_them(tmp_path: Path, module: str, line: str, contract: str) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "xdmflow", copy / "xdmflow", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    target = copy / module
    target.write_text(target.read_text() + f"\n{line}  # a backwards import\n")
    result = lint_imports(copy)
    assert result.returncode != 0, result.stdout
    assert contract in result.stdout and "BROKEN" in result.stdout
