"""Sandbox management (``/data/foundation/sandbox-management``), minimal fields of openapi/sandbox.yaml."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from xdmflow.api.deps import CtxDep, PrincipalDep, allow_query, json_body
from xdmflow.api.models.sandbox import SandboxCreate, SandboxReset
from xdmflow.services import identity, sandboxes

router = APIRouter(prefix="/data/foundation/sandbox-management", tags=["sandboxes"])


@router.get("/sandboxes", dependencies=[Depends(allow_query("limit", "offset", "property", "orderBy"))])
def list_sandboxes(p: PrincipalDep, ctx: CtxDep, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    with ctx.db.session() as s:
        rows = identity.list_sandboxes(s, p.org_id)
        items = [identity.sandbox_view(sb) for sb in rows]
    limit = max(1, min(limit, 100))
    page = items[offset : offset + limit]
    out: dict[str, Any] = {"sandboxes": page, "_page": {"limit": limit, "count": len(page)}, "_links": {}}
    if offset + limit < len(items):
        out["_links"]["next"] = {
            "href": f"/data/foundation/sandbox-management/sandboxes?limit={limit}&offset={offset + limit}"
        }
    return out


@router.get("/sandboxes/{name}")
def get_sandbox(name: str, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    with ctx.db.session() as s:
        return identity.sandbox_view(identity.get_sandbox(s, p.org_id, name))


@router.post("/sandboxes")
def create_sandbox(
    body: Annotated[Any, json_body(SandboxCreate)], p: PrincipalDep, ctx: CtxDep
) -> JSONResponse:
    return JSONResponse(sandboxes.create_sandbox(ctx, p, body), status_code=202)


@router.put("/sandboxes/{name}")
def reset_sandbox(
    name: str, body: Annotated[Any, json_body(SandboxReset)], p: PrincipalDep, ctx: CtxDep
) -> JSONResponse:
    return JSONResponse(sandboxes.reset_sandbox(ctx, p, name, body), status_code=202)


@router.delete("/sandboxes/{name}")
def delete_sandbox(name: str, p: PrincipalDep, ctx: CtxDep) -> JSONResponse:
    return JSONResponse(sandboxes.delete_sandbox(ctx, p, name), status_code=202)
