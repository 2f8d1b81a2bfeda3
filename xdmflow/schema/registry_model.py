"""Composition rules of the Schema Registry: what it checks and computes on create/update.

Pure functions over resource bodies (no ids, versions or storage, which belong to the HTTP
service): :func:`compose_schema` for schemas (xdm.md §6), :func:`prepare_class`,
:func:`prepare_field_group` and :func:`prepare_data_type` for tenant resources (§8,
platform-api.md §2.4, §2.6). Each returns a new body with the registry-computed keys and
raises :class:`~xdmflow.errors.ValidationFailedError` naming what is wrong.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

from xdmflow.errors import ValidationFailedError
from xdmflow.schema.naming import BEHAVIOR_ADHOC, BEHAVIORS, adhoc_namespace, tenant_namespace
from xdmflow.schema.resolve import SKIPPED_REFS, Lookup, Resources, infer_xdm_type, make_lookup, resolve_body

__all__ = [
    "compose_schema",
    "prepare_class",
    "prepare_field_group",
    "prepare_data_type",
    "resource_kind",
    "transitive_extends",
    "annotate_xdm_types",
    "check_field_names",
    "CUSTOM_FIELDS_MESSAGE",
]

Json = dict[str, Any]

CUSTOM_FIELDS_MESSAGE = (
    "For custom fields, you must use a top level field named {ns} "
    "and all the other fields must be defined under it"
)
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_READ_ONLY = (
    "meta:class",
    "meta:extends",
    "meta:abstract",
    "meta:extensible",
    "refs",
    "meta:xdmType",
    "meta:resourceType",
    "meta:containerId",
    "meta:datasetNamespace",
    "meta:tenantNamespace",
)


def _fail(message: str, **details: Any) -> ValidationFailedError:
    return ValidationFailedError(message, details={"errors": [message], **details})


def resource_kind(resource: Json) -> str:
    """``meta:resourceType`` of a resource, inferred for bodies that lack it."""
    kind = resource.get("meta:resourceType")
    if kind:
        return "mixins" if kind == "fieldgroups" else str(kind)
    if resource.get("$id") in BEHAVIORS:
        return "behaviors"
    if "meta:intendedToExtend" in resource:
        return "mixins"
    return "datatypes"


def transitive_extends(resource_id: str, lookup: Lookup) -> list[str]:
    """Every resource ``resource_id`` extends, transitively, de-duplicated (itself excluded)."""
    out: list[str] = []
    todo = [resource_id]
    while todo:
        res = lookup(todo.pop(0))
        for ext in (res or {}).get("meta:extends", ()):
            if ext not in out and ext != resource_id:
                out.append(ext)
                todo.append(ext)
    return out


def _allof_refs(body: Json) -> tuple[list[str], list[Json]]:
    """(absolute ``$ref``s of ``allOf``, de-duplicated; inline parts and local-definition targets)."""
    refs: list[str] = []
    inline: list[Json] = []
    for part in body.get("allOf", ()):
        if not isinstance(part, dict):
            raise _fail("allOf entries must be objects")
        ref = part.get("$ref")
        if ref is None:
            inline.append(part)
        elif str(ref).startswith("#"):
            inline.append(_local(body, str(ref)))
        elif not str(ref).startswith(SKIPPED_REFS) and ref not in refs:
            refs.append(str(ref))
    inline += [{"properties": body["properties"]}] if "properties" in body else []
    return refs, inline


def _local(body: Json, ref: str) -> Json:
    node: Any = body
    for part in ref[1:].strip("/").split("/"):
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        raise _fail(f"unknown $ref '{ref}': no such definition in the body", ref=ref)
    return node


def _walk_names(props: Json, path: str = "") -> Iterator[tuple[str, str, Json]]:
    for name, node in props.items():
        fpath = f"{path}.{name}" if path else name
        yield name, fpath, node
        if not isinstance(node, dict):
            continue
        yield from _walk_names(node.get("properties", {}), fpath)
        items = node.get("items")
        if isinstance(items, dict):
            yield from _walk_names(items.get("properties", {}), fpath)


def check_field_names(parts: list[Json], allowed: set[str]) -> None:
    """Field names: ``[A-Za-z0-9_-]``, and a leading ``_`` only for the namespace objects."""
    for part in parts:
        for name, fpath, _node in _walk_names(part.get("properties", {})):
            if not _NAME_RE.match(name):
                raise _fail(f"invalid field name '{fpath}': use letters, digits, '-' and '_'", path=fpath)
            if name.startswith("_") and name not in allowed:
                ns = " or ".join(sorted(allowed)) or "a namespace object"
                raise _fail(f"field '{fpath}' must not start with '_' (only {ns} may)", path=fpath)


def _check_namespaced(parts: list[Json], namespaces: set[str]) -> None:
    for part in parts:
        for name in part.get("properties", {}):
            if name not in namespaces:
                ns = " or ".join(sorted(namespaces))
                raise _fail(CUSTOM_FIELDS_MESSAGE.format(ns=ns) + f" (found '{name}')", path=name)


def _fresh(body: Json) -> Json:
    out = copy.deepcopy(body)
    for key in _READ_ONLY:
        out.pop(key, None)
    out["type"] = "object"
    return out


def _class_and_groups(refs: list[str], lookup: Lookup) -> tuple[str, list[str]]:
    """Split schema ``allOf`` refs into the one class and compatible field groups (or raise)."""
    kinds: dict[str, str] = {}
    for ref in refs:
        res = lookup(ref)
        if res is None:
            raise _fail(f"unknown $ref '{ref}' in allOf", ref=ref)
        kinds[ref] = resource_kind(res)
    classes = [r for r in refs if kinds[r] == "classes"]
    if len(classes) != 1:
        found = ", ".join(classes) or "none"
        raise _fail(f"a schema must reference exactly one class in allOf (found {len(classes)}: {found})")
    cls_id = classes[0]
    groups = [r for r in refs if r != cls_id]
    for ref in groups:
        if kinds[ref] != "mixins":
            raise _fail(
                f"'{ref}' is a {kinds[ref]} resource; a schema allOf takes one class and field groups"
            )
        intended = (lookup(ref) or {}).get("meta:intendedToExtend") or []
        if intended and cls_id not in intended:
            raise _fail(
                f"field group '{ref}' is not compatible with class '{cls_id}' "
                f"(meta:intendedToExtend: {', '.join(intended)})",
                ref=ref,
            )
    return cls_id, groups


def compose_schema(body: Json, resources: Resources = None, tenant_id: str | None = None) -> Json:
    """Validate a schema body (class + field groups) and add the registry-computed keys.

    Adds ``meta:class``, ``meta:extends`` (transitive, de-duplicated), ``meta:abstract:
    false``, ``meta:extensible: false``, ``refs`` (class and field groups, de-duplicated),
    ``meta:datasetNamespace`` for ad-hoc classes, ``meta:tenantNamespace``; ``allOf``
    entries are decorated with ``type``/``meta:xdmType``. The composed fields are resolved
    once to detect conflicts, unknown refs, cycles and invalid maps.
    """
    lookup = make_lookup(resources)
    refs, inline = _allof_refs(body)
    cls_id, groups = _class_and_groups(refs, lookup)
    cls = lookup(cls_id) or {}
    allowed = {
        n for n in (tenant_namespace(tenant_id) if tenant_id else None, cls.get("meta:datasetNamespace")) if n
    }
    check_field_names(inline, allowed)
    out = _fresh(body)
    extends = [cls_id, *transitive_extends(cls_id, lookup)]
    for ref in groups:
        extends += [e for e in (ref, *transitive_extends(ref, lookup)) if e not in extends]
    out.update(
        {
            "meta:class": cls_id,
            "meta:extends": extends,
            "meta:abstract": False,
            "meta:extensible": False,
            "refs": refs,
            "meta:resourceType": "schemas",
        }
    )
    if cls.get("meta:datasetNamespace"):
        out["meta:datasetNamespace"] = cls["meta:datasetNamespace"]
    if tenant_id:
        out["meta:tenantNamespace"] = tenant_namespace(tenant_id)
    out["allOf"] = [_decorate(p) for p in out.get("allOf", ())]
    resolve_body(out, lookup)
    return out


def _decorate(part: Json) -> Json:
    if "$ref" in part and not str(part["$ref"]).startswith("#"):
        return {**part, "type": "object", "meta:xdmType": "object"}
    return part


def _data_type_refs(body: Json) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#") and not ref.startswith(SKIPPED_REFS):
                rid = ref.split("#")[0]
                if rid not in found:
                    found.append(rid)
            for val in node.values():
                walk(val)
        elif isinstance(node, list):
            for val in node:
                walk(val)

    walk(body)
    return [r for r in found if r not in BEHAVIORS]


def prepare_class(body: Json, resources: Resources, tenant_id: str, *, adhoc_guid: str | None = None) -> Json:
    """Validate a tenant class body and add ``meta:extends``/abstract/extensible/....

    ``allOf`` must reference exactly one behavior (record, time-series or adhoc); custom
    fields live under ``_{TENANT_ID}``. For an ad-hoc class the ``_adhoc`` object is renamed
    to ``_<adhoc_guid>`` and ``meta:datasetNamespace`` is set (platform-api.md §2.6).
    """
    lookup = make_lookup(resources)
    refs, _inline = _allof_refs(body)
    behaviors = [r for r in refs if r in BEHAVIORS]
    others = [r for r in refs if r not in BEHAVIORS]
    if len(behaviors) != 1 or others:
        raise _fail(
            "a class allOf must reference exactly one behavior (https://ns.adobe.com/xdm/data/record, "
            f".../time-series or .../adhoc) and its own definitions; got {', '.join(refs) or 'none'}"
        )
    out = _fresh(body)
    ns = tenant_namespace(tenant_id)
    allowed = {ns}
    if behaviors[0] == BEHAVIOR_ADHOC:
        if not adhoc_guid:
            raise _fail("an ad-hoc class needs a guid for its dataset namespace")
        dataset_ns = adhoc_namespace(adhoc_guid)
        _rename_adhoc(out, dataset_ns)
        out["meta:datasetNamespace"] = dataset_ns
        allowed = {dataset_ns}
    _, inline = _allof_refs(out)
    _check_namespaced(inline, allowed)
    check_field_names(inline, allowed)
    out.update(
        {
            "meta:extends": behaviors,
            "meta:abstract": True,
            "meta:extensible": True,
            "meta:resourceType": "classes",
            "meta:tenantNamespace": ns,
        }
    )
    out["refs"] = _data_type_refs(out)
    resolve_body(out, lookup)
    return annotate_xdm_types(out)


def _rename_adhoc(body: Json, dataset_ns: str) -> None:
    holders = [p for p in body.get("allOf", ()) if isinstance(p, dict) and "$ref" not in p]
    holders += list(body.get("definitions", {}).values()) + [body]
    for holder in holders:
        props = holder.get("properties")
        if isinstance(props, dict) and "_adhoc" in props:
            holder["properties"] = {(dataset_ns if k == "_adhoc" else k): v for k, v in props.items()}


def prepare_field_group(body: Json, resources: Resources, tenant_id: str) -> Json:
    """Validate a tenant field group (``meta:intendedToExtend`` required, fields under ``_{TENANT_ID}``)."""
    lookup = make_lookup(resources)
    intended = body.get("meta:intendedToExtend")
    if not isinstance(intended, list) or not all(isinstance(c, str) for c in intended):
        raise _fail(
            "meta:intendedToExtend is required: a list of class $ids the field group can be used with"
        )
    for cls in intended:
        res = lookup(cls)
        if res is None or resource_kind(res) != "classes":
            raise _fail(f"meta:intendedToExtend names '{cls}', which is not a known class", ref=cls)
    refs, inline = _allof_refs(body)
    if refs:
        raise _fail(f"a field group allOf may only reference its own definitions, not {', '.join(refs)}")
    ns = tenant_namespace(tenant_id)
    _check_namespaced(inline, {ns})
    check_field_names(inline, {ns})
    out = _fresh(body)
    out.update(
        {
            "meta:abstract": True,
            "meta:extensible": True,
            "meta:resourceType": "mixins",
            "meta:tenantNamespace": ns,
            "refs": _data_type_refs(body),
        }
    )
    resolve_body(out, lookup)
    return annotate_xdm_types(out)


def prepare_data_type(body: Json, resources: Resources, tenant_id: str) -> Json:
    """Validate a tenant data type (no namespace object needed; fields may ``$ref`` data types)."""
    lookup = make_lookup(resources)
    for key in ("meta:intendedToExtend",):
        if key in body:
            raise _fail(f"a data type must not declare {key}")
    refs, inline = _allof_refs(body)
    for ref in refs:
        res = lookup(ref)
        if res is None:
            raise _fail(f"unknown $ref '{ref}' in allOf", ref=ref)
        if resource_kind(res) != "datatypes":
            raise _fail(f"a data type can only extend data types; '{ref}' is {resource_kind(res)}")
    check_field_names(inline, {tenant_namespace(tenant_id)})
    out = _fresh(body)
    out.update(
        {
            "meta:abstract": True,
            "meta:extensible": True,
            "meta:resourceType": "datatypes",
            "meta:tenantNamespace": tenant_namespace(tenant_id),
            "refs": _data_type_refs(body),
        }
    )
    resolve_body(out, lookup)
    return annotate_xdm_types(out)


def annotate_xdm_types(body: Json) -> Json:
    """Add ``meta:xdmType`` to every field of a raw body (as the registry stores it)."""

    def visit(props: Json, path: str) -> None:
        for name, node in props.items():
            if not isinstance(node, dict):
                continue
            fpath = f"{path}.{name}" if path else name
            if "$ref" in node:
                node.setdefault("type", "object")
                node.setdefault("meta:xdmType", "object")
                continue
            visit(node.get("properties", {}), fpath)
            if isinstance(node.get("items"), dict):
                visit({"items": node["items"]}, fpath)
            if "type" in node or "properties" in node:
                node["meta:xdmType"] = infer_xdm_type(node, fpath)

    for holder in [
        *body.get("definitions", {}).values(),
        *[p for p in body.get("allOf", ()) if "$ref" not in p],
    ]:
        if isinstance(holder, dict):
            visit(holder.get("properties", {}), "")
    visit(body.get("properties", {}), "")
    body["meta:xdmType"] = "object"
    return body
