"""``/tenant/descriptors``: identity, friendly-name and relationship descriptors (xdm.md §9).

Stored as ``DESCRIPTORS`` documents (id = 40-hex ``@id``, ``parent_id`` = the source
schema ``$id``, ``name`` = ``@type``). ``xdm:sourceProperty`` accepts compat paths
(``/personalEmail/address``) and standard notation (``/xdm:personalEmail/xdm:address``)
and is stored in compat form. Identity descriptors: the field must be a string, at most one
primary per schema, one identity descriptor per field; ``xdm:namespace`` is a standard code
(stored in canonical spelling) or any non-empty custom code. PUT answers 200 with the full
descriptor (the spec's variant; a doc shows 201 ``{"@id"}``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from xdmflow.errors import BadRequestError, ValidationFailedError
from xdmflow.ids import new_hex_id, now_ms
from xdmflow.schema.compile import compile_schema, normalize_path
from xdmflow.schema.compiled import CompiledSchema
from xdmflow.schema.resolve import resolve_body
from xdmflow.services.document_stores import DESCRIPTORS
from xdmflow.services.identity import Principal
from xdmflow.services.schemas.listing import page_list, parse_filter
from xdmflow.services.schemas.namespaces import canonical_namespace
from xdmflow.services.schemas.repo import Json, find_doc, not_found
from xdmflow.services.schemas.views import tenant_resources
from xdmflow.store.documents import Scope
from xdmflow.store.tables import Document

__all__ = [
    "DESCRIPTOR_TYPES",
    "create_descriptor",
    "replace_descriptor",
    "delete_descriptor",
    "get_descriptor",
    "list_descriptors",
]

_DESCRIPTOR_ID = re.compile(r"[0-9a-f]{40,48}")
IDENTITY = "xdm:descriptorIdentity"
DISPLAY = "xdm:alternateDisplayInfo"
DESCRIPTOR_TYPES = (
    IDENTITY,
    DISPLAY,
    "xdm:descriptorOneToOne",
    "xdm:descriptorReferenceIdentity",
    "xdm:descriptorRelationship",
    "xdm:descriptorPrimaryKey",
    "xdm:descriptorVersion",
    "xdm:descriptorTimestamp",
    "xdm:descriptorLabel",
    "xdm:descriptorDeprecated",
)
_SERVER_KEYS = (
    "@id",
    "meta:containerId",
    "version",
    "imsOrg",
    "meta:sandboxId",
    "meta:sandboxType",
    "createdUser",
    "createdClient",
    "updatedUser",
    "created",
    "updated",
)


def _bad(msg: str) -> BadRequestError:
    return BadRequestError(msg, code="1000")


def _schema(s: Session, scope: Scope, key: str, value: Any) -> Json:
    if not isinstance(value, str) or not value:
        raise _bad(f"'{key}' is required: the $id of a tenant schema")
    doc = find_doc(s, scope, value, "schemas")
    if doc is None:
        raise _bad(f"{key} {value} does not exist in this sandbox; create the schema first")
    return dict(doc.body)


def _field_path(raw: Any, compiled: CompiledSchema, what: str = "xdm:sourceProperty") -> tuple[str, str]:
    """(stored slash path, dotted path) of an existing field."""
    if not isinstance(raw, str) or not raw.startswith("/") or raw.endswith("/") or len(raw) < 2:
        raise _bad(f"'{what}' must be a path like /personalEmail/address, got {raw!r}")
    dotted = normalize_path(raw)
    if compiled.field(dotted) is None:
        raise _bad(f"{what} {raw} is not a field of schema {compiled.id}")
    return "/" + dotted.replace(".", "/"), dotted


def _identities(s: Session, scope: Scope, schema_id: str, skip: str | None) -> list[Json]:
    return [
        d.body
        for d in DESCRIPTORS.query(s, scope, parent_ids=[schema_id])
        if d.body.get("@type") == IDENTITY and d.id != skip
    ]


def _check_identity(
    s: Session, scope: Scope, out: Json, resolved: Json, compiled: CompiledSchema, skip: str | None
) -> None:
    ns = out.get("xdm:namespace")
    if not isinstance(ns, str) or not ns.strip():
        raise _bad("'xdm:namespace' is required: an identity namespace code such as Email, ECID, Phone")
    out["xdm:namespace"] = canonical_namespace(ns)
    prop = out.setdefault("xdm:property", "xdm:code")
    if prop not in ("xdm:code", "xdm:id"):
        raise _bad(f"'xdm:property' must be xdm:code or xdm:id, got {prop!r}")
    primary = out.setdefault("xdm:isPrimary", False)
    if not isinstance(primary, bool):
        raise _bad("'xdm:isPrimary' must be true or false")
    others = _identities(s, scope, out["xdm:sourceSchema"], skip)
    for o in others:
        if o["xdm:sourceProperty"] == out["xdm:sourceProperty"]:
            raise _bad(f"Field {out['xdm:sourceProperty']} already has identity descriptor {o['@id']}")
        if primary and o.get("xdm:isPrimary"):
            raise _bad(
                f"Schema {out['xdm:sourceSchema']} already has a primary identity "
                f"({o['xdm:sourceProperty']}, descriptor {o['@id']}); a schema has at most one"
            )
    specs = [(o["xdm:sourceProperty"], o["xdm:namespace"], bool(o.get("xdm:isPrimary"))) for o in others]
    specs.append((out["xdm:sourceProperty"], out["xdm:namespace"], primary))
    try:
        compile_schema(resolved, identities=specs)
    except ValidationFailedError as exc:
        raise ValidationFailedError(
            f"Invalid identity descriptor: {exc.message}", details=exc.details
        ) from None


def _check_display(out: Json) -> None:
    keys = ("xdm:title", "xdm:description", "xdm:note", "meta:enum", "xdm:excludeMetaEnum")
    if not any(k in out for k in keys):
        raise _bad(f"An xdm:alternateDisplayInfo descriptor needs at least one of {', '.join(keys)}")
    for k in ("xdm:title", "xdm:description", "xdm:note"):
        val = out.get(k)
        if val is not None and (
            not isinstance(val, dict) or not all(isinstance(v, str) for v in val.values())
        ):
            raise _bad(f'\'{k}\' must be an object of locale -> text, e.g. {{"en_us": "Name"}}')


def _validate(s: Session, scope: Scope, body: Any, skip: str | None) -> Json:
    if not isinstance(body, dict):
        raise _bad("The request body must be a descriptor object with @type and xdm:sourceSchema")
    out = {k: v for k, v in body.items() if k not in _SERVER_KEYS}
    dtype = out.get("@type")
    if dtype not in DESCRIPTOR_TYPES:
        raise _bad(f"Unknown descriptor @type {dtype!r}; supported: {', '.join(DESCRIPTOR_TYPES)}")
    schema = _schema(s, scope, "xdm:sourceSchema", out.get("xdm:sourceSchema"))
    out["xdm:sourceSchema"] = schema["$id"]
    version = out.setdefault("xdm:sourceVersion", 1)
    if str(version) not in ("1", "1.0"):
        raise _bad(f"'xdm:sourceVersion' must be 1 (the only major version), got {version!r}")
    resolved = resolve_body(schema, tenant_resources(s, scope))
    compiled = compile_schema(resolved)
    prop = out.get("xdm:sourceProperty")
    if dtype in (IDENTITY, DISPLAY, "xdm:descriptorReferenceIdentity") or isinstance(prop, str):
        out["xdm:sourceProperty"], _ = _field_path(prop, compiled)
    elif isinstance(prop, list):
        out["xdm:sourceProperty"] = [_field_path(p, compiled)[0] for p in prop]
    if dtype == IDENTITY:
        _check_identity(s, scope, out, resolved, compiled, skip)
    elif dtype == DISPLAY:
        _check_display(out)
    elif dtype == "xdm:descriptorReferenceIdentity":
        ns = out.get("xdm:identityNamespace")
        if not isinstance(ns, str) or not ns.strip():
            raise _bad("'xdm:identityNamespace' is required on xdm:descriptorReferenceIdentity")
        out["xdm:identityNamespace"] = canonical_namespace(ns)
    elif dtype in ("xdm:descriptorOneToOne", "xdm:descriptorRelationship"):
        _schema(s, scope, "xdm:destinationSchema", out.get("xdm:destinationSchema"))
    return out


def _profile_guard(s: Session, scope: Scope, schema_id: str, skip: str) -> None:
    """A Profile-enabled schema keeps a primary identity (unless it has an identityMap)."""
    doc = find_doc(s, scope, schema_id, "schemas")
    if doc is None or "union" not in doc.body.get("meta:immutableTags", ()):
        return
    if any(o.get("xdm:isPrimary") for o in _identities(s, scope, schema_id, skip)):
        return
    resolved = resolve_body(doc.body, tenant_resources(s, scope))
    if "identityMap" not in resolved.get("properties", {}):
        raise _bad(f"Schema {schema_id} is enabled for Profile and must keep its primary identity descriptor")


def _meta(p: Principal, prev: Json | None) -> Json:
    now = now_ms()
    return {
        "meta:containerId": "tenant",
        "version": "1",
        "imsOrg": p.org_id,
        "meta:sandboxId": p.sandbox_id,
        "meta:sandboxType": p.sandbox_type,
        "createdUser": (prev or {}).get("createdUser", p.user),
        "createdClient": (prev or {}).get("createdClient", p.client_id),
        "updatedUser": p.user,
        "created": (prev or {}).get("created", now),
        "updated": now,
    }


def create_descriptor(s: Session, p: Principal, body: Any) -> Json:
    """``POST /tenant/descriptors``: the stored descriptor with its ``@id``."""
    scope = Scope(p.org_id, p.sandbox_name)
    out = _validate(s, scope, body, None)
    did = new_hex_id(20)
    stored = {"@id": did, **out, **_meta(p, None)}
    DESCRIPTORS.insert(s, scope, did, stored, name=out["@type"], parent_id=out["xdm:sourceSchema"])
    return stored


def get_descriptor(s: Session, scope: Scope, did: str) -> Json:
    """One descriptor (XDM-1012-404 when absent)."""
    doc = _get(s, scope, did)
    return dict(doc.body)


def replace_descriptor(s: Session, p: Principal, did: str, body: Any) -> Json:
    """``PUT /tenant/descriptors/{id}``: the whole descriptor replaced."""
    scope = Scope(p.org_id, p.sandbox_name)
    doc = _get(s, scope, did)
    out = _validate(s, scope, body, did)
    stored = {"@id": did, **out, **_meta(p, doc.body)}
    old_schema = doc.body.get("xdm:sourceSchema", "")
    if doc.body.get("xdm:isPrimary") and not (
        out.get("xdm:isPrimary") and out["xdm:sourceSchema"] == old_schema
    ):
        _profile_guard(s, scope, old_schema, did)
    DESCRIPTORS.save(s, doc, stored, name=out["@type"], parent_id=out["xdm:sourceSchema"])
    return stored


def delete_descriptor(s: Session, p: Principal, did: str) -> None:
    """``DELETE /tenant/descriptors/{id}``."""
    scope = Scope(p.org_id, p.sandbox_name)
    doc = _get(s, scope, did)
    if doc.body.get("@type") == IDENTITY and doc.body.get("xdm:isPrimary"):
        _profile_guard(s, scope, str(doc.body.get("xdm:sourceSchema")), did)
    DESCRIPTORS.remove(s, doc)


def _get(s: Session, scope: Scope, did: str) -> Document:
    if not _DESCRIPTOR_ID.fullmatch(did):
        raise not_found(did)
    return DESCRIPTORS.get(s, scope, did, code="1012")


def _view(fmt: str) -> Any:
    if fmt.endswith("-id"):
        return lambda b: b["@id"]
    if fmt.endswith("-link"):
        return lambda b: f"/tenant/descriptors/{b['@id']}"
    return lambda b: b


def list_descriptors(
    s: Session, scope: Scope, fmt: str, params: Sequence[tuple[str, str]], base_href: str
) -> Json:
    """Grouped by ``@type`` (``xdm-id``/``xdm-link``/``xdm``) or paged (``xdm-v2…``)."""
    bodies = [d.body for d in DESCRIPTORS.query(s, scope)]
    view = _view(fmt)
    if fmt.startswith("xdm-v2"):
        return page_list(bodies, params, base_href, view, default_order="@id")
    filters = [parse_filter(v) for k, v in params if k == "property"]
    grouped: dict[str, list[Any]] = {}
    for b in bodies:
        if not all(f.matches(b) for f in filters):
            continue
        grouped.setdefault(str(b["@type"]), []).append(view(b))
    return grouped
