"""A tiny DSL to write XDM resources compactly (used by :mod:`xdmflow.schema.builtins`).

Fields are written with their standard-notation names (``xdm:foo``, ``@id``,
``repo:createDate``) and converted to compatibility mode when the resource is built
(``meta:xdmField`` keeps the standard name; prefixed names become ``_prefix`` objects).
"""

from __future__ import annotations

from typing import Any

from xdmflow.schema.naming import alt_id, compat_path

Json = dict[str, Any]


def _opts(node: Json, kw: dict[str, Any]) -> Json:
    keymap = {
        "fmt": "format",
        "min_len": "minLength",
        "max_len": "maxLength",
        "lo": "minimum",
        "hi": "maximum",
    }
    for key, val in kw.items():
        if val is None:
            continue
        if key == "soft":
            node["meta:enum"] = labels(val)
        elif key == "enum":
            values = val.split()
            node["enum"] = values
            node["meta:enum"] = labels(values)
        elif key == "status":
            node["meta:status"] = val
        else:
            node[keymap.get(key, key)] = val
    return node


def labels(values: str | list[str]) -> dict[str, str]:
    """Display labels for (soft) enum values, derived from the values themselves."""
    items = values.split() if isinstance(values, str) else values
    return {v: (v[:1].upper() + v[1:]).replace("_", " ") for v in items}


def s(title: str, **kw: Any) -> Json:
    """A string field (``fmt=``, ``pattern=``, ``enum=``/``soft=`` space-separated, ...)."""
    return _opts({"title": title, "type": "string"}, kw)


def i(title: str, **kw: Any) -> Json:
    """An integer field (``lo=`` / ``hi=`` bounds)."""
    return _opts({"title": title, "type": "integer"}, kw)


def n(title: str, **kw: Any) -> Json:
    """A number (double) field."""
    return _opts({"title": title, "type": "number"}, kw)


def b(title: str, **kw: Any) -> Json:
    """A boolean field."""
    return _opts({"title": title, "type": "boolean"}, kw)


def ref(target: str, title: str | None = None) -> Json:
    """A field whose type is another resource (a data type)."""
    node: Json = {"$ref": target}
    if title:
        node["title"] = title
    return node


def arr(title: str, items: Json) -> Json:
    """An array field."""
    return {"title": title, "type": "array", "items": items}


def compat_props(props: dict[str, Json]) -> dict[str, Json]:
    """Standard-notation properties -> compatibility-mode properties (recursively)."""
    out: dict[str, Json] = {}
    for std, node in props.items():
        node = dict(node)
        if "properties" in node:
            node["properties"] = compat_props(node["properties"])
        if isinstance(node.get("items"), dict) and "properties" in node["items"]:
            node["items"] = dict(node["items"], properties=compat_props(node["items"]["properties"]))
        path = compat_path(std)
        if path != (std,):
            node["meta:xdmField"] = std
        target = out
        for part in path[:-1]:
            holder = target.setdefault(
                part,
                {"type": "object", "meta:xdmType": "object", "meta:xedConverted": True, "properties": {}},
            )
            target = holder["properties"]
        target[path[-1]] = node
    return out


def defn(props: dict[str, Json], required: list[str] | None = None, **extra: Any) -> Json:
    """A ``definitions`` entry: ``{"properties": ..., "required": ...}`` in compat mode."""
    node: Json = dict(extra)
    node["properties"] = compat_props(props)
    if required:
        node["required"] = list(required)
    return node


def resource(
    rid: str,
    rtype: str,
    title: str,
    description: str,
    definitions: dict[str, Json],
    *,
    refs_before: tuple[str, ...] = (),
    refs_after: tuple[str, ...] = (),
    own: tuple[str, ...] | None = None,
    **meta: Any,
) -> Json:
    """A global resource in the registry's raw (xed) compat-mode shape.

    ``allOf`` = ``refs_before`` + one ``#/definitions/<name>`` per entry of ``own`` (default:
    every definition) + ``refs_after``. ``meta`` keys use ``_`` for ``:`` and ``-``
    (``meta_extends`` -> ``meta:extends``); ``None`` values are left out.
    """
    names = list(definitions) if own is None else list(own)
    res: Json = {
        "$id": rid,
        "meta:altId": alt_id(rid),
        "meta:resourceType": rtype,
        "version": "1.0",
        "title": title,
        "description": description,
        "type": "object",
        "definitions": definitions,
        "allOf": [{"$ref": r} for r in refs_before]
        + [{"$ref": f"#/definitions/{name}"} for name in names]
        + [{"$ref": r} for r in refs_after],
        "meta:containerId": "global",
        "meta:status": "stable",
    }
    for key, val in meta.items():
        if val is not None:
            res[key.replace("meta_", "meta:")] = val
    return res
