"""Reading resources: lists and lookups in the registry's formats (platform-api.md §2.2).

Formats (the Accept header without ``application/vnd.adobe.`` and ``+json``): ``xed``
(raw, stored shape), ``xed-notext`` (raw without ``title``/``description``), ``xed-full``
(resolved), ``xed-full-notext``, ``xed-full-desc`` (resolved plus the schema's descriptors
under a top-level ``meta:descriptors`` array: our choice, the docs only say "descriptors
included"), ``xed-deprecatefield`` (resolved; deprecated fields keep ``meta:status``);
lists take ``xed-id`` (summaries) or ``xed`` (raw).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from xdmflow.errors import NotAcceptableError
from xdmflow.schema.builtins import global_resource
from xdmflow.schema.resolve import resolve_body
from xdmflow.services.document_stores import DESCRIPTORS, XDM_RESOURCES
from xdmflow.services.schemas.listing import page_list
from xdmflow.services.schemas.repo import Json, find_doc, global_of_kind, kind_of, load_tenant, not_found
from xdmflow.store.documents import Scope

__all__ = [
    "LIST_FORMATS",
    "LOOKUP_FORMATS",
    "summary",
    "render",
    "tenant_resources",
    "list_resources",
    "lookup_resource",
]

LIST_FORMATS = ("xed-id", "xed")
LOOKUP_FORMATS = (
    "xed",
    "xed-notext",
    "xed-full",
    "xed-full-notext",
    "xed-full-desc",
    "xed-deprecatefield",
)
_TEXT = ("title", "description")


def summary(body: Json) -> Json:
    """The ``xed-id`` list entry."""
    return {k: body.get(k) for k in ("$id", "meta:altId", "version", "title")}


def _strip_text(node: Any, top: bool = True) -> Any:
    if isinstance(node, list):
        return [_strip_text(n, False) for n in node]
    if not isinstance(node, dict):
        return node
    out: Json = {}
    for k, v in node.items():
        if k in _TEXT and isinstance(v, str):
            continue
        if k in ("properties", "definitions") and isinstance(v, dict):
            out[k] = {name: _strip_text(sub, False) for name, sub in v.items()}
        elif isinstance(v, dict | list) and k not in ("meta:registryMetadata", "meta:enum"):
            out[k] = _strip_text(v, False)
        else:
            out[k] = v
    return out


def tenant_resources(s: Session, scope: Scope) -> dict[str, Json]:
    """Every tenant resource body of the scope keyed by ``$id`` (for resolution)."""
    return {k: d.body for k, d in load_tenant(s, scope).items()}


def render(s: Session, scope: Scope, body: Json, fmt: str, tenant: dict[str, Json] | None = None) -> Json:
    """One resource in a lookup format (see the module docstring)."""
    if fmt == "xed":
        return copy.deepcopy(body)
    if fmt == "xed-notext":
        out: Json = _strip_text(body)
        return out
    resources = tenant if tenant is not None else tenant_resources(s, scope)
    resolved = resolve_body(body, resources, notext=fmt == "xed-full-notext")
    if fmt == "xed-full-desc":
        descs = DESCRIPTORS.query(s, scope, parent_ids=[body["$id"]])
        resolved["meta:descriptors"] = [d.body for d in descs]
    return resolved


def _bodies(s: Session, scope: Scope, container: str, kind: str) -> list[Json]:
    if container == "global":
        return global_of_kind(kind)
    return [d.body for d in XDM_RESOURCES.query(s, scope, parent_ids=[kind])]


def list_resources(
    s: Session,
    scope: Scope,
    container: str,
    rtype: str,
    fmt: str,
    params: Sequence[tuple[str, str]],
    base_href: str,
) -> Json:
    """``GET /{container}/{type}`` in ``xed-id`` or ``xed`` format, filtered and paged."""
    kind = "behaviors" if rtype == "behaviors" else kind_of(rtype)
    links: Json = {}
    if kind == "schemas" and container == "tenant":
        root = base_href.rsplit("/tenant/", 1)[0]
        links["global_schemas"] = {"href": f"{root}/global/schemas"}
    view = summary if fmt == "xed-id" else copy.deepcopy
    return page_list(_bodies(s, scope, container, kind), params, base_href, view, extra_links=links)


def find_resource(s: Session, scope: Scope, container: str, rtype: str, rid: str) -> Json:
    """The raw body of one resource of the container and type, or XDM-1012-404."""
    kind = "behaviors" if rtype == "behaviors" else kind_of(rtype)
    if container == "global":
        found = global_resource(rid)
        if found is None or found.get("meta:resourceType") != kind:
            raise not_found(rid)
        return found
    doc = find_doc(s, scope, rid, kind)
    if doc is None:
        raise not_found(rid)
    return dict(doc.body)


def lookup_resource(s: Session, scope: Scope, container: str, rtype: str, rid: str, fmt: str) -> Json:
    """``GET /{container}/{type}/{id}`` in one of :data:`LOOKUP_FORMATS`."""
    if fmt not in LOOKUP_FORMATS:
        raise NotAcceptableError(f"Format {fmt} is not available for a lookup", code="1010")
    body = find_resource(s, scope, container, rtype, rid)
    return render(s, scope, body, fmt)
