"""``/tenant/descriptors``: list (``xdm-*`` Accept), create, lookup, replace, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse

from xdmflow.api.deps import CtxDep, PrincipalDep, allow_query, json_body, scope_of
from xdmflow.api.models.schemaregistry import Descriptor
from xdmflow.api.schemaregistry.accept import check_descriptor_lookup, descriptor_list_format
from xdmflow.services.schemas import descriptors as svc
from xdmflow.services.schemas.listing import LIST_PARAMS

router = APIRouter(prefix="/tenant/descriptors", tags=["schemaregistry"])
AcceptHeader = Annotated[str | None, Header(alias="Accept")]


@router.get("", dependencies=[Depends(allow_query(*LIST_PARAMS))])
def list_descriptors(request: Request, p: PrincipalDep, ctx: CtxDep, accept: AcceptHeader = None) -> Any:
    """Descriptors grouped by ``@type`` (or paged with ``xdm-v2``)."""
    fmt = descriptor_list_format(accept)
    href = str(request.url).split("?", 1)[0]
    with ctx.db.session() as s:
        return svc.list_descriptors(s, scope_of(p), fmt, list(request.query_params.multi_items()), href)


@router.post("")
def create_descriptor(
    body: Annotated[Any, json_body(Descriptor)], p: PrincipalDep, ctx: CtxDep
) -> JSONResponse:
    """Create a descriptor: 201 with the stored descriptor."""
    with ctx.db.session() as s:
        out = svc.create_descriptor(s, p, body)
    return JSONResponse(out, 201)


@router.get("/{did}", dependencies=[Depends(allow_query())])
def get_descriptor(did: str, p: PrincipalDep, ctx: CtxDep, accept: AcceptHeader = None) -> dict[str, Any]:
    """One descriptor (no Accept needed; ``xed`` headers are refused)."""
    check_descriptor_lookup(accept)
    with ctx.db.session() as s:
        return svc.get_descriptor(s, scope_of(p), did)


@router.put("/{did}")
def replace_descriptor(
    did: str, body: Annotated[Any, json_body(Descriptor)], p: PrincipalDep, ctx: CtxDep
) -> dict[str, Any]:
    """Replace a descriptor (200 with the stored descriptor)."""
    with ctx.db.session() as s:
        return svc.replace_descriptor(s, p, did, body)


@router.delete("/{did}", status_code=204)
def delete_descriptor(did: str, p: PrincipalDep, ctx: CtxDep) -> Response:
    """Delete a descriptor."""
    with ctx.db.session() as s:
        svc.delete_descriptor(s, p, did)
    return Response(status_code=204)
