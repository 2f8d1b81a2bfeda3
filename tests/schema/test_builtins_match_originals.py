"""Our compact global container vs the adobe/xdm originals, field by field.

The originals (CC BY 4.0) live outside the package, in /work/shared/reference/xdm-schemas.
They are expanded here by an independent little walker (allOf / $ref / properties / items /
additionalProperties, compat renaming of xdm.md §1) and compared with our resolved
(xed-full) view: paths, types, formats, enums, soft-enum values, patterns, bounds, required.

Deliberate differences (see xdmflow/schema/builtins.py): the JSON-LD
``extensible#/definitions/@context`` guard is skipped on both sides and its resource is not
shipped; descriptions and meta:enum labels are our own; only ``date-properties`` of the
adobecloud core resource is shipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from xdmflow.schema.builtins import global_resources
from xdmflow.schema.resolve import resolve

ORIGINALS = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "xdm-schemas"
EXTENSIBLE = "https://ns.adobe.com/xdm/common/extensible"
CORE = "http://ns.adobe.com/adobecloud/core/1.0"

pytestmark = pytest.mark.skipif(
    not (ORIGINALS / "components").is_dir(), reason=f"adobe/xdm originals not found at {ORIGINALS}"
)

Info = dict[str, Any]


def _load() -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted((ORIGINALS / "components").rglob("*.schema.json")):
        doc = json.loads(path.read_text())
        out[doc["$id"]] = doc
    return out


def _rename(std: str) -> list[str]:
    if std == "@id":
        return ["_id"]
    if std.startswith("xdm:"):
        return [std[4:]]
    if ":" in std:
        prefix, rest = std.split(":", 1)
        return ["_" + prefix, rest]
    return [std]


def _expand(node: dict[str, Any], base: str, idx: dict[str, Any]) -> dict[str, Any]:
    """Expand an original node into {"properties": {compat: node}, "required": [...], ...}."""
    ref = node.get("$ref")
    if ref is not None:
        rid, _, frag = ref.partition("#")
        rid = rid or base
        if rid == EXTENSIBLE:
            return {"properties": {}}
        target: Any = idx[rid]
        for part in [p for p in frag.split("/") if p]:
            target = target[part]
        return _expand(target, rid, idx)
    out = {k: v for k, v in node.items() if k not in ("allOf", "properties", "required", "definitions")}
    props: dict[str, Any] = {}
    required: list[str] = []
    for part in node.get("allOf", ()):
        sub = _expand(part, base, idx)
        _merge(props, sub.get("properties", {}))
        required += [_rename(r)[0] for r in sub.get("required", ())]
    own: dict[str, Any] = {}
    for name, sub in node.get("properties", {}).items():
        parts = _rename(name)
        holder = own
        for p in parts[:-1]:
            holder = holder.setdefault(p, {"type": "object", "properties": {}})["properties"]
        holder[parts[-1]] = _expand(sub, base, idx)
    _merge(props, own)
    required += [_rename(r)[0] for r in node.get("required", ())]
    if props or "properties" in node or "allOf" in node:
        out["properties"] = props
        out.setdefault("type", "object")
    out["required"] = required
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            out[key] = _expand(node[key], base, idx)
    return out


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for name, node in new.items():
        if name in into and "properties" in into[name] and "properties" in node:
            _merge(into[name]["properties"], node["properties"])
        else:
            into.setdefault(name, node)


def _flatten(node: dict[str, Any], path: str, required: bool, out: dict[str, Info]) -> None:
    meta_enum = node.get("meta:enum")
    out[path] = {
        "type": node.get("type", "object"),
        "format": node.get("format"),
        "enum": node.get("enum"),
        "meta:enum": sorted(meta_enum) if isinstance(meta_enum, dict) else None,
        "pattern": node.get("pattern"),
        "minimum": node.get("minimum"),
        "maximum": node.get("maximum"),
        "minLength": node.get("minLength"),
        "maxLength": node.get("maxLength"),
        "default": node.get("default"),
        "deprecated": node.get("meta:status") == "deprecated",
        "required": required,
    }
    req = set(node.get("required", ()))
    for name, sub in node.get("properties", {}).items():
        _flatten(sub, f"{path}.{name}" if path else name, name in req, out)
    if isinstance(node.get("items"), dict):
        _flatten(node["items"], path + "[]", False, out)
    if isinstance(node.get("additionalProperties"), dict):
        _flatten(node["additionalProperties"], path + "{}", False, out)


def _original_fields(rid: str, idx: dict[str, Any]) -> dict[str, Info]:
    out: dict[str, Info] = {}
    _flatten(_expand(idx[rid], rid, idx), "", False, out)
    return out


def _our_fields(rid: str) -> dict[str, Info]:
    out: dict[str, Info] = {}
    _flatten(resolve(rid), "", False, out)
    return out


ORIGINAL_IDS = sorted(_load()) if (ORIGINALS / "components").is_dir() else []


def test_every_original_is_shipped_except_the_jsonld_guard() -> None:
    ours = global_resources()
    missing = [rid for rid in ORIGINAL_IDS if rid not in ours]
    assert missing == [EXTENSIBLE]
    assert len(ORIGINAL_IDS) == 35


@pytest.mark.parametrize("rid", [r for r in ORIGINAL_IDS if r != EXTENSIBLE])
def test_fields_match(rid: str) -> None:
    idx = _load()
    theirs = _original_fields(rid, idx)
    ours = _our_fields(rid)
    assert sorted(ours) == sorted(theirs), f"paths differ for {rid}"
    for path, info in theirs.items():
        assert ours[path] == info, f"{rid}: field {path!r} differs"


@pytest.mark.parametrize("rid", [r for r in ORIGINAL_IDS if r not in (EXTENSIBLE, CORE)])
def test_metadata_match(rid: str) -> None:
    theirs = _load()[rid]
    ours = global_resources()[rid]
    for key in (
        "title",
        "meta:extends",
        "meta:intendedToExtend",
        "meta:abstract",
        "meta:extensible",
        "meta:status",
        "required",
    ):
        assert ours.get(key) == theirs.get(key), f"{rid}: {key} differs"
    assert ours["meta:containerId"] == "global"
    assert ours["meta:altId"].startswith("_")


def test_core_date_properties_match() -> None:
    theirs = _load()[CORE]["definitions"]["date-properties"]["properties"]
    ours = global_resources()[CORE]["definitions"]["date-properties"]["properties"]["_repo"]["properties"]
    assert sorted(ours) == sorted(k.split(":")[1] for k in theirs)
    for std, node in theirs.items():
        mine = ours[std.split(":")[1]]
        assert mine["meta:xdmField"] == std
        assert (mine["type"], mine.get("format")) == (node["type"], node.get("format"))


def test_known_quirks_are_kept() -> None:
    profile = _our_fields("https://ns.adobe.com/xdm/context/profile")
    assert "identityMap" not in profile
    plist = _our_fields("https://ns.adobe.com/xdm/content/productlistitem")
    assert plist["SKU"]["required"] and plist["selectedOptions[].attribute"]["required"]
    refund = _our_fields("https://ns.adobe.com/xdm/data/refunditem")
    assert refund["refundReason"]["default"] == "other" and "other" not in refund["refundReason"]["enum"]
    ritem = _our_fields("https://ns.adobe.com/xdm/datatypes/returnitem")
    assert ritem["returnQuanitityAuthorized"]["deprecated"]
