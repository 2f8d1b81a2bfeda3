"""RFC 6902 JSON Patch (ops accepted in either case: ``replace`` / ``REPLACE``)."""

from __future__ import annotations

import copy
from typing import Any

from xdmflow.errors import BadRequestError

__all__ = ["apply_patch", "validate_patch", "PatchError"]

_OPS = {"add", "remove", "replace", "move", "copy", "test"}


class PatchError(BadRequestError):
    """A JSON Patch that is malformed or does not apply."""


def _pointer(path: Any, what: str = "path") -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise PatchError(f"JSON Patch {what} {path!r} must be a JSON pointer starting with '/'", code="1455")
    if path == "":
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def validate_patch(ops: Any, *, allowed: set[str] | None = None) -> list[dict[str, Any]]:
    """Check the patch document's shape; returns ops with lowercase ``op``."""
    if not isinstance(ops, list) or not ops:
        raise PatchError("The request body must be a non-empty JSON Patch array", code="1405")
    out = []
    for i, op in enumerate(ops):
        if not isinstance(op, dict) or "op" not in op:
            raise PatchError(f"JSON Patch operation #{i} must be an object with 'op' and 'path'", code="1434")
        name = str(op["op"]).lower()
        if name not in _OPS or (allowed is not None and name not in allowed):
            supported = ", ".join(sorted(allowed or _OPS))
            raise PatchError(f"Unsupported JSON Patch op {op['op']!r}; supported: {supported}", code="1434")
        if "path" not in op:
            raise PatchError(f"JSON Patch operation #{i} has no 'path'", code="1455")
        _pointer(op["path"])
        if name in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"JSON Patch operation #{i} ({name}) needs a 'value'", code="1405")
        if name in ("move", "copy"):
            _pointer(op.get("from"), "from")
        out.append({**op, "op": name})
    return out


def _parent(doc: Any, parts: list[str], path: str) -> tuple[Any, str]:
    node = doc
    for p in parts[:-1]:
        if isinstance(node, dict) and p in node:
            node = node[p]
        elif isinstance(node, list) and p.isdigit() and int(p) < len(node):
            node = node[int(p)]
        else:
            raise PatchError(f"JSON Patch path {path!r} does not exist", code="1455")
    return node, parts[-1]


def _get(doc: Any, path: str) -> Any:
    node = doc
    for p in _pointer(path):
        if isinstance(node, dict) and p in node:
            node = node[p]
        elif isinstance(node, list) and p.isdigit() and int(p) < len(node):
            node = node[int(p)]
        else:
            raise PatchError(f"JSON Patch path {path!r} does not exist", code="1455")
    return node


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, key = _parent(doc, parts, path)
    if isinstance(parent, dict):
        parent[key] = value
    elif isinstance(parent, list):
        if key == "-":
            parent.append(value)
        elif key.isdigit() and int(key) <= len(parent):
            parent.insert(int(key), value)
        else:
            raise PatchError(f"JSON Patch path {path!r}: index out of range", code="1455")
    else:
        raise PatchError(f"JSON Patch path {path!r} does not point into an object or array", code="1455")
    return doc


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        raise PatchError("Cannot remove the whole document", code="1455")
    parent, key = _parent(doc, parts, path)
    if isinstance(parent, dict) and key in parent:
        del parent[key]
    elif isinstance(parent, list) and key.isdigit() and int(key) < len(parent):
        del parent[int(key)]
    else:
        raise PatchError(f"JSON Patch path {path!r} does not exist", code="1455")
    return doc


def apply_patch(doc: Any, ops: Any, *, allowed: set[str] | None = None) -> Any:
    """Apply ``ops`` to a deep copy of ``doc``; the original is never modified (all or nothing)."""
    result = copy.deepcopy(doc)
    for op in validate_patch(ops, allowed=allowed):
        name, path = op["op"], op["path"]
        if name == "add":
            result = _add(result, path, copy.deepcopy(op["value"]))
        elif name == "remove":
            result = _remove(result, path)
        elif name == "replace":
            _get(result, path)
            result = _add(_remove(result, path), path, copy.deepcopy(op["value"])) if path else op["value"]
        elif name == "move":
            value = _get(result, op["from"])
            result = _add(_remove(result, op["from"]), path, value)
        elif name == "copy":
            result = _add(result, path, copy.deepcopy(_get(result, op["from"])))
        elif name == "test" and _get(result, path) != op["value"]:
            raise PatchError(f"JSON Patch test failed at {path!r}", code="1455")
    return result
