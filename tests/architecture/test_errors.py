"""Every error our code raises derives from the root in ``xdmflow/errors.py``.

Two walks over the package: every exception class defined in ``xdmflow`` subclasses
``XdmflowError``; every ``raise`` of a built-in exception by name is one of the few allowed
(``NotImplementedError`` in abstract methods, ``AssertionError`` for the unreachable,
``StopIteration``/``KeyboardInterrupt``/``SystemExit`` for control flow).
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import pkgutil
from pathlib import Path

import xdmflow
from xdmflow.errors import XdmflowError

PACKAGE = Path(xdmflow.__file__).parent
ALLOWED_BUILTINS = {
    "NotImplementedError",
    "AssertionError",
    "StopIteration",
    "KeyboardInterrupt",
    "SystemExit",
}
#: modules that are not part of the service (the bundled emulators imitate other systems' errors)
SKIPPED = ("xdmflow.emulators", "xdmflow.store.migrations")
BUILTIN_ERRORS = {n for n, v in vars(builtins).items() if inspect.isclass(v) and issubclass(v, BaseException)}


def modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="xdmflow."):
        if not info.name.startswith(SKIPPED):
            names.append(info.name)
    return names


def test_every_exception_class_derives_from_the_root() -> None:
    outside = []
    for name in modules():
        try:
            module = importlib.import_module(name)
        except ImportError:  # an optional dependency is missing: the AST walk still covers it
            continue
        for obj in vars(module).values():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == name
                and not issubclass(obj, XdmflowError)
            ):
                outside.append(f"{name}.{obj.__qualname__}")
    assert not outside, f"exception classes outside the XdmflowError root: {outside}"


def test_no_builtin_exception_is_raised_by_name() -> None:
    raised = []
    for path in sorted(PACKAGE.rglob("*.py")):
        dotted = "xdmflow." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        if dotted.startswith(SKIPPED):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id in BUILTIN_ERRORS - ALLOWED_BUILTINS:
                raised.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} raises {exc.id}")
    assert not raised, "built-in exceptions raised instead of the errors of xdmflow/errors.py:\n" + "\n".join(
        raised
    )
