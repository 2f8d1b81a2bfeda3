"""Resolution: a raw (``xed``) resource -> the ``xed-full`` view.

Every ``$ref``/``allOf`` is merged into one ``properties`` tree (ASCII order), names are
in compatibility mode, every field carries ``meta:xdmType``, objects that came from a data
type carry ``meta:referencedFrom``, ``title``/``description`` next to a ``$ref`` win over
the target's. ``required`` lists are translated to compat names (xdm.md §1, §6.7, §12).

Resources are looked up in a ``Mapping`` (``$id`` or ``meta:altId`` keys) or a callable,
then in the global container (:mod:`xdmflow.schema.builtins`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from xdmflow.errors import NotFoundError, ValidationFailedError
from xdmflow.schema.builtins import _global_index
from xdmflow.schema.compiled import INTEGER_RANGES
from xdmflow.schema.naming import compat_path

__all__ = ["Resources", "Lookup", "make_lookup", "resolve", "resolve_body", "infer_xdm_type", "SKIPPED_REFS"]

Json = dict[str, Any]
Resources = Mapping[str, Json] | Callable[[str], Json | None] | None
Lookup = Callable[[str], Json | None]

#: ``$ref`` targets ignored by resolution (the JSON-LD guard, xdm.md §12.2).
SKIPPED_REFS = ("https://ns.adobe.com/xdm/common/extensible",)

_NOT_FIELD_KEYS = {
    "$ref",
    "$id",
    "$schema",
    "allOf",
    "definitions",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "meta:altId",
    "meta:resourceType",
    "version",
    "meta:extends",
    "meta:intendedToExtend",
    "meta:abstract",
    "meta:extensible",
    "meta:containerId",
    "meta:tags",
    "meta:license",
    "meta:auditable",
    "auditable",
    "meta:createdDate",
    "meta:titleId",
    "meta:descriptionId",
    "refs",
    "meta:registryMetadata",
    "imsOrg",
    "meta:sandboxId",
    "meta:sandboxType",
    "meta:tenantNamespace",
    "meta:class",
    "meta:datasetNamespace",
    "meta:immutableTags",
    "meta:descriptorStatus",
    "meta:referencedFrom",
}
_TEXT_KEYS = ("title", "description")
_ANONYMOUS = "urn:xdmflow:request-body"


def make_lookup(resources: Resources = None) -> Lookup:
    """A lookup function over ``resources`` (by ``$id`` or altId) falling back to globals."""
    gl_by_id, gl_by_alt = _global_index()
    by_alt: dict[str, str] = {}
    if isinstance(resources, Mapping):
        by_alt = {
            r["meta:altId"]: k for k, r in resources.items() if isinstance(r, dict) and "meta:altId" in r
        }

    def lookup(rid: str) -> Json | None:
        found: Json | None = None
        if callable(resources):
            found = resources(rid)
        elif isinstance(resources, Mapping):
            found = resources.get(rid) or resources.get(by_alt.get(rid, ""))
        if found is None:
            found = gl_by_id.get(gl_by_alt.get(rid, rid))
        return found

    return lookup


def infer_xdm_type(node: Json, path: str = "") -> str:
    """The logical type of a (resolved) JSON-Schema node, checking ``meta:xdmType`` against it."""
    jtype = node.get("type")
    declared = node.get("meta:xdmType")
    if jtype == "string":
        inferred = {"date": "date", "date-time": "date-time"}.get(node.get("format", ""), "string")
    elif jtype == "integer":
        inferred = _integer_type(node.get("minimum"), node.get("maximum"))
    elif jtype in ("number", "boolean", "array"):
        inferred = str(jtype)
    elif jtype == "object" or (jtype is None and ("properties" in node or "additionalProperties" in node)):
        inferred = "map" if "additionalProperties" in node and not node.get("properties") else "object"
        if declared == "map" and node.get("properties"):
            raise _fail(f"map field '{path}' must not declare properties, only additionalProperties")
    else:
        raise _fail(f"field '{path}' has no supported type (type={jtype!r})")
    if declared is None or declared == inferred:
        return inferred
    compatible = {
        "integer": set(INTEGER_RANGES),
        "number": {"number", *INTEGER_RANGES},
        "string": {"string", "date", "date-time"},
        "object": {"object", "map"},
        "boolean": {"boolean"},
        "array": {"array"},
    }.get(str(jtype or "object"), set())
    if declared not in compatible:
        raise _fail(f"field '{path}' declares meta:xdmType {declared!r} but its type is {jtype!r}")
    return str(declared)


def _integer_type(lo: float | None, hi: float | None) -> str:
    if lo is None and hi is None:
        return "int"
    low = lo if lo is not None else INTEGER_RANGES["int"][0]
    high = hi if hi is not None else INTEGER_RANGES["int"][1]
    for name in ("byte", "short", "int", "long"):
        rmin, rmax = INTEGER_RANGES[name]
        if rmin <= low and high <= rmax:
            return name
    return "long"


def _fail(message: str, **details: Any) -> ValidationFailedError:
    return ValidationFailedError(message, details={"errors": [message], **details})


class _Resolver:
    def __init__(self, lookup: Lookup, notext: bool) -> None:
        self.lookup = lookup
        self.notext = notext
        # id(resolved property node) -> (node, defining resource); the node is kept so ids stay unique
        self.src: dict[int, tuple[Json, str]] = {}

    def resource(self, rid: str, referrer: str = "") -> Json:
        found = self.lookup(rid)
        if found is None:
            where = f" (referenced from {referrer})" if referrer else ""
            raise _fail(f"unknown $ref '{rid}'{where}", ref=rid)
        return found

    def target(self, ref: str, base: str) -> tuple[Json, str, bool]:
        """(node, base id of the node, whether the whole resource is referenced)."""
        rid, _, frag = ref.partition("#")
        rid = rid or base
        res = self.resource(rid, base)
        if not frag or frag == "/":
            return res, res.get("$id", rid), True
        node: Any = res
        for part in frag.strip("/").split("/"):
            node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, dict) else None
            if node is None:
                raise _fail(f"unknown $ref '{ref}' (no '{frag}' in {rid})", ref=ref)
        return node, res.get("$id", rid), False

    def ref(self, node: Json, base: str, path: str, stack: tuple[str, ...]) -> Json:
        ref = str(node["$ref"])
        key = ref if "#" not in ref or ref.split("#")[0] else base + ref
        if key in stack:
            raise _fail(f"cycle in $ref chain: {' -> '.join((*stack, key))}", ref=ref)
        target, tbase, whole = self.target(ref, base)
        out = self.node(target, tbase, path, (*stack, key), whole=whole)
        if whole:
            out["meta:referencedFrom"] = tbase
        for k in _TEXT_KEYS:
            if k in node and not self.notext:
                out[k] = node[k]
        return out

    def node(self, node: Json, base: str, path: str, stack: tuple[str, ...], whole: bool = False) -> Json:
        if "$ref" in node:
            return self.ref(node, base, path, stack)
        keep = _TEXT_KEYS + ("type",) if whole else None
        out: Json = {k: copy.deepcopy(v) for k, v in node.items() if k not in _NOT_FIELD_KEYS}
        if keep is not None:
            out = {k: v for k, v in out.items() if k in keep}
        if self.notext:
            for k in _TEXT_KEYS:
                out.pop(k, None)
        props: Json = {}
        required: list[str] = []
        for part in node.get("allOf", ()):
            if str(part.get("$ref", "")).startswith(SKIPPED_REFS):
                continue
            sub = self.node(part, base, path, stack)
            self.merge(props, sub.get("properties", {}), path)
            required += [r for r in sub.get("required", ()) if r not in required]
        own = self.properties(node.get("properties", {}), base, path, stack)
        self.merge(props, own, path)
        required += [r for r in _compat_required(node.get("required", ())) if r not in required]
        if (
            props
            or "properties" in node
            or node.get("type") == "object"
            and "additionalProperties" not in node
        ):
            out["properties"] = dict(sorted(props.items()))
            out.setdefault("type", "object")
        if required:
            out["required"] = required
        if isinstance(node.get("items"), dict):
            out["items"] = self.node(node["items"], base, path, stack)
        if isinstance(node.get("additionalProperties"), dict):
            out["additionalProperties"] = self.node(node["additionalProperties"], base, path, stack)
        out["meta:xdmType"] = infer_xdm_type(out, path or "<root>")
        return out

    def properties(self, props: Json, base: str, path: str, stack: tuple[str, ...]) -> Json:
        out: Json = {}
        for name, sub in props.items():
            parts = compat_path(name)
            target = out
            for part in parts[:-1]:
                holder = target.setdefault(part, self.converted_object())
                self.src.setdefault(id(holder), (holder, base))
                target = holder["properties"]
            child_path = ".".join(p for p in (path, *parts) if p)
            child = self.node(sub, base, child_path, stack)
            if parts != (name,):
                child.setdefault("meta:xdmField", name)
            self.src.setdefault(id(child), (child, base))
            self.merge(target, {parts[-1]: child}, ".".join(p for p in (path, *parts[:-1]) if p))
        return out

    def converted_object(self) -> Json:
        return {"type": "object", "meta:xdmType": "object", "meta:xedConverted": True, "properties": {}}

    def merge(self, into: Json, new: Json, path: str) -> None:
        """Merge resolved properties ``new`` into ``into``; objects merge, leaves must agree."""
        for name, node in new.items():
            fpath = f"{path}.{name}" if path else name
            if name not in into:
                into[name] = node
                continue
            old = into[name]
            t_old, t_new = old.get("meta:xdmType"), node.get("meta:xdmType")
            if t_old == t_new == "object":
                self.merge(old["properties"], node.get("properties", {}), fpath)
                old["properties"] = dict(sorted(old["properties"].items()))
                req = old.setdefault("required", [])
                req += [r for r in node.get("required", ()) if r not in req]
                if not req:
                    del old["required"]
            elif t_old != t_new:
                a, b = (self.src.get(id(x), (x, "?"))[1] for x in (old, node))
                raise _fail(
                    f"conflicting definitions of field '{fpath}': {t_old} in {a} and {t_new} in {b}",
                    path=fpath,
                    sources=[a, b],
                )


def _compat_required(names: Any) -> list[str]:
    return [compat_path(str(n))[0] for n in names]


def resolve_body(body: Json, resources: Resources = None, *, notext: bool = False) -> Json:
    """The ``xed-full`` view of a resource body (need not be stored anywhere)."""
    lookup = make_lookup(resources)
    base = str(body.get("$id") or _ANONYMOUS)
    r = _Resolver(_with_self(lookup, body, base), notext)
    resolved = r.node(
        {k: body[k] for k in ("allOf", "properties", "required", "type") if k in body}, base, "", ()
    )
    out: Json = {
        k: copy.deepcopy(v) for k, v in body.items() if k not in ("allOf", "definitions", "properties")
    }
    if notext:
        for k in _TEXT_KEYS:
            out.pop(k, None)
    out["type"] = "object"
    out["meta:xdmType"] = "object"
    out["properties"] = resolved.get("properties", {})
    if "required" in resolved:
        out["required"] = resolved["required"]
    return out


def _with_self(lookup: Lookup, body: Json, base: str) -> Lookup:
    def inner(rid: str) -> Json | None:
        return body if rid == base else lookup(rid)

    return inner


def resolve(resource_id: str, resources: Resources = None, *, notext: bool = False) -> Json:
    """The ``xed-full`` view of a stored resource (``$id`` or altId); raises on unknown ids.

    ``resources`` holds the tenant resources (``Mapping`` keyed by ``$id`` or a callable);
    global resources are always available. ``notext`` drops titles and descriptions.
    """
    lookup = make_lookup(resources)
    body = lookup(resource_id)
    if body is None:
        raise NotFoundError(
            f"Object {resource_id} with version 1 not found", code="1012", resource_id=resource_id
        )
    return resolve_body(body, resources, notext=notext)
