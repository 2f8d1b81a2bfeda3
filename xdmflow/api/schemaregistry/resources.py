"""``/{global|tenant}/{classes|fieldgroups|mixins|datatypes|schemas}[/{id}]``.

``{id}`` is a URL-encoded ``$id`` or a ``meta:altId``; ``/tenant/schemas/{union id}`` also
answers a union (as the platform does). Only GET is allowed on ``global``
(other methods answer 405 in the XDM envelope).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse

from xdmflow.api.deps import CtxDep, PrincipalDep, allow_query, json_body, scope_of
from xdmflow.api.models import JsonPatch
from xdmflow.api.models.schemaregistry import XdmResource
from xdmflow.api.schemaregistry.accept import list_format, lookup_format
from xdmflow.errors import XdmflowError
from xdmflow.services.schemas import resources as svc
from xdmflow.services.schemas import stats_unions, views
from xdmflow.services.schemas.listing import LIST_PARAMS
from xdmflow.services.schemas.repo import kind_of, not_found

router = APIRouter(tags=["schemaregistry"])
AcceptHeader = Annotated[str | None, Header(alias="Accept")]


def _container(container: str, rtype: str, write: bool = False) -> None:
    if container not in ("global", "tenant"):
        raise not_found(f"/{container}/{rtype}")
    if write and container == "global":
        raise XdmflowError(
            "The global container is read-only: only GET is allowed; create and change resources "
            "under /tenant",
            code="1000",
            status=405,
            title="Method Not Allowed",
        )
    kind_of(rtype)


def _href(request: Request) -> str:
    return str(request.url).split("?", 1)[0]


@router.get("/{container}/{rtype}", dependencies=[Depends(allow_query(*LIST_PARAMS))])
def list_resources(
    container: str, rtype: str, request: Request, p: PrincipalDep, ctx: CtxDep, accept: AcceptHeader = None
) -> dict[str, Any]:
    """List the container's resources of one type (``xed-id`` or ``xed``)."""
    _container(container, rtype)
    fmt = list_format(accept)
    params = list(request.query_params.multi_items())
    with ctx.db.session() as s:
        return views.list_resources(s, scope_of(p), container, rtype, fmt, params, _href(request))


@router.get("/{container}/{rtype}/{rid:path}", dependencies=[Depends(allow_query())])
def lookup_resource(
    container: str, rtype: str, rid: str, p: PrincipalDep, ctx: CtxDep, accept: AcceptHeader = None
) -> dict[str, Any]:
    """One resource in the format of the Accept header (``version=1`` required)."""
    _container(container, rtype)
    fmt = lookup_format(accept, rid)
    with ctx.db.session() as s:
        if container == "tenant" and rtype == "schemas" and rid.endswith(stats_unions.UNION_SUFFIX):
            return stats_unions.lookup_union(s, scope_of(p), rid, fmt)
        return views.lookup_resource(s, scope_of(p), container, rtype, rid, fmt)


@router.post("/{container}/{rtype}")
def create_resource(
    container: str, rtype: str, body: Annotated[Any, json_body(XdmResource)], p: PrincipalDep, ctx: CtxDep
) -> JSONResponse:
    """Create a tenant resource: 201 with the stored (``xed``) resource."""
    _container(container, rtype, write=True)
    with ctx.db.session() as s:
        out = svc.create_resource(s, p, rtype, body)
    return JSONResponse(out, 201)


@router.put("/{container}/{rtype}/{rid:path}")
def replace_resource(
    container: str,
    rtype: str,
    rid: str,
    body: Annotated[Any, json_body(XdmResource)],
    p: PrincipalDep,
    ctx: CtxDep,
) -> dict[str, Any]:
    """Replace a tenant resource (``version`` bumped)."""
    _container(container, rtype, write=True)
    with ctx.db.session() as s:
        return svc.replace_resource(s, p, rtype, rid, body)


@router.patch("/{container}/{rtype}/{rid:path}")
def patch_resource(
    container: str,
    rtype: str,
    rid: str,
    body: Annotated[Any, json_body(JsonPatch)],
    p: PrincipalDep,
    ctx: CtxDep,
) -> dict[str, Any]:
    """Apply a JSON Patch to a tenant resource (``version`` bumped)."""
    _container(container, rtype, write=True)
    with ctx.db.session() as s:
        return svc.patch_resource(s, p, rtype, rid, body)


@router.delete("/{container}/{rtype}/{rid:path}", status_code=204)
def delete_resource(container: str, rtype: str, rid: str, p: PrincipalDep, ctx: CtxDep) -> Response:
    """Delete a tenant resource (refused while something uses it)."""
    _container(container, rtype, write=True)
    with ctx.db.session() as s:
        svc.delete_resource(s, p, rtype, rid)
    return Response(status_code=204)
