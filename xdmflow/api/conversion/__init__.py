"""Data Prep (``/data/foundation/conversion``): mapping sets and the expression language."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from xdmflow.api.deps import CtxDep, PrincipalDep, allow_query, get_principal, json_body, scope_of
from xdmflow.api.limits import run_limited
from xdmflow.api.models.conversion import ExpressionBody, MappingPreview, MappingSetBody
from xdmflow.errors import BadRequestError, NotFoundError
from xdmflow.mapping.function_catalog import functions_catalog, operators_catalog, validate_expression
from xdmflow.services import mappings as svc
from xdmflow.services.schemas import resolved_schema

router = APIRouter(
    prefix="/data/foundation/conversion", tags=["conversion"], dependencies=[Depends(get_principal)]
)


def _int(value: str | None, name: str, default: int) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise BadRequestError(f"'{name}' must be an integer") from None


@router.get(
    "/mappingSets",
    dependencies=[Depends(allow_query("limit", "start", "name", "orderBy", "orderby", "expandSchema"))],
)
def list_mapping_sets(
    p: PrincipalDep,
    ctx: CtxDep,
    limit: str | None = None,
    start: str | None = None,
    name: str | None = None,
    orderBy: str | None = None,
    orderby: str | None = None,  # noqa: N803 - the platform's parameter names
) -> dict[str, Any]:
    lim = _int(limit, "limit", 20)
    if not 1 <= lim <= 100:
        raise BadRequestError("'limit' must be between 1 and 100")
    with ctx.db.session() as s:
        return svc.list_mapping_sets(
            s,
            scope_of(p),
            limit=lim,
            start=max(0, _int(start, "start", 0)),
            name=name,
            order_by=orderBy or orderby,
        )


@router.post("/mappingSets")
def create_mapping_set(
    body: Annotated[Any, json_body(MappingSetBody)], p: PrincipalDep, ctx: CtxDep
) -> JSONResponse:
    with ctx.db.session() as s:
        return JSONResponse(svc.create_mapping_set(s, p, body), 200)


@router.post("/mappingSets/validate")
async def validate_mapping_set(
    request: Request, body: Annotated[Any, json_body(MappingSetBody)], p: PrincipalDep, ctx: CtxDep
) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        with ctx.db.session() as s:
            return svc.validate_mapping_set(s, p, body)

    return await run_limited(request, "mapping validation", work)


@router.post("/mappingSets/preview")
async def preview_mapping_set(
    request: Request, body: Annotated[Any, json_body(MappingPreview)], p: PrincipalDep, ctx: CtxDep
) -> JSONResponse:
    def work() -> JSONResponse:
        with ctx.db.session() as s:
            return JSONResponse(jsonable_encoder(svc.preview_mapping_set(s, p, body)))  # in the thread too

    return await run_limited(request, "mapping preview", work)


@router.get("/mappingSets/{set_id}", dependencies=[Depends(allow_query("version", "expandSchema"))])
def get_mapping_set(
    set_id: str, p: PrincipalDep, ctx: CtxDep, version: str | None = None, expandSchema: bool = False
) -> dict[str, Any]:  # noqa: N803
    with ctx.db.session() as s:
        view = svc.get_mapping_set(s, scope_of(p), set_id, _int(version, "version", -1) if version else None)
        if expandSchema:
            view["outputSchema"]["jsonSchema"] = resolved_schema(s, scope_of(p), view["xdmSchema"])
        return view


@router.put("/mappingSets/{set_id}")
def replace_mapping_set(
    set_id: str, body: Annotated[Any, json_body(MappingSetBody)], p: PrincipalDep, ctx: CtxDep
) -> dict[str, Any]:
    with ctx.db.session() as s:
        return svc.replace_mapping_set(s, p, set_id, body)


@router.get("/mappingSets/{set_id}/mappings")
def list_mappings(set_id: str, p: PrincipalDep, ctx: CtxDep) -> list[dict[str, Any]]:
    with ctx.db.session() as s:
        return list(svc.get_mapping_set(s, scope_of(p), set_id)["mappings"])


@router.get("/mappingSets/{set_id}/mappings/{mapping_id}")
def get_mapping(set_id: str, mapping_id: str, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    with ctx.db.session() as s:
        for m in svc.get_mapping_set(s, scope_of(p), set_id)["mappings"]:
            if m.get("id") == mapping_id:
                return dict(m)
    raise NotFoundError(
        f"Mapping {mapping_id} is not in mapping set {set_id}",
        resource_type="mappings",
        resource_id=mapping_id,
    )


@router.post("/languages/el/validate")
def validate_el(body: Annotated[Any, json_body(ExpressionBody)]) -> JSONResponse:
    expr = body.get("expression") if isinstance(body, dict) else None
    if not isinstance(expr, str):
        raise BadRequestError("'expression' (a string) is required")
    problems = validate_expression(expr)
    if problems:
        return JSONResponse({"valid": False, "errors": problems}, 400)
    return JSONResponse(True, 200)


@router.get("/languages/el/functions")
def el_functions() -> list[dict[str, Any]]:
    return functions_catalog()


@router.get("/languages/el/operators")
def el_operators() -> list[dict[str, Any]]:
    return operators_catalog()
