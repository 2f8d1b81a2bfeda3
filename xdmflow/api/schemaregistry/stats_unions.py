"""``/stats``, ``/global/behaviors``, ``/tenant/unions`` and the identity namespace list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request

from xdmflow.api.deps import CtxDep, PrincipalDep, allow_query, scope_of
from xdmflow.api.schemaregistry.accept import list_format, lookup_format
from xdmflow.services.schemas import stats_unions, views
from xdmflow.services.schemas.listing import LIST_PARAMS
from xdmflow.services.schemas.namespaces import list_namespaces

router = APIRouter(tags=["schemaregistry"])
#: Mounted at ``/data/foundation/identity`` (a read-only list of the namespaces descriptors accept).
identity_router = APIRouter(tags=["identity"])
AcceptHeader = Annotated[str | None, Header(alias="Accept")]


def _href(request: Request) -> str:
    return str(request.url).split("?", 1)[0]


@router.get("/stats", dependencies=[Depends(allow_query())])
def stats(p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    """Counts, recent resources and class usage of the tenant container (no Accept needed)."""
    with ctx.db.session() as s:
        return stats_unions.stats(s, scope_of(p), p.tenant_id)


@router.get("/global/behaviors", dependencies=[Depends(allow_query(*LIST_PARAMS))])
def list_behaviors(
    request: Request, p: PrincipalDep, ctx: CtxDep, accept: AcceptHeader = None
) -> dict[str, Any]:
    """The three behaviors (record, time-series, adhoc)."""
    fmt = list_format(accept)
    with ctx.db.session() as s:
        params = list(request.query_params.multi_items())
        return views.list_resources(s, scope_of(p), "global", "behaviors", fmt, params, _href(request))


@router.get("/global/behaviors/{rid:path}", dependencies=[Depends(allow_query())])
def get_behavior(rid: str, p: PrincipalDep, ctx: CtxDep, accept: AcceptHeader = None) -> dict[str, Any]:
    """One behavior."""
    fmt = lookup_format(accept, rid)
    with ctx.db.session() as s:
        return views.lookup_resource(s, scope_of(p), "global", "behaviors", rid, fmt)


@router.get("/tenant/unions", dependencies=[Depends(allow_query(*LIST_PARAMS))])
def list_unions(
    request: Request, p: PrincipalDep, ctx: CtxDep, accept: AcceptHeader = None
) -> dict[str, Any]:
    """The class unions of Profile-enabled schemas."""
    fmt = list_format(accept)
    with ctx.db.session() as s:
        params = list(request.query_params.multi_items())
        return stats_unions.list_unions(s, scope_of(p), fmt, params, _href(request))


@router.get("/tenant/unions/{uid:path}", dependencies=[Depends(allow_query())])
def get_union(uid: str, p: PrincipalDep, ctx: CtxDep, accept: AcceptHeader = None) -> dict[str, Any]:
    """One union (``$id`` or altId), e.g. ``_xdm.context.profile__union``."""
    fmt = lookup_format(accept, uid)
    with ctx.db.session() as s:
        return stats_unions.lookup_union(s, scope_of(p), uid, fmt)


@identity_router.get("/idnamespace/namespaces", dependencies=[Depends(allow_query())])
def namespaces(p: PrincipalDep, ctx: CtxDep) -> list[dict[str, Any]]:
    """Standard identity namespaces plus custom codes used by descriptors of the sandbox."""
    with ctx.db.session() as s:
        return list_namespaces(s, scope_of(p))
