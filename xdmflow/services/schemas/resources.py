"""Create, replace, patch and delete tenant classes, field groups, data types and schemas.

The composition rules live in :mod:`xdmflow.schema.registry_model`; this module adds what
the registry service owns (platform-api.md §2.4, xdm.md §2, §6, §8, §11): ids and altIds,
``version`` ``1.0`` bumped by one minor on every change, ``meta:registryMetadata``, tenancy
keys, title uniqueness per resource type and sandbox, ``meta:immutableTags: ["union"]``
(Profile enablement: needs a primary identity or an identityMap field, never removed), and
referential integrity (a resource used by another resource, or a schema used by a dataset,
cannot be deleted; a change that breaks a resource built on it is refused).
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from sqlalchemy.orm import Session

from xdmflow.errors import BadRequestError, ConflictError, ValidationFailedError
from xdmflow.ids import new_hex_id, now_ms
from xdmflow.schema.compile import compile_schema
from xdmflow.schema.naming import BEHAVIOR_ADHOC, alt_id, make_tenant_id, tenant_namespace
from xdmflow.schema.registry_model import (
    CUSTOM_FIELDS_MESSAGE,
    compose_schema,
    prepare_class,
    prepare_data_type,
    prepare_field_group,
    resource_kind,
)
from xdmflow.schema.resolve import resolve_body
from xdmflow.services.document_stores import DESCRIPTORS, XDM_RESOURCES
from xdmflow.services.identity import Principal
from xdmflow.services.jsonpatch import apply_patch
from xdmflow.services.schemas.evolution import check_evolution, datasets_using
from xdmflow.services.schemas.repo import Json, body_etag, get_doc, kind_of, load_tenant
from xdmflow.store.documents import Scope

__all__ = [
    "create_resource",
    "replace_resource",
    "patch_resource",
    "delete_resource",
    "identity_specs",
    "users_of",
]

#: Keys the registry computes; whatever a client sends for them is replaced.
_ENVELOPE = (
    "$id",
    "meta:altId",
    "meta:resourceType",
    "version",
    "meta:containerId",
    "meta:tenantNamespace",
    "imsOrg",
    "meta:sandboxId",
    "meta:sandboxType",
    "meta:registryMetadata",
    "meta:xdmType",
)


_MAX_TITLE = 500
#: What the composition library raises on bodies of an unexpected shape.
_SHAPE_ERRORS = (AttributeError, TypeError, KeyError, ValueError, IndexError)


def _scope(p: Principal) -> Scope:
    return Scope(p.org_id, p.sandbox_name)


def _bump(version: Any) -> str:
    major, _, minor = str(version or "1.0").partition(".")
    try:
        return f"{int(major)}.{int(minor or 0) + 1}"
    except ValueError:
        return "1.1"


def _check_body(body: Any, kind: str) -> Json:
    if not isinstance(body, dict):
        raise BadRequestError("The request body must be a JSON object describing the resource")
    title = body.get("title")
    if not isinstance(title, str) or not title.strip():
        raise BadRequestError("'title' is required: a non-empty string naming the resource")
    if "\x00" in title:
        raise BadRequestError("'title' must not contain NUL characters")
    if len(title) > _MAX_TITLE:
        raise BadRequestError(f"'title' is longer than {_MAX_TITLE} characters")
    for key in ("properties", "definitions"):
        if key in body and not isinstance(body[key], dict):
            raise BadRequestError(f"'{key}' must be an object")
    if "description" in body and not isinstance(body["description"], str):
        raise BadRequestError("'description' must be a string")
    if body.get("type", "object") != "object":
        raise BadRequestError("'type' must be \"object\" for classes, field groups, data types and schemas")
    if "allOf" in body and not isinstance(body["allOf"], list):
        raise BadRequestError("'allOf' must be an array of {\"$ref\": ...} objects or inline parts")
    if kind == "schemas":
        _check_schema_inline(body)
    tags = body.get("meta:immutableTags")
    if tags is not None:
        if kind != "schemas":
            raise BadRequestError("meta:immutableTags is only supported on schemas")
        if not isinstance(tags, list) or any(t != "union" for t in tags):
            raise BadRequestError('meta:immutableTags must be ["union"] (enable the schema for Profile)')
    return body


def _check_schema_inline(body: Json) -> None:
    """Inline fields of a schema body must sit in the tenant (or ad-hoc) namespace object."""
    parts = [body] + [p for p in body.get("allOf", ()) if isinstance(p, dict) and "$ref" not in p]
    for part in parts:
        props = part.get("properties")
        loose = [n for n in props if not str(n).startswith("_")] if isinstance(props, dict) else []
        if loose:
            raise BadRequestError(
                CUSTOM_FIELDS_MESSAGE.format(ns="_{TENANT_ID}") + f" (found '{loose[0]}'); "
                "better, put custom fields in a field group and add it to the schema's allOf"
            )


def _title_key(scope: Scope, kind: str, title: str) -> str:
    """The store's unique ``dedupe_key``: one title per type per sandbox, even under races."""
    raw = "\x1f".join((scope.org_id, scope.sandbox_name, kind, title))
    return "xdm-title:" + hashlib.sha256(raw.encode()).hexdigest()


def _check_title(s: Session, scope: Scope, kind: str, title: str, rid: str | None) -> None:
    for doc in XDM_RESOURCES.query(s, scope, parent_ids=[kind], names=[title]):
        if doc.body.get("$id") != rid:
            raise BadRequestError(
                f"Title must be unique. An object {doc.body['$id']} already exists with the same "
                f"title '{title}'; choose another title",
                code="3005",
            )


def _prepare(kind: str, body: Json, resources: dict[str, Json], tenant: str, hex_id: str) -> Json:
    if kind == "schemas":
        return compose_schema(body, resources, tenant)
    if kind == "classes":
        return prepare_class(body, resources, tenant, adhoc_guid=hex_id)
    if kind == "mixins":
        return prepare_field_group(body, resources, tenant)
    return prepare_data_type(body, resources, tenant)


def _finish(out: Json, kind: str, rid: str, p: Principal, prev: Json | None) -> Json:
    head: Json = {
        "$id": rid,
        "meta:altId": alt_id(rid),
        "meta:resourceType": kind,
        "version": "1.0" if prev is None else _bump(prev.get("version")),
    }
    body: Json = {**head, **{k: v for k, v in out.items() if k not in _ENVELOPE}}
    body.update(
        {
            "meta:xdmType": "object",
            "meta:containerId": "tenant",
            "meta:tenantNamespace": tenant_namespace(p.tenant_id),
            "imsOrg": p.org_id,
            "meta:sandboxId": p.sandbox_id,
            "meta:sandboxType": p.sandbox_type,
        }
    )
    old = (prev or {}).get("meta:registryMetadata") or {}
    now = now_ms()
    meta = {
        "repo:createdDate": old.get("repo:createdDate", now),
        "repo:lastModifiedDate": now,
        "xdm:createdClientId": old.get("xdm:createdClientId", p.client_id),
        "xdm:lastModifiedClientId": p.client_id,
        "xdm:createdUserId": old.get("xdm:createdUserId", p.user),
        "xdm:lastModifiedUserId": p.user,
    }
    meta["eTag"] = body_etag(body)
    body["meta:registryMetadata"] = meta
    return body


def identity_specs(s: Session, scope: Scope, schema_id: str) -> list[tuple[str, str, bool]]:
    """``(sourceProperty, namespace, isPrimary)`` of the schema's identity descriptors."""
    out = []
    for d in DESCRIPTORS.query(s, scope, parent_ids=[schema_id]):
        if d.body.get("@type") == "xdm:descriptorIdentity":
            b = d.body
            out.append((str(b["xdm:sourceProperty"]), str(b["xdm:namespace"]), bool(b.get("xdm:isPrimary"))))
    return out


def _check_schema(s: Session, scope: Scope, body: Json, resources: dict[str, Json]) -> None:
    """Identity descriptors still fit; Profile enablement has an identity to build profiles on."""
    resolved = resolve_body(body, resources)
    ids = identity_specs(s, scope, body["$id"])
    try:
        compile_schema(resolved, identities=ids)
    except ValidationFailedError as exc:
        raise ValidationFailedError(
            f"The change breaks an identity descriptor of the schema: {exc.message}. "
            "Update or delete the descriptor first (/tenant/descriptors)",
            details=exc.details,
        ) from None
    if "union" not in body.get("meta:immutableTags", ()):
        return
    if BEHAVIOR_ADHOC in body.get("meta:extends", ()):
        raise BadRequestError("An ad-hoc schema is dataset-local and cannot be enabled for Profile")
    has_map = "identityMap" in resolved.get("properties", {})
    if not has_map and not any(primary for _, _, primary in ids):
        raise BadRequestError(
            'To enable a schema for Profile (meta:immutableTags ["union"]) it needs a primary identity: '
            "create an xdm:descriptorIdentity with xdm:isPrimary true on a string field "
            "(POST /tenant/descriptors) first, or add the IdentityMap field group"
        )


def _sync_extends(old: Json, new: Json) -> None:
    """Field groups added only to ``meta:extends`` (older PATCH style) are added to ``allOf``."""
    ext = new.get("meta:extends")
    if not isinstance(ext, list) or not isinstance(new.get("allOf", []), list):
        return
    refs = {str(p.get("$ref")) for p in new.get("allOf", ()) if isinstance(p, dict)}
    before = set(old.get("meta:extends", ()))
    extra = [e for e in ext if isinstance(e, str) and e not in before | refs]
    if extra:
        new.setdefault("allOf", [])
        new["allOf"] += [{"$ref": e} for e in extra]


def users_of(tenant: dict[str, Json], rid: str, *, transitive: bool = True) -> list[Json]:
    """Tenant resources that reference ``rid`` (directly, or also through other resources)."""
    texts = {k: json.dumps(v) for k, v in tenant.items() if k != rid}
    found: dict[str, Json] = {}
    todo = [rid]
    while todo:
        target = json.dumps(todo.pop())[1:-1]
        for k, text in texts.items():
            if k not in found and target in text:
                found[k] = tenant[k]
                if transitive:
                    todo.append(k)
    return list(found.values())


def _check_dependents(s: Session, scope: Scope, tenant: dict[str, Json], rid: str, p: Principal) -> None:
    for user in users_of(tenant, rid):
        try:
            if user.get("meta:resourceType") == "schemas":
                compose_schema(copy.deepcopy(user), tenant, p.tenant_id)
                _check_schema(s, scope, user, tenant)
            else:
                resolve_body(user, tenant)
        except ValidationFailedError as exc:
            raise ValidationFailedError(
                f"The change breaks {user.get('meta:resourceType')} '{user.get('title')}' "
                f"({user['$id']}) which uses this resource: {exc.message}",
                details=exc.details,
            ) from None


def _save(s: Session, p: Principal, kind: str, hex_id: str, body: Any, prev: Json | None) -> Json:
    scope = _scope(p)
    body = copy.deepcopy(_check_body(body, kind))
    rid = make_tenant_id(p.tenant_id, kind, hex_id)
    _check_title(s, scope, kind, body["title"].strip(), rid)
    if prev is not None and "union" in prev.get("meta:immutableTags", ()):
        if "union" not in body.get("meta:immutableTags", ()):
            raise BadRequestError(
                'The schema is enabled for Profile; meta:immutableTags ["union"] cannot be removed'
            )
    tenant = {k: d.body for k, d in load_tenant(s, scope).items()}
    old_tenant = dict(tenant)
    body["$id"] = rid
    tenant[rid] = body
    try:
        out = _prepare(kind, body, tenant, p.tenant_id, hex_id)
        final = _finish(out, kind, rid, p, prev)
        tenant[rid] = final
        if kind == "schemas":
            _check_schema(s, scope, final, tenant)
        elif prev is not None:
            _check_dependents(s, scope, tenant, rid, p)
        if prev is not None:
            affected = [final] if kind == "schemas" else users_of(tenant, rid)
            schemas = [b for b in affected if b.get("meta:resourceType") == "schemas"]
            check_evolution(s, scope, schemas, old_tenant, tenant)
    except _SHAPE_ERRORS as exc:
        raise ValidationFailedError(
            f"The {kind} body is malformed ({type(exc).__name__}: {exc}); check the shape of "
            "allOf, definitions and properties",
            details={"errors": [str(exc)]},
        ) from None
    if prev is None:
        title = final["title"].strip()
        key = _title_key(scope, kind, title)
        XDM_RESOURCES.insert(s, scope, hex_id, final, name=title, parent_id=kind, dedupe_key=key)
    else:
        doc = get_doc(s, scope, rid)
        title = final["title"].strip()
        XDM_RESOURCES.save(s, doc, final, name=title, dedupe_key=_title_key(scope, kind, title))
    return final


def create_resource(s: Session, p: Principal, rtype: str, body: Any) -> Json:
    """``POST /tenant/{type}``: the stored resource (raw ``xed`` view, ``version`` "1.0")."""
    kind = kind_of(rtype)
    if isinstance(body, dict):
        for key in ("$id", "meta:altId"):
            body.pop(key, None)
    return _save(s, p, kind, new_hex_id(16), body, None)


def replace_resource(s: Session, p: Principal, rtype: str, rid: str, body: Any) -> Json:
    """``PUT /tenant/{type}/{id}``: the whole resource replaced (same rules as create)."""
    kind = kind_of(rtype)
    doc = get_doc(s, _scope(p), rid, kind)
    return _save(s, p, kind, doc.id, body, doc.body)


def patch_resource(s: Session, p: Principal, rtype: str, rid: str, ops: Any) -> Json:
    """``PATCH /tenant/{type}/{id}``: RFC 6902 ops on the stored body, then recomputed."""
    kind = kind_of(rtype)
    doc = get_doc(s, _scope(p), rid, kind)
    patched = apply_patch(doc.body, ops)
    if not isinstance(patched, dict):
        raise BadRequestError("The patched resource must remain a JSON object")
    if kind == "schemas":
        _sync_extends(doc.body, patched)
    return _save(s, p, kind, doc.id, patched, doc.body)


def delete_resource(s: Session, p: Principal, rtype: str, rid: str) -> None:
    """``DELETE /tenant/{type}/{id}``; refused while a dataset or another resource uses it."""
    scope = _scope(p)
    kind = kind_of(rtype)
    doc = get_doc(s, scope, rid, kind)
    body = doc.body
    rid = body["$id"]
    if kind == "schemas":
        if "union" in body.get("meta:immutableTags", ()):
            raise ConflictError(
                f"Schema {rid} is enabled for Profile (meta:immutableTags union) and cannot be deleted"
            )
        used = datasets_using(s, scope, body)
        if used:
            raise ConflictError(
                f"Schema {rid} is used by dataset(s) {', '.join(used)}; delete the dataset(s) first",
                details={"errors": [f"used by dataset {u}" for u in used]},
            )
    tenant = {k: d.body for k, d in load_tenant(s, scope).items()}
    users = users_of(tenant, rid, transitive=False)
    if users:
        names = [f"{u.get('meta:resourceType')} '{u.get('title')}' ({u['$id']})" for u in users]
        raise ConflictError(
            f"{resource_kind(body)} {rid} is used by {', '.join(names)}; remove it from them first",
            details={"errors": [f"used by {n}" for n in names]},
        )
    for d in DESCRIPTORS.query(s, scope, parent_ids=[rid]):
        DESCRIPTORS.remove(s, d)
    XDM_RESOURCES.remove(s, doc)
