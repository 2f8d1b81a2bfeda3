"""Compile a resolved (``xed-full``) schema into a :class:`CompiledSchema`.

Names are the compat names of the resolved view; types follow xdm.md §1.1 (``meta:xdmType``
when present, else inferred: smallest integer type for the bounds, unbounded = ``int``,
``date``/``date-time`` formats become types); ``enum`` is the hard enum and the keys of
``meta:enum`` the suggested values; ``required`` is translated from standard names.
Identity descriptors mark their field (and, for the primary identity, the field and every
ancestor as required with ``minLength: 1``, as the registry does, xdm.md §9).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any, cast, get_args

from xdmflow import regexes
from xdmflow.errors import ValidationFailedError
from xdmflow.schema.compiled import CompiledSchema, IdentityInfo, XdmField, XdmType
from xdmflow.schema.naming import BEHAVIORS, compat_path
from xdmflow.schema.resolve import infer_xdm_type

__all__ = ["compile_schema", "compile_field", "IdentitySpec", "normalize_path"]

Json = dict[str, Any]
#: ``(path, namespace, is_primary)``; path dotted (``personalEmail.address``) or a descriptor
#: path (``/personalEmail/address``, standard names accepted).
IdentitySpec = tuple[str, str, bool]


def normalize_path(path: str) -> str:
    """Descriptor path or dotted path -> dotted compat path (``/xdm:a/@id`` -> ``a._id``)."""
    parts = [p for p in path.replace("/", ".").split(".") if p] if "/" in path else path.split(".")
    return ".".join(".".join(compat_path(p)) for p in parts if p)


def _required_names(node: Json) -> set[str]:
    return {compat_path(str(r))[0] for r in node.get("required", ())}


def compile_field(name: str, node: Json, path: str, required: bool = False) -> XdmField:
    """Compile one resolved JSON-Schema node (and everything below it)."""
    raw_type = node.get("meta:xdmType") or infer_xdm_type(node, path)
    if raw_type not in get_args(XdmType):
        raise ValidationFailedError(f"field '{path}' has unknown meta:xdmType {raw_type!r}")
    xdm_type = cast(XdmType, raw_type)
    children: tuple[XdmField, ...] = ()
    items = values = None
    if xdm_type == "object":
        req = _required_names(node)
        children = tuple(
            compile_field(cname, cnode, f"{path}.{cname}" if path else cname, cname in req)
            for cname, cnode in sorted(node.get("properties", {}).items())
        )
    elif xdm_type == "array":
        if not isinstance(node.get("items"), dict):
            raise ValidationFailedError(f"array field '{path}' has no items schema")
        items = compile_field(name, node["items"], path)
    elif xdm_type == "map":
        if not isinstance(node.get("additionalProperties"), dict):
            raise ValidationFailedError(f"map field '{path}' has no additionalProperties schema")
        values = compile_field(name, node["additionalProperties"], path)
    meta_enum = node.get("meta:enum")
    fmt = node.get("format") if xdm_type == "string" else None
    pattern = node.get("pattern")
    if pattern is not None:
        try:
            regexes.compile(pattern)  # validation runs it with RE2: refuse what RE2 cannot run
        except regexes.RegexError as exc:
            raise ValidationFailedError(f"field '{path}': {exc}") from None
    return XdmField(
        name=name,
        path=path,
        xdm_type=xdm_type,
        title=str(node.get("title", "")),
        description=str(node.get("description", "")),
        format=fmt,
        enum=tuple(node["enum"]) if isinstance(node.get("enum"), list) else None,
        meta_enum=tuple(str(k) for k in meta_enum) if isinstance(meta_enum, dict | list) else None,
        required=required,
        minimum=node.get("minimum"),
        maximum=node.get("maximum"),
        pattern=pattern,
        min_length=node.get("minLength"),
        max_length=node.get("maxLength"),
        children=children,
        items=items,
        values=values,
        deprecated=node.get("meta:status") == "deprecated",
    )


def _apply_identity(
    fields: tuple[XdmField, ...], parts: list[str], info: IdentityInfo, require: bool, full: str
) -> tuple[XdmField, ...]:
    out = list(fields)
    for idx, f in enumerate(out):
        if f.name != parts[0]:
            continue
        if len(parts) == 1:
            if f.xdm_type != "string":
                raise ValidationFailedError(f"identity field '{full}' must be a string, not {f.xdm_type}")
            f = replace(f, identity=info)
            if require:
                f = replace(f, required=True, min_length=f.min_length or 1)
        else:
            f = _descend(f, parts[1:], info, require, full)
            if require:
                f = replace(f, required=True)
        out[idx] = f
        return tuple(out)
    raise ValidationFailedError(f"identity path '{full}' is not a field of the schema")


def _descend(f: XdmField, rest: list[str], info: IdentityInfo, require: bool, full: str) -> XdmField:
    if f.xdm_type == "array" and f.items is not None:
        return replace(f, items=_descend(f.items, rest, info, require, full))
    if f.xdm_type != "object":
        raise ValidationFailedError(f"identity path '{full}' goes through non-object field '{f.path}'")
    return replace(f, children=_apply_identity(f.children, rest, info, require, full))


def compile_schema(
    resolved_xed_full: Json,
    *,
    identities: Iterable[IdentitySpec] = (),
    require_identities: str = "primary",
) -> CompiledSchema:
    """Compile an ``xed-full`` schema (from :func:`xdmflow.schema.resolve.resolve`).

    ``identities`` come from identity descriptors. ``require_identities`` is ``"primary"``
    (the primary identity and its ancestors become required, default), ``"all"`` or ``"none"``.
    """
    doc = resolved_xed_full
    req = _required_names(doc)
    fields = tuple(
        compile_field(name, node, name, name in req)
        for name, node in sorted(doc.get("properties", {}).items())
    )
    primaries = [p for p, _, prim in identities if prim]
    if len(primaries) > 1:
        raise ValidationFailedError(
            f"a schema can have at most one primary identity, got {', '.join(primaries)}"
        )
    for path, namespace, primary in identities:
        norm = normalize_path(path)
        require = require_identities == "all" or (require_identities == "primary" and primary)
        fields = _apply_identity(fields, norm.split("."), IdentityInfo(namespace, primary), require, norm)
    extends = doc.get("meta:extends", ())
    return CompiledSchema(
        id=str(doc.get("$id", "")),
        version=str(doc.get("version", "1.0")),
        title=str(doc.get("title", "")),
        class_id=str(doc.get("meta:class", doc.get("$id", ""))),
        fields=fields,
        tenant_namespace=doc.get("meta:tenantNamespace"),
        dataset_namespace=doc.get("meta:datasetNamespace"),
        behaviors=tuple(b for b in BEHAVIORS if b in extends),
        profile_enabled="union" in doc.get("meta:immutableTags", ()),
    )
