"""``GET /stats`` and the class unions of Profile-enabled schemas (platform-api.md §2.1, §2.7).

A union exists for every class that has at least one schema tagged
``meta:immutableTags: ["union"]``: ``$id`` = class ``$id`` + ``__union``, ``allOf`` = the
class plus every field group of those schemas, ``meta:extends`` their union. The system
fields the platform adds to unions (``identityMap``, ``timeSeriesEvents``,
``segmentMembership``) are not added.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from xdmflow.schema.naming import alt_id
from xdmflow.schema.resolve import make_lookup, resolve_body
from xdmflow.services.document_stores import XDM_RESOURCES
from xdmflow.services.schemas.listing import page_list
from xdmflow.services.schemas.repo import Json, not_found
from xdmflow.services.schemas.views import summary, tenant_resources
from xdmflow.store.documents import Scope

__all__ = ["stats", "unions", "list_unions", "lookup_union"]

UNION_SUFFIX = "__union"


def stats(s: Session, scope: Scope, tenant_id: str) -> Json:
    """Counts of tenant resources, recent changes and the schemas of each class."""
    docs = XDM_RESOURCES.query(s, scope)
    counts = dict.fromkeys(("schemas", "mixins", "datatypes", "classes"), 0)
    usage: dict[str, list[Json]] = {}
    for d in docs:
        counts[str(d.parent_id)] = counts.get(str(d.parent_id), 0) + 1
        if d.parent_id == "schemas":
            usage.setdefault(str(d.body.get("meta:class")), []).append(
                {k: d.body.get(k) for k in ("$id", "meta:altId", "title", "description")}
            )

    def recent(key: Any) -> list[Json]:
        return [
            {**summary(d.body), "meta:resourceType": d.parent_id}
            for d in sorted(docs, key=key, reverse=True)[:5]
        ]

    counts["unions"] = len(unions(s, scope))
    return {
        "imsOrg": scope.org_id,
        "tenantId": tenant_id,
        "counts": counts,
        "recentlyCreatedResources": recent(lambda d: (d.created_at, d.pk)),
        "recentlyUpdatedResources": recent(lambda d: (d.updated_at, d.pk)),
        "classUsage": usage,
    }


def unions(s: Session, scope: Scope) -> dict[str, Json]:
    """The union bodies (raw, ``xed``) keyed by union ``$id``."""
    tenant = tenant_resources(s, scope)
    lookup = make_lookup(tenant)
    members: dict[str, list[Json]] = {}
    for body in tenant.values():
        if body.get("meta:resourceType") == "schemas" and "union" in body.get("meta:immutableTags", ()):
            members.setdefault(str(body["meta:class"]), []).append(body)
    out: dict[str, Json] = {}
    for cls_id, schemas in sorted(members.items()):
        cls = lookup(cls_id) or {}
        uid = cls_id + UNION_SUFFIX
        refs: list[str] = [cls_id]
        extends: list[str] = []
        for sch in schemas:
            refs += [r for r in sch.get("refs", ()) if r not in refs]
            extends += [e for e in sch.get("meta:extends", ()) if e not in extends]
        minor = sum(int(str(sch.get("version", "1.0")).split(".")[-1] or 0) for sch in schemas)
        out[uid] = {
            "$id": uid,
            "meta:altId": alt_id(uid),
            "meta:resourceType": "unions",
            "version": f"1.{minor + len(schemas) - 1}",
            "title": cls.get("title", cls_id),
            "description": f"Union of the Profile-enabled schemas of {cls.get('title', cls_id)}",
            "type": "object",
            "meta:class": cls_id,
            "allOf": [{"$ref": r, "type": "object", "meta:xdmType": "object"} for r in refs],
            "meta:extends": extends,
            "meta:containerId": "tenant",
            "meta:xdmType": "object",
            "meta:unionSchemas": [sch["$id"] for sch in schemas],
        }
    return out


def list_unions(s: Session, scope: Scope, fmt: str, params: Sequence[tuple[str, str]], href: str) -> Json:
    """``GET /tenant/unions``."""
    view = summary if fmt == "xed-id" else (lambda b: b)
    return page_list(list(unions(s, scope).values()), params, href, view)


def lookup_union(s: Session, scope: Scope, uid: str, fmt: str) -> Json:
    """``GET /tenant/unions/{id}`` (``$id`` or altId)."""
    found = next((u for u in unions(s, scope).values() if uid in (u["$id"], u["meta:altId"])), None)
    if found is None:
        raise not_found(uid)
    if fmt in ("xed", "xed-notext"):
        return found
    return resolve_body(found, tenant_resources(s, scope), notext=fmt == "xed-full-notext")
