"""Catalog Service routes (``/data/foundation/catalog``): datasets, batches, dataset files."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from xdmflow.api.deps import CtxDep, PrincipalDep, allow_query, json_body, scope_of
from xdmflow.api.models.catalog import DatasetCreate, DatasetPatch, DatasetReplace
from xdmflow.services import catalog as svc

__all__ = ["router"]

PREFIX = "/data/foundation/catalog"
router = APIRouter(prefix=PREFIX, tags=["catalog"])
IfMatch = Annotated[str | None, Header(alias="If-Match")]


def _params(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


def _ref(dataset_id: str) -> list[str]:
    return [f"@/dataSets/{dataset_id}"]


@router.post("/dataSets", status_code=201, dependencies=[Depends(allow_query("requestDataSource"))])
def create_dataset(
    request: Request, body: Annotated[Any, json_body(DatasetCreate)], p: PrincipalDep, ctx: CtxDep
) -> JSONResponse:
    """Create a dataset (and its table): 201 ``["@/dataSets/{id}"]`` with a Location."""
    flag = request.query_params.get("requestDataSource", "false").lower() == "true"
    ds_id = svc.create_dataset(ctx.db, ctx.lake, p, body, request_data_source=flag)
    return JSONResponse(_ref(ds_id), 201, headers={"Location": f"{PREFIX}/dataSets/{ds_id}"})


@router.get("/dataSets")
def list_datasets(request: Request, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    """``GET /dataSets``: keyed, with paging, ordering, projection and filters."""
    with ctx.db.session() as s:
        return svc.list_datasets(s, scope_of(p), _params(request))


@router.get("/dataSets/{dataset_id}")
def get_dataset(dataset_id: str, request: Request, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    """``GET /dataSets/{id}``: ``{"<id>": {...}}``."""
    with ctx.db.session() as s:
        return svc.get_dataset(s, scope_of(p), dataset_id, _params(request))


@router.put("/dataSets/{dataset_id}", dependencies=[Depends(allow_query())])
def replace_dataset(
    dataset_id: str,
    body: Annotated[Any, json_body(DatasetReplace)],
    p: PrincipalDep,
    ctx: CtxDep,
    if_match: IfMatch = None,
) -> list[str]:
    """``PUT /dataSets/{id}``: replace the editable fields (``If-Match`` optional)."""
    with ctx.db.session() as s:
        svc.update_dataset(s, p, dataset_id, body, mode="replace", if_match=if_match)
    return _ref(dataset_id)


@router.patch("/dataSets/{dataset_id}", dependencies=[Depends(allow_query())])
def patch_dataset(
    dataset_id: str,
    request: Request,
    body: Annotated[Any, json_body(DatasetPatch)],
    p: PrincipalDep,
    ctx: CtxDep,
    if_match: IfMatch = None,
) -> list[str]:
    """``PATCH /dataSets/{id}``: partial object, or JSON Patch (``application/json-patch+json``)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    mode = "patch" if ctype == "application/json-patch+json" or isinstance(body, list) else "merge"
    with ctx.db.session() as s:
        svc.update_dataset(s, p, dataset_id, body, mode=mode, if_match=if_match)
    return _ref(dataset_id)


@router.delete("/dataSets/{dataset_id}", dependencies=[Depends(allow_query())])
def delete_dataset(dataset_id: str, p: PrincipalDep, ctx: CtxDep) -> list[str]:
    """``DELETE /dataSets/{id}``: the dataset, its table and its data."""
    svc.delete_dataset(ctx.db, ctx.lake, p, dataset_id, ctx.diagnostics)
    return _ref(dataset_id)


@router.get("/batches")
def list_batches(request: Request, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    """``GET /batches``: keyed, with the Catalog batch filters."""
    with ctx.db.session() as s:
        return svc.list_batches(s, scope_of(p), _params(request))


@router.get("/batches/{batch_id}")
def get_batch(batch_id: str, request: Request, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    """``GET /batches/{id}``: keyed."""
    with ctx.db.session() as s:
        return svc.get_batch(s, scope_of(p), batch_id, _params(request))


@router.get("/dataSetFiles")
def list_dataset_files(request: Request, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    """``GET /dataSetFiles[?dataSetId=|batchId=]``: committed data files, keyed."""
    with ctx.db.session() as s:
        return svc.list_dataset_files(s, scope_of(p), _params(request))


@router.get("/dataSetFiles/{file_id}")
def get_dataset_file(file_id: str, request: Request, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    """``GET /dataSetFiles/{id}``: keyed."""
    with ctx.db.session() as s:
        return svc.get_dataset_file(s, scope_of(p), file_id, _params(request))


@router.get("/lastBatches")
def last_batches(request: Request, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    """``GET /lastBatches?dataSetId=a,b``: keyed by dataset id."""
    with ctx.db.session() as s:
        return svc.last_batches(s, scope_of(p), _params(request))
