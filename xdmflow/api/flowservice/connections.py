"""``/connections``: base connections, their test and explore."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse

from xdmflow.api.deps import CtxDep, PrincipalDep, allow_query, json_body, scope_of
from xdmflow.api.models import JsonPatch
from xdmflow.api.models.flowservice import ConnectionCreate
from xdmflow.services import connections as svc
from xdmflow.services.document_stores import CONNECTIONS
from xdmflow.services.resource_docs import LIST_PARAMS, items, list_documents, require_if_match

router = APIRouter(prefix="/connections", tags=["connections"])
BASE = "/data/foundation/flowservice/connections"


@router.get("", dependencies=[Depends(allow_query(*LIST_PARAMS, code="1451"))])
def list_connections(request: Request, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    with ctx.db.session() as s:
        return list_documents(s, scope_of(p), CONNECTIONS, list(request.query_params.multi_items()), BASE)


@router.post("", status_code=201)
def create_connection(
    body: Annotated[Any, json_body(ConnectionCreate)], p: PrincipalDep, ctx: CtxDep
) -> JSONResponse:
    with ctx.db.session() as s:
        out = svc.create_connection(s, p, ctx.keys, body, ctx.policy)
    return JSONResponse(out, 201, headers={"Location": f"{BASE}/{out['id']}"})


@router.get("/{conn_id}", dependencies=[Depends(allow_query(code="1451"))])
def get_connection(conn_id: str, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    with ctx.db.session() as s:
        return items(svc.connection_view(CONNECTIONS.get(s, scope_of(p), conn_id)))


@router.patch("/{conn_id}")
def patch_connection(
    conn_id: str,
    body: Annotated[Any, json_body(JsonPatch)],
    p: PrincipalDep,
    ctx: CtxDep,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> dict[str, Any]:
    tag = require_if_match(if_match)
    with ctx.db.session() as s:
        return svc.patch_connection(s, p, ctx.keys, conn_id, body, tag, ctx.policy)


@router.delete("/{conn_id}", status_code=204)
def delete_connection(conn_id: str, p: PrincipalDep, ctx: CtxDep) -> Response:
    with ctx.db.session() as s:
        svc.delete_connection(s, p, conn_id)
    return Response(status_code=204)


@router.get("/{conn_id}/test")
def test_connection(conn_id: str, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    with ctx.db.session() as s:
        return svc.test_connection(s, p, ctx.keys, conn_id, ctx.policy)


@router.get("/{conn_id}/explore")
def explore(conn_id: str, request: Request, p: PrincipalDep, ctx: CtxDep) -> Any:
    with ctx.db.session() as s:
        return svc.explore(s, p, ctx.keys, conn_id, dict(request.query_params), ctx.policy)
