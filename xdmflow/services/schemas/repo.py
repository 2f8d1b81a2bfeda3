"""Storage of tenant XDM resources and the lookups built on it.

Tenant classes, field groups, data types and schemas are ``XDM_RESOURCES`` documents of the
caller's org + sandbox: document id = the 32-hex tail of the ``$id``, ``parent_id`` = the
``meta:resourceType`` (``classes|mixins|datatypes|schemas``), ``name`` = the title. Global
resources come from :mod:`xdmflow.schema.builtins` and are read-only.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from sqlalchemy.orm import Session

from xdmflow.errors import NotFoundError
from xdmflow.ids import tenant_id_for_org
from xdmflow.schema.builtins import global_resource, global_resources
from xdmflow.services.document_stores import XDM_RESOURCES
from xdmflow.store.documents import Scope
from xdmflow.store.tables import Document, Org

__all__ = [
    "Json",
    "TYPES",
    "kind_of",
    "tenant_id",
    "hex_of",
    "find_doc",
    "get_doc",
    "load_tenant",
    "find_any",
    "global_of_kind",
    "not_found",
    "body_etag",
]

Json = dict[str, Any]
_HEX = re.compile(r"[0-9a-f]{32,48}")

#: URL resource type -> ``meta:resourceType`` (``fieldgroups`` is the new name of ``mixins``).
TYPES = {
    "classes": "classes",
    "fieldgroups": "mixins",
    "mixins": "mixins",
    "datatypes": "datatypes",
    "schemas": "schemas",
}


def kind_of(rtype: str) -> str:
    """``meta:resourceType`` of a URL resource type (raises 404 for unknown types)."""
    kind = TYPES.get(rtype)
    if kind is None:
        raise NotFoundError(f"Unknown resource type '{rtype}'; use one of {', '.join(TYPES)}", code="1012")
    return kind


def tenant_id(scope: Scope, s: Session | None = None) -> str:
    """The Schema Registry tenant id of the scope's org (``TENANT_ID`` of ``$id``s)."""
    if s is not None:
        org = s.get(Org, scope.org_id)
        if org is not None:
            return org.tenant_id
    return tenant_id_for_org(scope.org_id)


def not_found(rid: str, version: str = "1") -> NotFoundError:
    """The registry's 404 (XDM-1012-404)."""
    return NotFoundError(
        f"Requested resource {rid} with version {version} is not found",
        code="1012",
        title="Resource Not Found",
        resource_id=rid,
    )


def hex_of(id_or_alt: str) -> str:
    """The hex tail of a tenant ``$id`` (``.../schemas/<hex>``) or altId (``_t.schemas.<hex>``)."""
    tail = id_or_alt.rstrip("/").rsplit("/", 1)[-1]
    return tail.rsplit(".", 1)[-1].lower()


def _matches(body: Json, id_or_alt: str) -> bool:
    return id_or_alt in (body.get("$id"), body.get("meta:altId"))


def find_doc(s: Session, scope: Scope, id_or_alt: str, kind: str | None = None) -> Document | None:
    """The tenant document whose ``$id`` or altId is ``id_or_alt`` (of ``kind`` when given)."""
    hex_id = hex_of(id_or_alt)
    if not _HEX.fullmatch(hex_id):
        return None
    doc = XDM_RESOURCES.find(s, scope, hex_id)
    if doc is None or not _matches(doc.body, id_or_alt):
        return None
    if kind is not None and doc.parent_id != kind:
        return None
    return doc


def get_doc(s: Session, scope: Scope, id_or_alt: str, kind: str | None = None) -> Document:
    """Like :func:`find_doc` but raises XDM-1012-404."""
    doc = find_doc(s, scope, id_or_alt, kind)
    if doc is None:
        raise not_found(id_or_alt)
    return doc


def load_tenant(s: Session, scope: Scope) -> dict[str, Document]:
    """Every tenant resource of the scope keyed by ``$id``."""
    return {d.body["$id"]: d for d in XDM_RESOURCES.query(s, scope)}


def find_any(s: Session, scope: Scope, id_or_alt: str) -> Json | None:
    """A tenant or global resource body by ``$id``/altId, ``None`` when unknown."""
    doc = find_doc(s, scope, id_or_alt)
    if doc is not None:
        return dict(doc.body)
    return global_resource(id_or_alt)


def global_of_kind(kind: str) -> list[Json]:
    """Global resources of one ``meta:resourceType`` (``behaviors`` included)."""
    return [r for r in global_resources().values() if r.get("meta:resourceType") == kind]


def body_etag(body: Json) -> str:
    """A content hash (64 hex) of a resource body, registry-metadata excluded."""
    clean = {k: v for k, v in body.items() if k != "meta:registryMetadata"}
    return hashlib.sha256(json.dumps(clean, sort_keys=True, default=str).encode()).hexdigest()
