"""Imports live at the top of a module: a function-local import is allowed only for an optional
dependency (a driver or a cluster that a deployment may not install) or in the CLI (start-up time).

A local import that hides an import cycle is a layering mistake: move the shared thing down a
layer instead (docs/architecture.md).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "xdmflow"

#: Modules that may be imported inside a function anywhere: optional dependencies.
OPTIONAL_MODULES = (
    "paramiko",  # SFTP sources
    "fsspec.implementations.sftp",  # imports paramiko
    "dask",
    "distributed",
    "psycopg",  # PostgreSQL driver
    "pymysql",  # MySQL / MariaDB driver
    "xdmflow.executors.dask",  # needs Dask
)

#: Files and folders (relative to the package) whose local imports are not checked.
ALLOWED_PATHS = (
    "cli/",  # the CLI imports what a command needs when it runs: start-up time
    # owner hoists (other work in progress hoists these; remove each entry when it is done)
)


def _is_optional(node: ast.Import | ast.ImportFrom) -> bool:
    """Whether every module the statement imports is an optional dependency."""
    if isinstance(node, ast.ImportFrom):
        names = [node.module or ""] if node.level == 0 else []
    else:
        names = [alias.name for alias in node.names]
    return bool(names) and all(
        any(name == module or name.startswith(module + ".") for module in OPTIONAL_MODULES) for name in names
    )


def local_imports(source: str) -> list[tuple[int, str]]:
    """``(line, statement)`` of every import inside a function or method of ``source`` that is
    not of an optional dependency."""
    found: dict[int, str] = {}
    for fn in ast.walk(ast.parse(source)):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Import | ast.ImportFrom) and not _is_optional(node):
                found[node.lineno] = ast.unparse(node)
    return sorted(found.items())


def offenders(package: Path) -> list[str]:
    out = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).as_posix()
        if rel.startswith(ALLOWED_PATHS):
            continue
        for line, statement in local_imports(path.read_text(encoding="utf-8")):
            out.append(f"xdmflow/{rel}:{line}: {statement}")
    return out


def test_no_function_local_imports_outside_the_allow_list() -> None:
    found = offenders(PACKAGE)
    assert not found, "function-local imports (hoist them, or fix the cycle they hide):\n" + "\n".join(found)


def test_the_check_finds_local_imports_and_spares_optional_ones() -> None:
    source = """
import json


def f():
    import re
    from xdmflow.lake import lake
    from .sibling import thing
    import psycopg
    from distributed import Client
    import paramiko, os

    def inner():
        from collections import OrderedDict


class C:
    async def m(self):
        import xdmflow.executors.dask
        import xdmflow.executors.base
"""
    assert local_imports(source) == [
        (6, "import re"),
        (7, "from xdmflow.lake import lake"),
        (8, "from .sibling import thing"),
        (11, "import paramiko, os"),
        (14, "from collections import OrderedDict"),
        (20, "import xdmflow.executors.base"),
    ]


def test_an_added_local_import_is_reported_with_its_place(tmp_path: Path) -> None:
    package = tmp_path / "xdmflow"
    (package / "lake").mkdir(parents=True)
    (package / "cli").mkdir()
    (package / "lake" / "thing.py").write_text("def f():\n    import json\n    return json\n")
    (package / "cli" / "main.py").write_text("def f():\n    import json\n    return json\n")
    assert offenders(package) == ["xdmflow/lake/thing.py:2: import json"]
